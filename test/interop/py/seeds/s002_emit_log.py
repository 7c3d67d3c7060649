# Seed 002 (002_4cddecd933ec952c.txt) "Publish\Subscribe" publisher (seed 004's
# fanout publisher is the same program). pika 1.x; URL in argv[1]; message in argv[2:].
import sys
import pika
connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
channel = connection.channel()
channel.exchange_declare(exchange='logs',
                         exchange_type='fanout')
message = ' '.join(sys.argv[2:]) or "info: Hello World!"
channel.basic_publish(exchange='logs',
                      routing_key='',
                      body=message)
print(" [x] Sent %r" % message)
connection.close()
