# Seed 004 (004_6adb58b719184984.txt) first producer: queue 'hello', pika 1.x; URL in argv[1].
import sys
import pika
connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
channel = connection.channel()  # 通道
channel.queue_declare(queue='hello')  # 生成队列,名为hello
channel.basic_publish(exchange='', routing_key='hello', body='Hello World!')  # 往队列中插入的数据内容
print(" [x] Sent 'Hello World!'")
connection.close()
