# Seed 002 (002_4cddecd933ec952c.txt) "Work Queues" consumer, as written: it
# consumes with no_ack=True yet calls basic_ack, which RabbitMQ answers with
# channel.close 406 PRECONDITION_FAILED "unknown delivery tag". pika 1.x; URL in
# argv[1]; the 20-second sleep is scaled by env SLEEP_SCALE.
import os
import sys
import pika, time
SCALE = float(os.environ.get('SLEEP_SCALE', '1'))
connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
channel = connection.channel()


def callback(ch, method, properties, body):
    print(" [x] Received %r" % body)
    time.sleep(20 * SCALE)
    print(" [x] Done")
    print("method.delivery_tag", method.delivery_tag)
    ch.basic_ack(delivery_tag=method.delivery_tag)


channel.basic_consume(queue='task_queue',
                      on_message_callback=callback,
                      auto_ack=True
                      )
print(' [*] Waiting for messages. To exit press CTRL+C')
channel.start_consuming()
