# Seed 002 (002_4cddecd933ec952c.txt) "带消息持久化+公平分发的完整代码" 消费者端,
# pika 1.x; URL in argv[1]; the per-dot sleep is scaled by env SLEEP_SCALE.
import os
import sys
import pika
import time
SCALE = float(os.environ.get('SLEEP_SCALE', '1'))
connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
channel = connection.channel()
channel.queue_declare(queue='task_queue', durable=True)
print(' [*] Waiting for messages. To exit press CTRL+C')


def callback(ch, method, properties, body):
    print(" [x] Received %r" % body)
    time.sleep(body.count(b'.') * SCALE)
    print(" [x] Done")
    ch.basic_ack(delivery_tag=method.delivery_tag)


channel.basic_qos(prefetch_count=1)
channel.basic_consume(queue='task_queue', on_message_callback=callback)
channel.start_consuming()
