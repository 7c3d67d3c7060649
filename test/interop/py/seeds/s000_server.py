#!/usr/bin/env python3
# -*- coding:utf8 -*-
# Seed 000 (000_6ce9029cad06c591.txt) "server": sends a command to a group of
# hosts through one fanout exchange per group. Ported to pika 1.x:
# conf.setting -> broker URL in argv[1]; exchange_declare(type=) -> exchange_type=;
# the input loop ends at EOF (so a test can drive it through stdin).
import sys
import pika

URL = sys.argv[1]


def rabbit(cmd):
    try:
        group, action = cmd.split(" ", 1)
        connection = pika.BlockingConnection(pika.URLParameters(URL))
        channel = connection.channel()

        channel.exchange_declare(
            exchange=group,
            exchange_type="fanout"
        )
        channel.basic_publish(exchange=group,
                              routing_key='',
                              body=action,
                              )
        print("对主机组[{}],下发命令[{}]执行".format(group, action))
        connection.close()
    except Exception as e:
        print("输入错误:{}".format(e))
        print("""
        命令输入格式为:
        [group] [command]          : 组名 命令 log shutdown -t
        """)


def run():
    while True:
        try:
            user_cmd = input("请输入要执行的命令:").strip()
        except EOFError:
            break
        if user_cmd:
            rabbit(user_cmd)
        else:
            print("""
                命令输入格式为:
                [group] [command]          : 组名 命令 log shutdown -t
                """)


if __name__ == '__main__':
    run()
