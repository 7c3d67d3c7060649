# Seed 002 (002_4cddecd933ec952c.txt) "有选择的接收消息(exchange type=direct)" sender,
# pika 1.x; URL in argv[1]; severity argv[2], message argv[3:].
import sys
import pika
connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
channel = connection.channel()
channel.exchange_declare(exchange='direct_logs',
                         exchange_type='direct')
severity = sys.argv[2] if len(sys.argv) > 2 else 'info'
message = ' '.join(sys.argv[3:]) or 'Hello World!'
channel.basic_publish(exchange='direct_logs',
                      routing_key=severity,
                      body=message)
print(" [x] Sent %r:%r" % (severity, message))
connection.close()
