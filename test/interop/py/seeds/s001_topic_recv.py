# Seed 001 (001_b23367ea2c8bc9c8.txt) "更细致的消息过滤" recv end, pika 1.x; URL in
# argv[1]; the seed edits binding_key by hand, here argv[2] may replace it.
import sys
import pika


def recv(binding_key):
    connection = pika.BlockingConnection(
        pika.URLParameters(sys.argv[1]))
    channel = connection.channel()
    channel.exchange_declare(exchange='topic_logs',
                             exchange_type='topic')
    result = channel.queue_declare(queue='', exclusive=True)
    queue_name = result.method.queue
    channel.queue_bind(exchange='topic_logs',
                       queue=queue_name,
                       routing_key=binding_key)

    def callback(ch, method, properties, body):
        print("Recv: %r" % body)
    channel.basic_consume(queue=queue_name,
                          on_message_callback=callback,
                          auto_ack=True)
    print('等待接收消息,按 CTRL+C 退出')
    channel.start_consuming()


if __name__ == '__main__':
    binding_key = '*.info'  # # 修改你的binding_key以匹配routing_key
    if len(sys.argv) > 2:
        binding_key = sys.argv[2]
    recv(binding_key)
