#!/usr/bin/env python3
# kombu (Celery's messaging layer) and py-amqp, as Debian packages them (python3-kombu,
# python3-amqp), against the broker: SimpleQueue round trip, a topic exchange with a
# wildcard binding through Producer/Consumer, py-amqp publisher confirms with nested
# header values, basic.get and a queue.declare passive on a missing queue (404).
# Prints one JSON line of what it saw; the test compares it.
# argv: URL SUFFIX (names are made unique with SUFFIX)
import json
import sys
from urllib.parse import unquote, urlparse

import amqp
from kombu import Connection, Consumer, Exchange, Producer, Queue

url, suffix = sys.argv[1], sys.argv[2]
u = urlparse(url)
vhost = unquote(u.path[1:]) if len(u.path) > 1 else "/"
out = {}

with Connection(hostname=u.hostname, port=u.port or 5672, userid=unquote(u.username or "guest"),
                password=unquote(u.password or "guest"), virtual_host=vhost) as conn:
    sq = conn.SimpleQueue("kombu-simple-" + suffix)
    sq.put({"hello": "world"})
    m = sq.get(block=True, timeout=5)
    out["simple"] = m.payload
    m.ack()
    sq.close()  # cancels its consumer: deleting a consumed queue would get basic.cancel
    Queue("kombu-simple-" + suffix)(conn.channel()).delete()

    ex = Exchange("kombu-topic-" + suffix, type="topic", durable=False, auto_delete=True)
    q = Queue("kombu-q-" + suffix, exchange=ex, routing_key="a.*", durable=False, auto_delete=True)
    got = []

    def on_message(body, message):
        got.append(body)
        message.ack()

    with Consumer(conn, queues=[q], callbacks=[on_message], accept=["json"]):
        p = Producer(conn.channel(), exchange=ex, serializer="json")
        for n, rk in ((1, "a.b"), (2, "x.y"), (3, "a.c"), (4, "a.b.c")):
            p.publish({"n": n}, routing_key=rk, declare=[q])
        while len(got) < 2:
            conn.drain_events(timeout=5)
    out["topic"] = got

c = amqp.Connection(host="%s:%d" % (u.hostname, u.port or 5672), userid=unquote(u.username or "guest"),
                    password=unquote(u.password or "guest"), virtual_host=vhost, confirm_publish=True)
c.connect()
out["product"] = c.server_properties.get("product")
ch = c.channel()
qn = "pyamqp-" + suffix
ch.queue_declare(qn, durable=True, auto_delete=False)
ch.basic_publish(amqp.Message("via py-amqp", delivery_mode=2,
                              application_headers={"k": [1, "two", {"x": 3}], "f": 1.5}), routing_key=qn)
m = ch.basic_get(qn, no_ack=True)
out["get"] = [m.body if isinstance(m.body, str) else m.body.decode(), m.properties.get("application_headers"),
              m.properties.get("delivery_mode")]
out["empty"] = ch.basic_get(qn, no_ack=True) is None
ch.queue_delete(qn)
try:
    ch.queue_declare("pyamqp-missing-" + suffix, passive=True)
    out["passive"] = "declared?!"
except amqp.exceptions.NotFound as e:
    out["passive"] = [e.reply_code, str(e.reply_text)]
c.close()
print(json.dumps(out, sort_keys=True))
