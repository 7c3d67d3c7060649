#!/bin/bash
# usage: bench/fleet-restart-storm.sh SERVERDIST AGENTDIST LABEL N — N no-op agents (N/1000 processes) connected to a warren server,
# A broker restart under 10,000 connected agents (docs/benchmarks.md, "Connection storms"): N
# no-op agents (bench/fleet-sim-agents.js, 1,000 per process) connect to a fresh warren server
# on PORT (default 22001; management PORT+1); then the server is SIGKILLed and restarted on its
# data, and we time until the management API counts N consumers again. SERVERDIST/AGENTDIST:
# builds of broker and agents. Run it under the heavy lock on a shared machine.
# then the server is SIGKILLed and restarted on its data: time until every agent consumes again, connect timeouts
set -u
SD=$1; AD=$2; LABEL=$3; N=${4:-10000}; PER=$(( N < 1000 ? N : 1000 ))
REPO=$(cd "$(dirname "$0")/.." && pwd); cd "$REPO"; P=${PORT:-22001}; MP=$((P + 1))
D=$(mktemp -d /tmp/fleet-rs-XXXX); A=$D/agents; mkdir -p $A
ovf() { awk '/^TcpExt:/{if(!h){for(i=1;i<=NF;i++)n[i]=$i;h=1}else{for(i=1;i<=NF;i++)if(n[i]=="ListenOverflows")print $i}}' /proc/net/netstat; }
srv() { node -e "import('$REPO/$SD/src/cli/main.js').then(m=>m.main(process.argv.slice(1))).then(c=>process.exitCode=c)" server --no-fleet --port $P --mgmt-port $MP --prometheus-port off --data-dir $D/srv >>$D/srv.log 2>&1 & SRV=$!; }
consumers() { curl -s -u guest:guest http://127.0.0.1:$MP/api/overview | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).object_totals.consumers)}catch{console.log(0)}})'; }
srv; sleep 3
PIDS=""
for ((f=0; f<N; f+=PER)); do
  node $AD/bench/fleet-sim-agents.js amqp://guest:guest@127.0.0.1:$P/ $A rs-h $f $PER rs 100 noop 0 >$D/out.$f 2>$D/err.$f & PIDS="$PIDS $!"
done
T0=$(date +%s.%N)
until [ "$(cat $D/out.* 2>/dev/null | grep -c ready)" -ge $((N / PER)) ]; do sleep 0.5; if [ $(echo "$(date +%s.%N) - $T0 > 400" | bc) = 1 ]; then echo "start timed out"; break; fi; done
START=$(echo "$(date +%s.%N) - $T0" | bc)
E0=$(cat $D/err.* | grep -c ETIMEDOUT)
sleep 2
O0=$(ovf)
kill -9 $SRV; wait $SRV 2>/dev/null
T1=$(date +%s.%N)
srv
while :; do c=$(consumers); [ "${c:-0}" -ge $N ] && break; sleep 0.5; if [ $(echo "$(date +%s.%N) - $T1 > 400" | bc) = 1 ]; then echo "reconnect timed out at $c consumers"; break; fi; done
BACK=$(echo "$(date +%s.%N) - $T1" | bc)
O1=$(ovf)
E1=$(cat $D/err.* | grep -c ETIMEDOUT)
echo "label=$LABEL agents=$N start=${START}s startTimeouts=$E0 restart->all-consuming=${BACK}s reconnectTimeouts=$((E1-E0)) listenOverflows(restart)=$((O1-O0)) otherErrLines=$(cat $D/err.* | grep -v -c -E 'ETIMEDOUT|reconnecting in|note: logged in|connection to broker lost|broker amqp')"
cat $D/err.* | grep -v -E 'note: logged in' | sed 's/rs-h[0-9]*/H/; s/in [0-9]* ms/in N ms/' | sort | uniq -c | sort -rn | head -8
kill -9 $PIDS 2>/dev/null; kill $SRV; wait 2>/dev/null
rm -rf $D
