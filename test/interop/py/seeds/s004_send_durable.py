# Seed 004 (004_6adb58b719184984.txt) "RabbitMQ服务器异常策略" producer: declares
# 'hello' durable and publishes persistently. pika 1.x; URL in argv[1].
import sys
import pika
connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
channel = connection.channel()
# make message persistent
channel.queue_declare(queue='hello', durable=True)
channel.basic_publish(exchange='', routing_key='hello', body='Hello World!',
                      properties=pika.BasicProperties(
                          delivery_mode=2,  # make message persistent
                      ))
print(" [x] Sent 'Hello World!'")
connection.close()
