# Seed 001 (001_b23367ea2c8bc9c8.txt) "消息持久化" send end, pika 1.x; URL in argv[1].
import sys
import pika
connection = pika.BlockingConnection(
    pika.URLParameters(sys.argv[1]))
channel = connection.channel()
channel.queue_declare(queue='hello2', durable=True)  # 声明一个持久化的队列
channel.basic_publish(exchange='',
                      routing_key='hello2',
                      body='Hello2 World!',
                      properties=pika.BasicProperties(delivery_mode=2)
                      )  # 声明这条消息也是要持久化的
print("Send: 'Hello World!'")
connection.close()
