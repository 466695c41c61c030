#!/usr/bin/env bash
# Load benchmark of `triage serve` on loopback with wrk (apt-get install wrk):
#  1. fills 100,000 live conversations and reads the server's RSS;
#  2. measures requests/s and latency percentiles against those conversations.
# Bounded in time: about 45 s. Prints LOAD/RSS lines for BENCHMARKS.md.
#
#   benches/load/run.sh [path/to/triage]   (default: target/release/triage)
# Env: DURATION (default 10s), CONNECTIONS (default 32), THREADS (wrk, default 1),
#      SESSIONS (default 100000), STORE (redis URL, default: in memory).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$(realpath -m "${1:-$root/target/release/triage}")"
duration="${DURATION:-10s}"
connections="${CONNECTIONS:-32}"
threads="${THREADS:-1}"
export SESSIONS="${SESSIONS:-100000}"

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
[ -x "$bin" ] || { echo "$bin is missing: cargo build --release" >&2; exit 2; }

log="$(mktemp)"
store_args=()
[ -n "${STORE:-}" ] && store_args=(--sessions "$STORE")
RUST_LOG=warn "$bin" serve --pack "$root/intents/caremark" --addr 127.0.0.1:0 \
  --max-sessions $((SESSIONS * 2)) --max-connections 4096 "${store_args[@]}" 2>"$log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -f "$log"' EXIT
url=""
for _ in $(seq 100); do
  url="$(sed -n 's|.*listening on \(http://[^ ]*\).*|\1|p' "$log" | head -n 1)"
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$log" >&2; exit 2; }

rss() { awk '/VmRSS/ {print $2}' "/proc/$server/status"; }
live() { curl -s "$url/metrics" | awk '/^triage_sessions_live/ {print $2}'; }

echo "server: $url  pid $server  RSS at start: $(rss) kB"
# 1. One message in each of $SESSIONS conversations (then more, until all are live).
until [ "$(live)" -ge "$SESSIONS" ]; do
  MODE=seq wrk -t "$threads" -c "$connections" -d 5s -s "$here/messages.lua" "$url" >/dev/null
done
echo "RSS sessions=$(live) rss_kb=$(rss)"
# 2. Throughput and latency over those conversations.
MODE=random wrk -t "$threads" -c "$connections" -d "$duration" --latency -s "$here/messages.lua" "$url" \
  | tee /dev/stderr | awk '/^Requests\/sec/ {print "LOAD req_per_s=" $2} /^LOAD/ {print}'
echo "RSS after load: sessions=$(live) rss_kb=$(rss)"
