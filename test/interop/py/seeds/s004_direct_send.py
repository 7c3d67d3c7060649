# Seed 004 (004_6adb58b719184984.txt) "关键字匹配" producer: publishes to key 'db'
# (its print says 'dali', as written). pika 1.x; URL in argv[1].
import sys
import pika
connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
channel = connection.channel()
channel.exchange_declare(exchange='direct_logs', exchange_type='direct')  # 必须为direct类型
message = 'Hello World!'
channel.basic_publish(exchange='direct_logs',
                      routing_key='db',  # 生产者发送的关键字
                      body=message)
print(" [x] Sent %r:%r" % ('dali', message))
connection.close()
