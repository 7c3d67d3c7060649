# Seed 001 (001_b23367ea2c8bc9c8.txt) "RPC" client, pika 1.x; URL in argv[1].
# Keeps the seed's busy loop on the non-blocking process_data_events().
import sys
import pika
import uuid


class FibonacciRpcClient(object):
    def __init__(self):
        self.connection = pika.BlockingConnection(
            pika.URLParameters(sys.argv[1]))
        self.channel = self.connection.channel()
        result = self.channel.queue_declare(queue='', exclusive=True)
        self.callback_queue = result.method.queue
        self.channel.basic_consume(queue=self.callback_queue,
                                   on_message_callback=self.on_response,
                                   auto_ack=True)

    def on_response(self, ch, method, props, body):
        if self.corr_id == props.correlation_id:
            self.response = body

    def call(self, n):
        self.response = None  # 存放收到的计算结果
        self.corr_id = str(uuid.uuid4())  # 生成一个id随消息一同发出
        self.channel.basic_publish(exchange='',
                                   routing_key='rpc_queue',
                                   properties=pika.BasicProperties(
                                         reply_to=self.callback_queue,
                                         correlation_id=self.corr_id,
                                         ),
                                   body=str(n))
        while self.response is None:
            self.connection.process_data_events()  # 非阻塞
        return int(self.response)


if __name__ == '__main__':
    fibonacci_rpc = FibonacciRpcClient()  # 生成一个实例
    print(" [x] Requesting fib(30)")
    response = fibonacci_rpc.call(30)  # 调用call方法,就是把消息发出去
    print(" [.] Got %r" % response)
