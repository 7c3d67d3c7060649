# Seed 001 (001_b23367ea2c8bc9c8.txt) "广播" send end, pika 1.x; URL in argv[1].
import sys
import pika
connection = pika.BlockingConnection(
    pika.URLParameters(sys.argv[1]))
channel = connection.channel()
channel.exchange_declare(exchange='broadcast',
                         exchange_type='fanout')
channel.basic_publish(exchange='broadcast',
                      routing_key='',
                      body='Hello World!')
print("Send: 'Hello World!'")
connection.close()
