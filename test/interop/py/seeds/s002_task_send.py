# Seed 002 (002_4cddecd933ec952c.txt) "Work Queues" 消息提供者: declares a
# NON-durable task_queue but publishes persistent messages. pika 1.x; URL in argv[1].
import sys
import time
import pika
connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
channel = connection.channel()
channel.queue_declare(queue='task_queue')
message = ' '.join(sys.argv[2:]) or "Hello World! %s" % time.time()
channel.basic_publish(exchange='',
                      routing_key='task_queue',
                      body=message,
                      properties=pika.BasicProperties(
                          delivery_mode=2,  # make message persistent
                      )
                      )
print(" [x] Sent %r" % message)
connection.close()
