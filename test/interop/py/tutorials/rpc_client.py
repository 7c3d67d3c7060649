#!/usr/bin/env python3
# RabbitMQ tutorial 6 "RPC" (pika 1.x) - rpc_client.py.
# Changes from the tutorial: argv[1] is the broker URL; argv[2] (default 30) is n.
import sys
import uuid
import pika


class FibonacciRpcClient(object):

    def __init__(self):
        self.connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))

        self.channel = self.connection.channel()

        result = self.channel.queue_declare(queue='', exclusive=True)
        self.callback_queue = result.method.queue

        self.channel.basic_consume(
            queue=self.callback_queue,
            on_message_callback=self.on_response,
            auto_ack=True)

        self.response = None
        self.corr_id = None

    def on_response(self, ch, method, props, body):
        if self.corr_id == props.correlation_id:
            self.response = body

    def call(self, n):
        self.response = None
        self.corr_id = str(uuid.uuid4())
        self.channel.basic_publish(
            exchange='',
            routing_key='rpc_queue',
            properties=pika.BasicProperties(
                reply_to=self.callback_queue,
                correlation_id=self.corr_id,
            ),
            body=str(n))
        while self.response is None:
            self.connection.process_data_events(time_limit=None)
        return int(self.response)


fibonacci_rpc = FibonacciRpcClient()

n = int(sys.argv[2]) if len(sys.argv) > 2 else 30
print(" [x] Requesting fib(%d)" % n)
response = fibonacci_rpc.call(n)
print(" [.] Got %r" % response)
