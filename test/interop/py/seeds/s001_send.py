# Seed 001 (001_b23367ea2c8bc9c8.txt) "简单的队列通信" send end, pika 1.x; URL in argv[1].
import sys
import pika
connection = pika.BlockingConnection(
    pika.URLParameters(sys.argv[1]))  # 建立连接
channel = connection.channel()  # 声明一个管道
channel.queue_declare(queue='hello')  # 声明一个队列
channel.basic_publish(exchange='',
                      routing_key='hello',
                      body='Hello World!')
print("Send: 'Hello World!'")  # 本地打印一下
connection.close()
