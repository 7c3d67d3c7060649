#!/usr/bin/env bash
# Regenerate the management UI's screenshots in docs/screenshots/ (see docs/ui.md):
# builds, then runs scripts/ui-screenshots.mjs against a throwaway broker. Needs chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build >/dev/null
node scripts/ui-screenshots.mjs
