# Seed 001 (001_b23367ea2c8bc9c8.txt) "消息分发轮训" recv end with manual ack,
# pika 1.x; URL in argv[1]; each of the ten 1-second sleeps is scaled by env SLEEP_SCALE.
import os
import sys
import pika, time
SCALE = float(os.environ.get('SLEEP_SCALE', '1'))
connection = pika.BlockingConnection(
    pika.URLParameters(sys.argv[1]))
channel = connection.channel()
channel.queue_declare(queue='hello')


def callback(ch, method, properties, body):
    for i in range(10):
        print('\r%d' % i, end='', flush=True)
        time.sleep(1 * SCALE)
    print("\rTime's up")
    print("Recv: %r" % body)  # 注意,收到的是bytes格式
    ch.basic_ack(delivery_tag=method.delivery_tag)  # 确认消息处理完毕


channel.basic_consume(queue='hello',
                      on_message_callback=callback)  # auto_ack默认值是False,就是需要确认
print('等待接收消息,按 CTRL+C 退出')
channel.start_consuming()
