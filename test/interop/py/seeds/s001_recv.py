# Seed 001 (001_b23367ea2c8bc9c8.txt) "简单的队列通信" recv end, pika 1.x; URL in argv[1].
import sys
import pika
connection = pika.BlockingConnection(
    pika.URLParameters(sys.argv[1]))
channel = connection.channel()
channel.queue_declare(queue='hello')


def callback(ch, method, properties, body):
    print(ch)  # 管道,就是channel
    print(method)  # 一般不用,不过能看到send端的basic_publish里的信息
    print(properties)  # 暂时不知道,后面会讲
    print("Recv: %r" % body)  # 注意,收到的是bytes格式


channel.basic_consume(queue='hello',
                      on_message_callback=callback,
                      auto_ack=True)
print('等待接收消息,按 CTRL+C 退出')
channel.start_consuming()
