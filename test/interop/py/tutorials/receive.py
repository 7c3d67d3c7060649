#!/usr/bin/env python3
# RabbitMQ tutorial 1 "Hello World!" (pika 1.x) - receive.py.
# Only change from the tutorial: the broker URL comes from argv[1] instead of 'localhost'.
import sys
import pika


def main():
    connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
    channel = connection.channel()

    channel.queue_declare(queue='hello')

    def callback(ch, method, properties, body):
        print(" [x] Received %r" % body)

    channel.basic_consume(queue='hello', on_message_callback=callback, auto_ack=True)

    print(' [*] Waiting for messages. To exit press CTRL+C')
    channel.start_consuming()


if __name__ == '__main__':
    main()
