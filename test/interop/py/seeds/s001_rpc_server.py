# Seed 001 (001_b23367ea2c8bc9c8.txt) "RPC" server, pika 1.x; URL in argv[1].
import sys
import pika

connection = pika.BlockingConnection(
    pika.URLParameters(sys.argv[1]))
channel = connection.channel()
channel.queue_declare(queue='rpc_queue')


def fib(n):
    """计算斐波那契数列"""
    if n == 0:
        return 0
    elif n == 1:
        return 1
    else:
        return fib(n-1) + fib(n-2)


def on_request(ch, method, props, body):
    n = body.isdigit() and int(body) or 0  # body必须是数字,否则按0处理
    print(" [.] fib(%s)" % n)
    response = fib(n)
    ch.basic_publish(exchange='',
                     routing_key=props.reply_to,
                     properties=pika.BasicProperties(
                         correlation_id=props.correlation_id),
                     body=str(response))
    ch.basic_ack(delivery_tag=method.delivery_tag)  # 回复任务已经处理完毕


channel.basic_qos(prefetch_count=1)  # 一次只处理一个任务
channel.basic_consume(queue='rpc_queue',
                      on_message_callback=on_request)
print(" [x] Awaiting RPC requests")
channel.start_consuming()
