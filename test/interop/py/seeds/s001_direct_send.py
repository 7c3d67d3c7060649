# Seed 001 (001_b23367ea2c8bc9c8.txt) "有选择的接收消息" send end, pika 1.x; URL in argv[1].
import sys
import pika
connection = pika.BlockingConnection(
    pika.URLParameters(sys.argv[1]))
channel = connection.channel()
channel.exchange_declare(exchange='direct_logs')  # 默认类型就是'direct'
severity_list = ['error', 'warning', 'info']
for severity in severity_list:
    msg = "%s: %s" % (severity, 'Hello World!')
    channel.basic_publish(exchange='direct_logs',
                          routing_key=severity,
                          body=msg)
    print("Send: %s" % msg)  # 本地打印一下
connection.close()
