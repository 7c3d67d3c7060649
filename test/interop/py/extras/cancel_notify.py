#!/usr/bin/env python3
# Consumer cancel notification (https://www.rabbitmq.com/consumer-cancel.html)
# seen from pika: consume a queue, and when the queue is deleted by someone
# else the broker sends basic.cancel; pika calls the on_cancel callback and,
# with no consumer left, start_consuming() returns.
# argv: URL QUEUE
import sys
import pika

connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
channel = connection.channel()
queue = sys.argv[2]
channel.queue_declare(queue=queue)


def on_message(ch, method, properties, body):
    print(" [x] Received %r" % body)


def on_cancel(method_frame):
    print(" [c] cancelled by broker: %s" % method_frame.method.consumer_tag)


channel.add_on_cancel_callback(on_cancel)
tag = channel.basic_consume(queue=queue, on_message_callback=on_message, auto_ack=True)
print(" [t] consumer tag: %s" % tag)
print(' [*] Waiting for messages')
channel.start_consuming()
print(" [e] start_consuming returned; channel open: %s" % channel.is_open)
connection.close()
