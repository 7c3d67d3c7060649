#!/usr/bin/env python3
# RabbitMQ tutorial 2 "Work queues" (pika 1.x) - worker.py.
# Changes from the tutorial: argv[1] is the broker URL; each '.' of a task
# sleeps DOT_SECONDS (env, default 1 as in the tutorial) so tests run fast.
import os
import sys
import time
import pika

DOT_SECONDS = float(os.environ.get('DOT_SECONDS', '1'))

connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
channel = connection.channel()

channel.queue_declare(queue='task_queue', durable=True)
print(' [*] Waiting for messages. To exit press CTRL+C')


def callback(ch, method, properties, body):
    print(" [x] Received %r" % body.decode())
    time.sleep(body.count(b'.') * DOT_SECONDS)
    print(" [x] Done")
    ch.basic_ack(delivery_tag=method.delivery_tag)


channel.basic_qos(prefetch_count=1)
channel.basic_consume(queue='task_queue', on_message_callback=callback)

channel.start_consuming()
