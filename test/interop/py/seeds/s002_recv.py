# Seed 002 (002_4cddecd933ec952c.txt) "实现最简单的队列通信" receiver, pika 1.x;
# URL in argv[1]; the 20-second sleep is scaled by env SLEEP_SCALE.
import os
import sys
import pika
import time
SCALE = float(os.environ.get('SLEEP_SCALE', '1'))
connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
channel = connection.channel()  # 建立了rabbitmq的协议通道
channel.queue_declare(queue='hello')


def callback(ch, method, properties, body):
    print("received msg...start processing....", body)
    time.sleep(20 * SCALE)
    print(" [x] msg process done....", body)


channel.basic_consume(queue='hello',
                      on_message_callback=callback,
                      auto_ack=True)
print(' [*] Waiting for messages. To exit press CTRL+C')
channel.start_consuming()
