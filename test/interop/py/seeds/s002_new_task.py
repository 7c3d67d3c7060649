# Seed 002 (002_4cddecd933ec952c.txt) "带消息持久化+公平分发的完整代码" 生产者端,
# pika 1.x; URL in argv[1]; message in argv[2:].
import sys
import pika
connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
channel = connection.channel()
channel.queue_declare(queue='task_queue', durable=True)
message = ' '.join(sys.argv[2:]) or "Hello World!"
channel.basic_publish(exchange='',
                      routing_key='task_queue',
                      body=message,
                      properties=pika.BasicProperties(
                         delivery_mode=2,  # make message persistent
                      ))
print(" [x] Sent %r" % message)
connection.close()
