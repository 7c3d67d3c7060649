#!/usr/bin/env python3
# RabbitMQ tutorial 1 "Hello World!" (pika 1.x) - send.py.
# Only change from the tutorial: the broker URL comes from argv[1] instead of 'localhost'.
import sys
import pika

connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
channel = connection.channel()

channel.queue_declare(queue='hello')

channel.basic_publish(exchange='', routing_key='hello', body='Hello World!')
print(" [x] Sent 'Hello World!'")
connection.close()
