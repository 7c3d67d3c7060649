# Seed 004 (004_6adb58b719184984.txt) "关键字匹配" consumer bound with 'dali' and 'db'.
# pika 1.x; URL in argv[1].
import sys
import pika
connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
channel = connection.channel()
channel.exchange_declare(exchange='direct_logs', exchange_type='direct')
result = channel.queue_declare(queue='', exclusive=True)
queue_name = result.method.queue
channel.queue_bind(exchange='direct_logs', queue=queue_name, routing_key="dali")
channel.queue_bind(exchange='direct_logs', queue=queue_name, routing_key="db")  # 匹配到的关键字
print(' [*] Waiting for logs. To exit press CTRL+C')


def callback(ch, method, properties, body):
    print(" [x] %r" % body)


channel.basic_consume(queue=queue_name, on_message_callback=callback, auto_ack=True)
channel.start_consuming()
