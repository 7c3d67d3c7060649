# Seed 002 (002_4cddecd933ec952c.txt) rabbit_rpc_recv.py: the "SSH RPC" server
# runs each received command in a shell and replies with its stdout (or its
# stderr when stdout is empty). As written it never acks. pika 1.x; URL in argv[1].
import sys
import pika
import subprocess
connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
channel = connection.channel()
channel.queue_declare(queue='rpc_queue3')


def SSHRPCServer(cmd):
    print("recv cmd:", cmd)
    cmd_obj = subprocess.Popen(cmd.decode(), shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    result = cmd_obj.stdout.read() or cmd_obj.stderr.read()
    return result


def on_request(ch, method, props, body):
    print(" [.] fib(%s)" % body)
    response = SSHRPCServer(body)
    ch.basic_publish(exchange='',
                     routing_key=props.reply_to,
                     properties=pika.BasicProperties(correlation_id=props.correlation_id),
                     body=response)


channel.basic_consume(queue='rpc_queue3', on_message_callback=on_request)
print(" [x] Awaiting RPC requests")
channel.start_consuming()
