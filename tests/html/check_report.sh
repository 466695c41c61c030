#!/usr/bin/env bash
# Opens the HTML report of `triage eval` in headless Chromium and checks what it
# renders: the DOM Chromium builds holds the summary, the per-label table, the
# confusion heatmap (one row per expected label) and one row per misroute, and the
# screenshot is not blank. The screenshot is kept for a person to look at:
# target/eval-report.png.
#
#   tests/html/check_report.sh [path/to/triage]   (default: target/release/triage)
# Needs chromium (apt-get install chromium); without it: SKIPPED, exit 0, unless
# TRIAGE_REQUIRE_CHROMIUM=1.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="$(realpath -m "${1:-$root/target/release/triage}")"
chromium="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$chromium" ]; then
  [ "${TRIAGE_REQUIRE_CHROMIUM:-}" = 1 ] && { echo "chromium is required but missing" >&2; exit 1; }
  echo "SKIPPED: chromium is not installed (apt-get install chromium)"
  exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
set_file="$root/tests/data/heldout.jsonl"
at="2026-11-24T10:00:00-06:00"
"$bin" eval --at "$at" --html "$tmp/report.html" "$set_file" > /dev/null
"$bin" eval --at "$at" --json "$set_file" > "$tmp/report.json"

# Flags for a closed network: no background connections, a fresh profile.
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --user-data-dir="$tmp/profile")
"$chromium" "${flags[@]}" --dump-dom "file://$tmp/report.html" > "$tmp/dom.html" 2>/dev/null
mkdir -p "$root/target"
"$chromium" "${flags[@]}" --window-size=1400,2000 --hide-scrollbars \
  --screenshot="$root/target/eval-report.png" "file://$tmp/report.html" > /dev/null 2>&1

python3 - "$tmp/dom.html" "$tmp/report.json" "$root/target/eval-report.png" <<'PY'
import json, re, struct, sys, zlib
dom, report, png = open(sys.argv[1]).read(), json.load(open(sys.argv[2])), open(sys.argv[3], "rb").read()
def table(id_):
    m = re.search(r'<table[^>]*id="%s"[^>]*>(.*?)</table>' % id_, dom, re.S)
    assert m, f"table #{id_} is not in the rendered page"
    return m.group(1).count("<tr")
summary = re.search(r'<p id="summary">(.*?)</p>', dom, re.S)
assert summary and "routed right" in summary.group(1), "no summary"
shown = "%.1f %%" % (100 * report["accuracy"])
assert shown in summary.group(1), f"summary does not say {shown}"
expected = sum(1 for s in report["per_label"].values() if s["support"] > 0)
labels = len(report["per_label"])
assert table("labels") == labels + 1, "per-label rows"
assert table("matrix") == labels + 1, "heatmap rows"
assert table("misses") == len(report["misses"]) + 1, "misroute rows"
assert dom.count("rgba(203,24,29") > 0 and dom.count("rgba(33,102,172") >= expected, "heatmap colours"
# The screenshot: a PNG of the window, with more than a handful of colours.
assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
width, height = struct.unpack(">II", png[16:24])
data, pos = b"", 8
while pos < len(png):
    n, kind = struct.unpack(">I4s", png[pos:pos + 8])
    if kind == b"IDAT":
        data += png[pos + 8:pos + 8 + n]
    pos += 12 + n
pixels = zlib.decompress(data)
assert len(set(pixels[::7])) > 20, "the screenshot is blank"
print(f"OK: report rendered by Chromium ({width}x{height} screenshot): "
      f"{labels} labels, {len(report['misses'])} misroutes, {shown}")
PY
