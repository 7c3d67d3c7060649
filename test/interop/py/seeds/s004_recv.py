# Seed 004 (004_6adb58b719184984.txt) first consumer: queue 'hello', no_ack=True.
# pika 1.x; URL in argv[1].
import sys
import pika
connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
channel = connection.channel()
channel.queue_declare(queue='hello')  # 生成一个队列叫做hello


def callback(ch, method, properties, body):  # body表示拿到的数据
    print(" [x] Received %r" % body)


channel.basic_consume(queue='hello', on_message_callback=callback, auto_ack=True)
print(' [*] Waiting for messages. To exit press CTRL+C')
channel.start_consuming()
