// The RabbitMQ Java client (Debian's librabbitmq-client-java, 5.0.0) against the broker:
// the features Java applications lean on, each checked here and reported as one line
// "ok <name>"; any failure prints "FAIL <name>: <reason>" and exits 1.
// argv: URL SUFFIX (names are made unique with SUFFIX)
import com.rabbitmq.client.*;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.*;
import java.util.concurrent.*;

public class JavaClientCheck {
    static int failures = 0;

    interface Check { void run() throws Exception; }

    static void check(String name, Check c) {
        try {
            c.run();
            System.out.println("ok " + name);
        } catch (Throwable t) {
            failures++;
            System.out.println("FAIL " + name + ": " + t);
        }
    }

    static void expect(boolean cond, String what) {
        if (!cond) throw new AssertionError(what);
    }

    static byte[] utf8(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    public static void main(String[] args) throws Exception {
        String url = args[0];
        String sfx = args[1];
        ConnectionFactory f = new ConnectionFactory();
        f.setUri(url);
        f.setAutomaticRecoveryEnabled(false);
        try (Connection conn = f.newConnection("java-check")) {
            check("server-properties", () -> {
                Object product = conn.getServerProperties().get("product");
                expect(product != null && product.toString().equals("RabbitMQ"), "product " + product);
                @SuppressWarnings("unchecked")
                Map<String, Object> caps = (Map<String, Object>) conn.getServerProperties().get("capabilities");
                for (String k : new String[]{"publisher_confirms", "basic.nack", "consumer_cancel_notify", "direct_reply_to"}) {
                    expect(Boolean.TRUE.equals(caps.get(k)), "capability " + k);
                }
            });

            check("confirms-get-consume", () -> {
                Channel ch = conn.createChannel();
                String q = ch.queueDeclare("java-work-" + sfx, true, false, false, null).getQueue();
                ch.confirmSelect();
                for (int i = 0; i < 100; i++) {
                    ch.basicPublish("", q, MessageProperties.PERSISTENT_TEXT_PLAIN, utf8("m" + i));
                }
                ch.waitForConfirmsOrDie(5000);
                GetResponse first = ch.basicGet(q, false);
                expect(first != null && new String(first.getBody(), StandardCharsets.UTF_8).equals("m0"), "first message");
                expect(first.getMessageCount() == 99, "message count " + first.getMessageCount());
                expect(first.getProps().getDeliveryMode() == 2, "persistent");
                ch.basicAck(first.getEnvelope().getDeliveryTag(), false);
                ch.basicQos(10);
                BlockingQueue<String> got = new LinkedBlockingQueue<>();
                String tag = ch.basicConsume(q, false, new DefaultConsumer(ch) {
                    @Override
                    public void handleDelivery(String t, Envelope env, AMQP.BasicProperties p, byte[] body) throws IOException {
                        got.add(new String(body, StandardCharsets.UTF_8));
                        getChannel().basicAck(env.getDeliveryTag(), false);
                    }
                });
                for (int i = 1; i < 100; i++) {
                    String m = got.poll(5, TimeUnit.SECONDS);
                    expect(("m" + i).equals(m), "in order: expected m" + i + " got " + m);
                }
                ch.basicCancel(tag);
                ch.queueDelete(q);
                ch.close();
            });

            check("topic-routing", () -> {
                Channel ch = conn.createChannel();
                String ex = "java-topic-" + sfx;
                ch.exchangeDeclare(ex, BuiltinExchangeType.TOPIC, false, true, null);
                String q = ch.queueDeclare().getQueue();
                expect(q.startsWith("amq.gen-"), "server-named queue " + q);
                ch.queueBind(q, ex, "*.critical");
                ch.queueBind(q, ex, "kern.#");
                for (String rk : new String[]{"auth.critical", "auth.info", "kern.disk.full", "mail.critical.x"}) {
                    ch.basicPublish(ex, rk, null, utf8(rk));
                }
                List<String> keys = new ArrayList<>();
                long deadline = System.currentTimeMillis() + 5000;
                while (keys.size() < 2 && System.currentTimeMillis() < deadline) {
                    GetResponse r = ch.basicGet(q, true);
                    if (r == null) { Thread.sleep(20); continue; }
                    keys.add(r.getEnvelope().getRoutingKey());
                }
                expect(keys.equals(Arrays.asList("auth.critical", "kern.disk.full")), "routed " + keys);
                expect(ch.basicGet(q, true) == null, "nothing else");
                ch.close();
            });

            check("direct-reply-to-rpc", () -> {
                Channel server = conn.createChannel();
                String rq = server.queueDeclare("java-rpc-" + sfx, false, false, true, null).getQueue();
                server.basicConsume(rq, false, new DefaultConsumer(server) {
                    @Override
                    public void handleDelivery(String t, Envelope env, AMQP.BasicProperties p, byte[] body) throws IOException {
                        AMQP.BasicProperties reply = new AMQP.BasicProperties.Builder().correlationId(p.getCorrelationId()).build();
                        getChannel().basicPublish("", p.getReplyTo(), reply, utf8("pong:" + new String(body, StandardCharsets.UTF_8)));
                        getChannel().basicAck(env.getDeliveryTag(), false);
                    }
                });
                Channel client = conn.createChannel();
                BlockingQueue<String> replies = new LinkedBlockingQueue<>();
                client.basicConsume("amq.rabbitmq.reply-to", true, new DefaultConsumer(client) {
                    @Override
                    public void handleDelivery(String t, Envelope env, AMQP.BasicProperties p, byte[] body) {
                        replies.add(p.getCorrelationId() + "=" + new String(body, StandardCharsets.UTF_8));
                    }
                });
                AMQP.BasicProperties req = new AMQP.BasicProperties.Builder().correlationId("c-1").replyTo("amq.rabbitmq.reply-to").build();
                client.basicPublish("", rq, req, utf8("ping"));
                String r = replies.poll(5, TimeUnit.SECONDS);
                expect("c-1=pong:ping".equals(r), "reply " + r);
                client.close();
                server.close();
            });

            check("channel-error-404", () -> {
                Channel ch = conn.createChannel();
                try {
                    ch.queueDeclarePassive("java-missing-" + sfx);
                    throw new AssertionError("passive declare of a missing queue succeeded");
                } catch (IOException e) {
                    ShutdownSignalException s = (ShutdownSignalException) e.getCause();
                    expect(!s.isHardError(), "channel-level error");
                    AMQP.Channel.Close close = (AMQP.Channel.Close) s.getReason();
                    expect(close.getReplyCode() == 404, "code " + close.getReplyCode());
                    expect(close.getReplyText().startsWith("NOT_FOUND - no queue 'java-missing-" + sfx + "' in vhost '"), close.getReplyText());
                }
                expect(!ch.isOpen(), "channel closed");
                expect(conn.isOpen(), "connection still open");
            });

            check("mandatory-return", () -> {
                Channel ch = conn.createChannel();
                BlockingQueue<Integer> codes = new LinkedBlockingQueue<>();
                ch.addReturnListener((code, text, ex, rk, p, body) -> codes.add(code));
                ch.basicPublish("", "java-nowhere-" + sfx, true, null, utf8("x"));
                Integer code = codes.poll(5, TimeUnit.SECONDS);
                expect(code != null && code == 312, "basic.return " + code);
                ch.close();
            });

            check("consumer-cancel-notification", () -> {
                Channel ch = conn.createChannel();
                String q = ch.queueDeclare("java-cancel-" + sfx, false, false, false, null).getQueue();
                CountDownLatch cancelled = new CountDownLatch(1);
                ch.basicConsume(q, true, new DefaultConsumer(ch) {
                    @Override
                    public void handleCancel(String consumerTag) { cancelled.countDown(); }
                });
                Channel other = conn.createChannel();
                other.queueDelete(q);
                expect(cancelled.await(5, TimeUnit.SECONDS), "handleCancel called");
                expect(ch.isOpen(), "channel stays open");
                other.close();
                ch.close();
            });

            check("transactions", () -> {
                Channel ch = conn.createChannel();
                String q = ch.queueDeclare().getQueue();
                ch.txSelect();
                ch.basicPublish("", q, null, utf8("rolled-back"));
                ch.txRollback();
                ch.basicPublish("", q, null, utf8("committed"));
                expect(ch.basicGet(q, true) == null, "nothing visible before commit");
                ch.txCommit();
                GetResponse r = ch.basicGet(q, true);
                expect(r != null && new String(r.getBody(), StandardCharsets.UTF_8).equals("committed"), "committed message");
                expect(ch.basicGet(q, true) == null, "rolled-back message never appears");
                ch.close();
            });
        }
        System.out.println(failures == 0 ? "ALL OK" : failures + " FAILED");
        System.exit(failures == 0 ? 0 : 1);
    }
}
