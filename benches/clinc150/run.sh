#!/usr/bin/env bash
# CLINC150 (data/clinc150, CC BY 3.0): how well the fallback catches out-of-scope
# queries. Imports the 150 in-scope intents from the training split (`triage import`),
# tunes the pack's answer threshold on the validation split (3,000 in scope + 100 out of
# scope; out of scope is right when the reply is a fallback) two ways — the best
# accuracy over all 3,100, and the best mean of in-scope accuracy and out-of-scope
# recall — then reports each on the test split (4,500 in scope, 1,000 out of scope):
# in-scope accuracy and out-of-scope recall. About a minute.
#
#   benches/clinc150/run.sh [path/to/triage]   (default: target/release/triage)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="$(realpath -m "${1:-$root/target/release/triage}")"
[ -x "$bin" ] || { echo "$bin is missing: cargo build --release" >&2; exit 2; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

python3 - "$root/data/clinc150/data_full.json" "$tmp" <<'PY'
import csv, json, sys
data, out = json.load(open(sys.argv[1])), sys.argv[2]
with open(f"{out}/train.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["text", "label"])
    w.writerows(data["train"])
def jsonl(name, rows, oos):
    with open(f"{out}/{name}.jsonl", "w") as f:
        for i, (text, label) in enumerate(rows):
            f.write(json.dumps({"id": f"{name}-{i + 1}", "text": text,
                                "accept": ["out_of_scope" if oos else label]}) + "\n")
for split in ("val", "test"):
    jsonl(f"{split}_in", data[split], False)
    jsonl(f"{split}_oos", data[f"oos_{split}"], True)
PY
"$bin" import --csv "$tmp/train.csv" --out "$tmp/pack" ${IMPORT_ARGS:-} 2>/dev/null
cp "$tmp/pack/pack.toml" "$tmp/pack.toml.orig"
at="2026-11-24T10:00:00Z"

# Accuracy on a split at a threshold: prints "in_scope_accuracy oos_recall".
score() {
  cp "$tmp/pack.toml.orig" "$tmp/pack/pack.toml"
  printf '\n[thresholds]\nanswer = %s\nclarify_margin = 0.0\nclarify_floor = 0.99\n' "$2" >> "$tmp/pack/pack.toml"
  local a b
  a="$("$bin" eval --pack "$tmp/pack" --at "$at" --json "$tmp/$1_in.jsonl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["accuracy"])')"
  b="$("$bin" eval --pack "$tmp/pack" --at "$at" --json "$tmp/$1_oos.jsonl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["accuracy"])')"
  echo "$a $b"
}

best="" best_acc=-1 bal="" bal_score=-1
echo "threshold  val in-scope  val out-of-scope recall  val accuracy (3,100)"
for t in 0.05 0.10 0.20 0.30 0.40 0.50 0.60 0.70 0.80 0.85 0.90 0.93 0.95 0.97 0.98 0.99 0.995; do
  read -r a b < <(score val "$t")
  acc="$(python3 -c "print(($a * 3000 + $b * 100) / 3100)")"
  mean="$(python3 -c "print(($a + $b) / 2)")"
  printf '%9s  %11.4f  %23.4f  %20.4f\n' "$t" "$a" "$b" "$acc"
  if python3 -c "import sys; sys.exit(0 if $acc > $best_acc else 1)"; then
    best="$t" best_acc="$acc"
  fi
  if python3 -c "import sys; sys.exit(0 if $mean > $bal_score else 1)"; then
    bal="$t" bal_score="$mean"
  fi
done
read -r a b < <(score test "$best")
echo "CLINC150 test, threshold $best (best val accuracy over all 3,100): in-scope accuracy $a, out-of-scope recall $b"
read -r a b < <(score test "$bal")
echo "CLINC150 test, threshold $bal (best val mean of in-scope accuracy and out-of-scope recall): in-scope accuracy $a, out-of-scope recall $b"
