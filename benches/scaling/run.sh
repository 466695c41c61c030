#!/usr/bin/env bash
# Scaling benchmark: synthetic packs of 10 … 10,000 intents (`triage gen-pack`,
# seed 1). Measures peak RSS of loading each pack, runs the criterion `scale`
# group (respond and load per N), then draws benches/scaling/scaling.svg and
# prints the table for BENCHMARKS.md. About 5 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --locked
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
: > benches/scaling/rss.txt
for n in 10 100 1000 10000; do
  ./target/release/triage gen-pack --intents "$n" --seed 1 "$tmp/$n" >/dev/null
  /usr/bin/time -f "$n %M" ./target/release/triage ask --pack "$tmp/$n" hello 2>>benches/scaling/rss.txt >/dev/null
done
cargo bench --locked --bench scale -- scale/
python3 benches/scaling/plot.py target/criterion benches/scaling/scaling.svg
