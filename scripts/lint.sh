#!/usr/bin/env bash
# npm run lint — the guard rails CI runs before the tests (a few seconds, no broker):
#  1. Biome's linter and formatter check (biome.json): the recommended rules we keep, and the import-boundary rule
#     that encodes the layers of docs/architecture.md (a lower layer importing a higher one,
#     or Fleet importing the broker, is an error);
#  2. the layer rule itself is checked to fire: a probe file that breaks it must be refused;
#  3. the codec is reproducible: `npm run gen` into a temp dir equals src/amqp/gen/ byte for byte;
# The strict compiler flags (tsconfig.json) are enforced by every build (`npm run build`, `npm test`).
set -euo pipefail
cd "$(dirname "$0")/.."
biome=node_modules/.bin/biome

"$biome" lint --error-on-warnings .
# the formatter (biome.json: 2 spaces, 200 columns, double quotes): `npm run format` fixes it
"$biome" format . >/dev/null 2>&1 || { "$biome" format . 2>&1 | tail -20 >&2; echo "lint: files are not formatted: run 'npm run format'" >&2; exit 1; }

probe=src/fleet/zz-layer-probe.ts
trap 'rm -f "$probe"; rm -rf "${tmp:-}"' EXIT
printf 'import { Broker } from "../broker/broker.js";\nexport const probe = Broker;\n' >"$probe"
if "$biome" lint "$probe" >/dev/null 2>&1; then
  echo "lint: the layer rule did not refuse src/fleet importing src/broker (biome.json overrides)" >&2
  exit 1
fi
rm -f "$probe"

tmp=$(mktemp -d /tmp/warren-gen-XXXXXX)
node scripts/gen-codec.mjs --out "$tmp/methods.ts" >/dev/null
if ! cmp -s "$tmp/methods.ts" src/amqp/gen/methods.ts; then
  echo "lint: src/amqp/gen/methods.ts differs from what 'npm run gen' makes from the spec: regenerate it (npm run gen) instead of editing it" >&2
  diff "$tmp/methods.ts" src/amqp/gen/methods.ts | head -20 >&2
  exit 1
fi

echo "lint: ok"
