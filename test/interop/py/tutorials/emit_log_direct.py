#!/usr/bin/env python3
# RabbitMQ tutorial 4 "Routing" (pika 1.x) - emit_log_direct.py.
# Change from the tutorial: argv[1] is the broker URL; severity and message follow.
import sys
import pika

connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
channel = connection.channel()

channel.exchange_declare(exchange='direct_logs', exchange_type='direct')

severity = sys.argv[2] if len(sys.argv) > 2 else 'info'
message = ' '.join(sys.argv[3:]) or 'Hello World!'
channel.basic_publish(exchange='direct_logs', routing_key=severity, body=message)
print(" [x] Sent %r:%r" % (severity, message))
connection.close()
