# Seed 002 (002_4cddecd933ec952c.txt) "实现最简单的队列通信" sender, pika 1.x:
# PlainCredentials + host -> the URL in argv[1] (which carries the credentials).
import sys
import pika
connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
channel = connection.channel()  # 建立了rabbitmq的协议通道
channel.queue_declare(queue='hello')
channel.basic_publish(exchange='',
                      routing_key='hello',
                      body='Hello World!')  # routing_key设置为队列的名称,body就是发送的内容
print(" [x] Sent 'Hello World!'")
connection.close()
