#!/usr/bin/env bash
# Run client libraries' OWN test suites against warren -- code no one here wrote, shipped by
# their projects: amqplib's mocha suite (in its npm package) and amqp091-go's integration
# tests (Debian's golang-github-rabbitmq-amqp091-go-dev). They expect a broker with
# guest/guest on localhost:5672 (a few amqplib tests ignore $URL and use that port), so a
# fresh warren is started there with a temp data dir; the script fails if 5672 is taken.
#
#   bash scripts/client-suites.sh        (after npm install; CI runs it)
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d /tmp/warren-client-suites.XXXXXX)
node --initial-old-space-size=64 bin/warren.js server --port 5672 --mgmt-port 0 --prometheus-port off --data-dir "$tmp/data" --no-fleet 2> "$tmp/warren.log" &
warren=$!
trap 'kill $warren 2>/dev/null || true; wait $warren 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 1 100); do
  grep -q "listening amqp://" "$tmp/warren.log" && break
  kill -0 $warren 2>/dev/null || { cat "$tmp/warren.log" >&2; echo "client-suites: warren did not start (is 5672 taken?)" >&2; exit 1; }
  sleep 0.1
done

echo "== amqplib $(node -p 'require("amqplib/package.json").version'): its own mocha suite"
( cd node_modules/amqplib && URL=amqp://guest:guest@localhost:5672 ../.bin/mocha --check-leaks -u tdd --exit -R dot test/ )

src=/usr/share/gocode/src/github.com/rabbitmq/amqp091-go
if command -v go >/dev/null 2>&1 && [ -d "$src" ]; then
  echo "== amqp091-go (Debian's package): its integration tests"
  mkdir -p "$tmp/go/src/github.com/rabbitmq"
  cp -r "$src" "$tmp/go/src/github.com/rabbitmq/"
  ( cd "$tmp/go/src/github.com/rabbitmq/amqp091-go" &&
    GO111MODULE=off GOPATH="$tmp/go:/usr/share/gocode" GOCACHE="$tmp/gocache" GOFLAGS= \
    AMQP_URL=amqp://guest:guest@127.0.0.1:5672/ go test -tags integration -count=1 -timeout 600s . )
else
  echo "== amqp091-go: skipped (needs golang-go and golang-github-rabbitmq-amqp091-go-dev)"
fi
