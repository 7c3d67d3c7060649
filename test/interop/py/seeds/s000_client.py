#!/usr/bin/env python3
# -*- coding:utf8 -*-
# Seed 000 (000_6ce9029cad06c591.txt) "client": a host that runs every command
# published to its group's fanout exchange, through a server-named exclusive
# queue. Ported to pika 1.x: URL in argv[1]; the group (hard-coded "NB" in the
# seed) may be given as argv[2]; basic_consume(queue=, on_message_callback=, auto_ack=).
import os
import sys
import pika

GROUP = sys.argv[2] if len(sys.argv) > 2 else "NB"


def run():
    connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
    channel = connection.channel()
    channel.exchange_declare(exchange=GROUP, exchange_type="fanout")
    result = channel.queue_declare(queue='', exclusive=True)  # 不指定queue名字,rabbit会随机分配一个名字,exclusive =True
    # 会在使用此queue的消费者断开后,自动将queue删除
    queue_name = result.method.queue
    channel.queue_bind(exchange=GROUP, queue=queue_name)
    print(' [*] Waiting for {}. To exit press CTRL+C'.format(GROUP))

    def execute_cmd(ch, method, properties, body):
        cmd = str(body.decode())
        sys.stdout.flush()
        os.system(cmd)
    channel.basic_consume(queue=queue_name, on_message_callback=execute_cmd, auto_ack=True)
    channel.start_consuming()


if __name__ == '__main__':
    run()
