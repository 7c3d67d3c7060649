#!/bin/bash
# usage: bench/fleet-storm.sh DISTDIR LABEL [RAMP] [BENCHDIST] — one warren server (from DISTDIR) + fleet-bench 10,000 noop agents, open loop
# A connection storm (docs/benchmarks.md, "Connection storms"): a fresh warren server from
# DISTDIR on PORT (default 22001; management PORT+1), then bench/fleet-bench.js with 10,000 no-op
# agents offered RAMP per 100 ms per process of 1,000 (100: all within ~1 s). BENCHDIST (default
# DISTDIR) lets broker and agents come from different builds (cp -a dist dist-before first).
# Prints start-up, connect timeouts (agents' ETIMEDOUT lines) and the kernel's ListenOverflows
# delta (machine-wide). Run it under the heavy lock on a shared machine.
set -u
DIST=$1; LABEL=$2; RAMP=${3:-100}; BDIST=${4:-$1}
REPO=$(cd "$(dirname "$0")/.." && pwd); cd "$REPO"; P=${PORT:-22001}; MP=$((P + 1))
D=$(mktemp -d /tmp/fleet-storm-XXXX)
ovf() { awk '/^TcpExt:/{if(!h){for(i=1;i<=NF;i++)n[i]=$i;h=1}else{for(i=1;i<=NF;i++)if(n[i]=="ListenOverflows")print $i}}' /proc/net/netstat; }
node -e "import('$REPO/$DIST/src/cli/main.js').then(m=>m.main(process.argv.slice(1))).then(c=>process.exitCode=c)" server --no-fleet --port $P --mgmt-port $MP --prometheus-port off --data-dir $D >/tmp/fleet-storm-srv-$LABEL.log 2>&1 &
SRV=$!
sleep 3
O0=$(ovf)
T0=$(date +%s.%N)
timeout 900 node $BDIST/bench/fleet-bench.js --url amqp://guest:guest@127.0.0.1:$P --mgmt-url http://guest:guest@127.0.0.1:$MP --sizes 10000 --runs 2 --per-process 1000 --ramp $RAMP --noop >/tmp/fleet-storm-bench-$LABEL.out 2>/tmp/fleet-storm-bench-$LABEL.err
RC=$?
O1=$(ovf)
echo "label=$LABEL rc=$RC wall=$(echo "$(date +%s.%N) - $T0" | bc) listenOverflows=$((O1-O0)) etimedout=$(grep -c ETIMEDOUT /tmp/fleet-storm-bench-$LABEL.err) connlost=$(grep -c 'connection to broker lost' /tmp/fleet-storm-bench-$LABEL.err) reconnecting=$(grep -c 'reconnecting in' /tmp/fleet-storm-bench-$LABEL.err) otherErr=$(grep -v -c -E 'ETIMEDOUT|reconnecting in' /tmp/fleet-storm-bench-$LABEL.err)"
cat /tmp/fleet-storm-bench-$LABEL.out
kill $SRV; wait $SRV 2>/dev/null
rm -rf $D
