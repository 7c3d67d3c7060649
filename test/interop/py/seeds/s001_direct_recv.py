# Seed 001 (001_b23367ea2c8bc9c8.txt) "有选择的接收消息" recv end, pika 1.x; URL in
# argv[1]; the seed edits severity_list by hand, here argv[2:] may replace it.
import sys
import pika
connection = pika.BlockingConnection(
    pika.URLParameters(sys.argv[1]))
channel = connection.channel()
channel.exchange_declare(exchange='direct_logs')
result = channel.queue_declare(queue='', exclusive=True)
queue_name = result.method.queue
severity_list = ['error', 'warning', 'info']  # 使用这个列表可以收到3条消息
# severity_list = ['error']  # 使用这个列表,只能收到error的一条消息
severity_list = sys.argv[2:] or severity_list
for severity in severity_list:
    channel.queue_bind(exchange='direct_logs',
                       queue=queue_name,
                       routing_key=severity)


def callback(ch, method, properties, body):
    print(method.exchange, method.routing_key)  # method里的一些详细信息
    print("Recv: %r" % body)


channel.basic_consume(queue=queue_name,
                      on_message_callback=callback,
                      auto_ack=True)
print('等待接收消息,按 CTRL+C 退出')
channel.start_consuming()
