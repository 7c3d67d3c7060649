#!/usr/bin/env python3
# RabbitMQ tutorial 5 "Topics" (pika 1.x) - emit_log_topic.py.
# Change from the tutorial: argv[1] is the broker URL; routing key and message follow.
import sys
import pika

connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
channel = connection.channel()

channel.exchange_declare(exchange='topic_logs', exchange_type='topic')

routing_key = sys.argv[2] if len(sys.argv) > 2 else 'anonymous.info'
message = ' '.join(sys.argv[3:]) or 'Hello World!'
channel.basic_publish(exchange='topic_logs', routing_key=routing_key, body=message)
print(" [x] Sent %r:%r" % (routing_key, message))
connection.close()
