# Seed 004 (004_6adb58b719184984.txt) "RabbitMQ消息失联策略" consumer: manual ack
# after a 10-second job (scaled by env SLEEP_SCALE). Python 2 `print 'ok'` -> print('ok').
# pika 1.x; URL in argv[1]; argv[2] == "durable" declares hello durable, as the
# seed's "服务器异常策略" consumer does.
import os
import sys
import pika
SCALE = float(os.environ.get('SLEEP_SCALE', '1'))
connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
channel = connection.channel()
if len(sys.argv) > 2 and sys.argv[2] == 'durable':
    channel.queue_declare(queue='hello', durable=True)
else:
    channel.queue_declare(queue='hello')


def callback(ch, method, properties, body):
    print(" [x] Received %r" % body)
    import time
    time.sleep(10 * SCALE)  # 拿到数据之后,中断,再次执行看能否接受到数据
    print('ok')
    ch.basic_ack(delivery_tag=method.delivery_tag)


channel.basic_consume(queue='hello', on_message_callback=callback, auto_ack=False)
print(' [*] Waiting for messages. To exit press CTRL+C')
channel.start_consuming()
