#!/usr/bin/env python3
# The RPC tutorial's client, but using direct reply-to
# (https://www.rabbitmq.com/direct-reply-to.html) instead of a callback queue:
# consume the pseudo-queue amq.rabbitmq.reply-to in no-ack mode, then publish
# with reply_to='amq.rabbitmq.reply-to' on the same channel. Talks to the
# unchanged tutorial rpc_server.py.
# argv: URL [n ...]; prints one " [.] Got N" per n.
import sys
import uuid
import pika

connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
channel = connection.channel()

replies = {}


def on_response(ch, method, props, body):
    replies[props.correlation_id] = (body, method.routing_key)


channel.basic_consume(queue='amq.rabbitmq.reply-to', on_message_callback=on_response, auto_ack=True)

for arg in sys.argv[2:] or ['30']:
    corr_id = str(uuid.uuid4())
    print(" [x] Requesting fib(%s)" % arg)
    channel.basic_publish(
        exchange='',
        routing_key='rpc_queue',
        properties=pika.BasicProperties(reply_to='amq.rabbitmq.reply-to', correlation_id=corr_id),
        body=arg)
    while corr_id not in replies:
        connection.process_data_events(time_limit=None)
    body, routing_key = replies.pop(corr_id)
    # the reply arrives with the generated reply-to name as its routing key
    print(" [r] routing_key starts with amq.rabbitmq.reply-to.: %s" % routing_key.startswith('amq.rabbitmq.reply-to.'))
    print(" [.] Got %r" % int(body))
connection.close()
