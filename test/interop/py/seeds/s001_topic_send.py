# Seed 001 (001_b23367ea2c8bc9c8.txt) "更细致的消息过滤" send end, pika 1.x; URL in
# argv[1]; the seed edits routing_key by hand, here argv[2] may replace it.
import sys
import pika


def send(routing_key):
    connection = pika.BlockingConnection(
        pika.URLParameters(sys.argv[1]))
    channel = connection.channel()
    channel.exchange_declare(exchange='topic_logs',
                             exchange_type='topic')  # 只是类型变了
    msg = "%s: %s" % (routing_key, 'Hello World!')
    channel.basic_publish(exchange='topic_logs',
                          routing_key=routing_key,
                          body=msg)
    print("Send: %s" % msg)
    connection.close()


if __name__ == '__main__':
    routing_key = 'anonymous.info'  # 修改你的routing_key
    if len(sys.argv) > 2:
        routing_key = sys.argv[2]
    send(routing_key)
