#!/usr/bin/env bash
# Runs the Botium conversations in convos/ against `triage serve`'s Rasa-compatible
# REST channel: starts a server of our own on a free loopback port, installs
# botium-cli from package-lock.json when needed, runs every *.convo.txt, stops
# the server. Exit status: Botium's (0 when every conversation passed).
#
#   tests/botium/run.sh [path/to/triage]     (default: target/release/triage)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$(realpath -m "${1:-$root/target/release/triage}")"

if ! command -v npx >/dev/null 2>&1; then
  echo "botium: SKIPPED: node and npm are not installed" >&2
  exit 0
fi
if [ ! -x "$bin" ]; then
  echo "botium: $bin is missing: build it with cargo build --release" >&2
  exit 2
fi

cd "$here"
if [ ! -x node_modules/.bin/botium-cli ]; then
  echo "botium: installing botium-cli (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

log="$(mktemp)"
"$bin" serve --pack "$root/intents/caremark" --addr 127.0.0.1:0 2>"$log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -f "$log"' EXIT
url=""
for _ in $(seq 100); do
  url="$(sed -n 's|.*listening on \(http://[^ ]*\).*|\1|p' "$log" | head -n 1)"
  [ -n "$url" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$log" >&2; echo "botium: the server did not start" >&2; exit 2; }
  sleep 0.1
done
[ -n "$url" ] || { echo "botium: the server did not say where it listens" >&2; exit 2; }
echo "botium: $(ls convos/*.convo.txt | wc -l) conversations against $url" >&2

BOTIUM_SIMPLEREST_URL="$url/webhooks/rest/webhook" \
  node_modules/.bin/botium-cli run --config botium.json --convos convos
