#!/usr/bin/env bash
# A private, throwaway RabbitMQ node (Debian's rabbitmq-server) for CI and side-by-side
# benchmarks. Everything it keeps lives in DIR, so it never sees, and never leaves behind, the
# state of the machine's own RabbitMQ (a leftover of 100,000 durable queues once made the
# machine's node take 15 minutes to boot and failed CI).
#
#   scripts/rabbitmq-node.sh start DIR [AMQP_PORT] [MGMT_PORT] [PROMETHEUS_PORT]
#                                              default ports 5682 / 15682; with PROMETHEUS_PORT the
#                                              rabbitmq_prometheus plugin is enabled on that port
#   scripts/rabbitmq-node.sh stop DIR          stop the node (DIR is kept; rm -rf it yourself)
#   scripts/rabbitmq-node.sh restart DIR       stop and start again on the same data
#   scripts/rabbitmq-node.sh ctl DIR ARGS...   rabbitmqctl against that node
#
# The node listens on 127.0.0.1 only, with the management plugin, user guest/guest. `start`
# returns once both AMQP and HTTP answer.
set -euo pipefail

RMQ_BIN=/usr/lib/rabbitmq/bin
cmd=${1:?usage: rabbitmq-node.sh start|stop|restart|ctl DIR ...}
dir=${2:?usage: rabbitmq-node.sh start|stop|restart|ctl DIR ...}
shift 2
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

if [ "$cmd" = start ]; then
  amqp_port=${1:-5682}
  mgmt_port=${2:-15682}
  prom_port=${3:-}
  printf 'amqp_port=%s\nmgmt_port=%s\nprom_port=%s\n' "$amqp_port" "$mgmt_port" "$prom_port" > "$dir/ports"
fi
[ -f "$dir/ports" ] || { echo "rabbitmq-node.sh: $dir holds no node (run start first)" >&2; exit 2; }
# shellcheck disable=SC1091
. "$dir/ports"

export RABBITMQ_NODENAME="warren-ref-${amqp_port}@localhost"
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT="$amqp_port"
export RABBITMQ_DIST_PORT=$((amqp_port + 20000))
export RABBITMQ_MNESIA_BASE="$dir/mnesia"
export RABBITMQ_LOG_BASE="$dir/log"
export RABBITMQ_PID_FILE="$dir/pid"
export RABBITMQ_CONFIG_FILE="$dir/rabbitmq"
export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"

ctl() { "$RMQ_BIN/rabbitmqctl" -n "$RABBITMQ_NODENAME" "$@"; }

start() {
  cat > "$dir/rabbitmq.conf" <<EOF
management.tcp.ip = 127.0.0.1
management.tcp.port = $mgmt_port
EOF
  if [ -n "${prom_port:-}" ]; then
    printf 'prometheus.tcp.ip = 127.0.0.1\nprometheus.tcp.port = %s\n' "$prom_port" >> "$dir/rabbitmq.conf"
    echo '[rabbitmq_management,rabbitmq_prometheus].' > "$dir/enabled_plugins"
  else
    echo '[rabbitmq_management].' > "$dir/enabled_plugins"
  fi
  if ! ctl status >/dev/null 2>&1; then
    "$RMQ_BIN/rabbitmq-server" -detached
  fi
  for _ in $(seq 1 120); do
    if ctl await_startup >/dev/null 2>&1 &&
       curl -sf -u guest:guest "http://127.0.0.1:$mgmt_port/api/overview" >/dev/null 2>&1; then
      return 0
    fi
    sleep 1
  done
  echo "rabbitmq-node.sh: the node in $dir did not come up; see $dir/log" >&2
  return 1
}

stop() {
  ctl stop "$dir/pid" >/dev/null 2>&1 || true
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  ctl) ctl "$@" ;;
  *) echo "rabbitmq-node.sh: unknown command $cmd" >&2; exit 2 ;;
esac
