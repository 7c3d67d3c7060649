#!/usr/bin/env python3
# RabbitMQ tutorial 3 "Publish/Subscribe" (pika 1.x) - receive_logs.py.
# Changes from the tutorial: argv[1] is the broker URL; the server-named queue
# is printed once so the test can see it is server-named.
import sys
import pika

connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
channel = connection.channel()

channel.exchange_declare(exchange='logs', exchange_type='fanout')

result = channel.queue_declare(queue='', exclusive=True)
queue_name = result.method.queue
print(' [q] %s' % queue_name)

channel.queue_bind(exchange='logs', queue=queue_name)

print(' [*] Waiting for logs. To exit press CTRL+C')


def callback(ch, method, properties, body):
    print(" [x] %r" % body)


channel.basic_consume(queue=queue_name, on_message_callback=callback, auto_ack=True)

channel.start_consuming()
