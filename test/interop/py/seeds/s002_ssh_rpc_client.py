# Seed 002 (002_4cddecd933ec952c.txt) rabbit_rpc_send.py: the "SSH RPC" client
# sends a shell command and prints the output the server sends back. pika 1.x;
# URL in argv[1]; the command ("ipconfig" in the seed) may be given as argv[2].
# Keeps the seed's busy loop printing "loop N" while it waits.
import sys
import pika
import uuid


class SSHRpcClient(object):
    def __init__(self):
        self.connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
        self.channel = self.connection.channel()
        result = self.channel.queue_declare(queue='', exclusive=True)  # 客户端的结果必须要返回到这个queue
        self.callback_queue = result.method.queue
        self.channel.basic_consume(queue=self.callback_queue, on_message_callback=self.on_response)  # 声明从这个queue里收结果

    def on_response(self, ch, method, props, body):
        if self.corr_id == props.correlation_id:  # 任务标识符
            self.response = body
            print(body)

    def call(self, n):
        self.response = None
        self.corr_id = str(uuid.uuid4())  # 唯一标识符
        self.channel.basic_publish(exchange='',
                                   routing_key='rpc_queue3',
                                   properties=pika.BasicProperties(
                                       reply_to=self.callback_queue,
                                       correlation_id=self.corr_id,
                                   ),
                                   body=str(n))
        print("start waiting for cmd result ")
        count = 0
        while self.response is None:  # 如果命令没返回结果
            print("loop ", count)
            count += 1
            self.connection.process_data_events()  # 以不阻塞的形式去检测有没有新事件
        return self.response


ssh_rpc = SSHRpcClient()

print(" [x] sending cmd")
response = ssh_rpc.call(sys.argv[2] if len(sys.argv) > 2 else "ipconfig")

print(" [.] Got result ")
print(response.decode("gbk"))
