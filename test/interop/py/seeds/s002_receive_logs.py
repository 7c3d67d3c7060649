# Seed 002 (002_4cddecd933ec952c.txt) "Publish\Subscribe" subscriber (seed 004's
# fanout subscriber is the same program). pika 1.x; URL in argv[1].
import sys
import pika
connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
channel = connection.channel()
channel.exchange_declare(exchange='logs',
                         exchange_type='fanout')
result = channel.queue_declare(queue='', exclusive=True)  # 不指定queue名字,rabbit会随机分配一个名字
queue_name = result.method.queue
channel.queue_bind(exchange='logs',
                   queue=queue_name)
print(' [*] Waiting for logs. To exit press CTRL+C')


def callback(ch, method, properties, body):
    print(" [x] %r" % body)


channel.basic_consume(queue=queue_name,
                      on_message_callback=callback,
                      auto_ack=True)
channel.start_consuming()
