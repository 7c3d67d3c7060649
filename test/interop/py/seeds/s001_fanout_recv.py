# Seed 001 (001_b23367ea2c8bc9c8.txt) "广播" recv end, pika 1.x; URL in argv[1].
import sys
import pika
connection = pika.BlockingConnection(
    pika.URLParameters(sys.argv[1]))
channel = connection.channel()
channel.exchange_declare(exchange='broadcast',
                         exchange_type='fanout')
result = channel.queue_declare(queue='', exclusive=True)
queue_name = result.method.queue  # 获取自动分配的队列名字,下面收消息的时候要名字
channel.queue_bind(exchange='broadcast',
                   queue=queue_name)  # 将队列绑定到exchange转发器


def callback(ch, method, properties, body):
    print("Recv: %r" % body)


channel.basic_consume(queue=queue_name,
                      on_message_callback=callback,
                      auto_ack=True)
print('等待接收消息,按 CTRL+C 退出')
channel.start_consuming()
