#!/usr/bin/env bash
# Start Debian's rabbitmq-server with the management plugin (for CI and side-by-side benchmarks);
# a no-op when it already answers. Waits until it serves AMQP and HTTP.
set -euo pipefail
rabbitmq-plugins enable --offline rabbitmq_management >/dev/null 2>&1 || true
if ! rabbitmqctl status >/dev/null 2>&1; then
  (service rabbitmq-server start || rabbitmq-server -detached) >/dev/null 2>&1
fi
for _ in $(seq 1 60); do
  if rabbitmqctl status >/dev/null 2>&1 && curl -sf -u guest:guest http://127.0.0.1:15672/api/overview >/dev/null 2>&1; then
    exit 0
  fi
  sleep 1
done
echo "rabbitmq-server did not come up" >&2
exit 1
