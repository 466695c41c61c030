#!/usr/bin/env bash
# 5-fold cross-validation of `triage import` on Banking77's training split (fold k:
# the rows whose index is k mod 5), the way BENCHMARKS.md chooses model settings
# without looking at the test split. Each fold's pack is imported from the other
# four fifths and told to always answer ([thresholds] answer = 0, no clarifying),
# as the reference classifiers do. About 20 s on 2 cores.
#
#   benches/banking77/cv.sh [path/to/triage]   (default: target/release/triage)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="$(realpath -m "${1:-$root/target/release/triage}")"
[ -x "$bin" ] || { echo "$bin is missing: cargo build --release" >&2; exit 2; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 - "$root/data/banking77/train.csv" "$tmp" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
head, rows = rows[0], rows[1:]
for k in range(5):
    for name, keep in (("train", lambda i: i % 5 != k), ("test", lambda i: i % 5 == k)):
        with open(f"{sys.argv[2]}/{name}{k}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(head)
            w.writerows(r for i, r in enumerate(rows) if keep(i))
PY
n_all=0
right_all=0
for k in 0 1 2 3 4; do
  "$bin" import --csv "$tmp/train$k.csv" --text-column text --label-column category \
    --out "$tmp/pack$k" ${IMPORT_ARGS:-} >"$tmp/import$k.log" 2>&1 || { cat "$tmp/import$k.log" >&2; exit 1; }
  printf '\n[thresholds]\nanswer = 0.0\nclarify_margin = 0.0\n' >>"$tmp/pack$k/pack.toml"
  read -r n right < <("$bin" eval --pack "$tmp/pack$k" --json --text-column text \
    --label-column category "$tmp/test$k.csv" |
    python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["n"], round(d["accuracy"] * d["n"]))')
  echo "fold $k: $right / $n"
  n_all=$((n_all + n))
  right_all=$((right_all + right))
done
python3 -c "print(f'cross-validation accuracy: $right_all / $n_all = {100 * $right_all / $n_all:.2f} %')"
