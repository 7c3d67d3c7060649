#!/usr/bin/env python3
# RabbitMQ tutorial 3 "Publish/Subscribe" (pika 1.x) - emit_log.py.
# Change from the tutorial: argv[1] is the broker URL; the message is argv[2:].
import sys
import pika

connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
channel = connection.channel()

channel.exchange_declare(exchange='logs', exchange_type='fanout')

message = ' '.join(sys.argv[2:]) or "info: Hello World!"
channel.basic_publish(exchange='logs', routing_key='', body=message)
print(" [x] Sent %r" % message)
connection.close()
