# Seed 002 (002_4cddecd933ec952c.txt) rabbit_topic_send.py, pika 1.x;
# PlainCredentials + host -> URL in argv[1]; routing key argv[2], message argv[3:].
import sys
import pika
connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
channel = connection.channel()
channel.exchange_declare(exchange='topic_logs', exchange_type='topic')  # 指定类型
routing_key = sys.argv[2] if len(sys.argv) > 2 else 'anonymous.info'
message = ' '.join(sys.argv[3:]) or 'Hello World!'  # 消息
channel.basic_publish(exchange='topic_logs',
                      routing_key=routing_key,
                      body=message)
print(" [x] Sent %r:%r" % (routing_key, message))
connection.close()
