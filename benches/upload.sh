#!/usr/bin/env bash
# Upload benchmark, kept out of the test run (.ci/run).
#
# On loopback, in one run, against one embedded node:
#   1. speed: `harness upload` (the package generated as it is sent) against
#      curl -F file=@pkg.zip (the same bytes, from a file in the page cache),
#      each sending the same package to the same node, three times;
#   2. memory: the harness's peak RSS while it uploads a 4 GiB package, and
#      the node's peak RSS after a 256 MiB upload and after the 4 GiB one.
# Needs: a release build, curl, ss (iproute2), GNU time (/usr/bin/time).
# Usage: benches/upload.sh [size-for-speed, default 1GiB]
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-1GiB}
for tool in curl ss /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "needs $tool"; exit 2; }
done
cargo build --release --locked -q
bin=$PWD/target/release/harness
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

"$bin" cluster up --nodes 1 --out "$work" > "$work/up.txt" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do grep -q "Ctrl-C stops" "$work/up.txt" 2>/dev/null && break; sleep 0.1; done
node=$(awk '$1 == "n1" { print $2 }' "$work/up.txt")
keyfile=$(ls "$work"/cluster-up/*/api-key)
[ -n "$node" ] && [ -f "$keyfile" ] || { echo "cluster up failed:"; cat "$work/up.txt"; exit 1; }
port=${node##*:}
nodepid=$(ss -ltnpH "sport = :$port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
hwm() { awk '/VmHWM/ { print $2 }' "/proc/$nodepid/status"; }
# curl reads the key from a header file, never from its command line.
printf 'X-Octopus-ApiKey: %s\n' "$(cat "$keyfile")" > "$work/headers"

"$bin" package "$size" --seed 7 > "$work/pkg.zip"
bytes=$(stat -c %s "$work/pkg.zip")
echo "== $size package ($bytes bytes) to $node, 3 runs each"
for i in 1 2 3; do
  h=$("$bin" upload "$node" --size "$size" --seed 7 --version "1.0.$i-harness" --api-key-file "$keyfile" \
      | awk '/^last byte:/ { gsub(/[()]/, ""); print $4 }')
  c=$(curl -sS -o /dev/null -w '%{speed_upload}' -H @"$work/headers" \
      -F "file=@$work/pkg.zip;filename=HarnessProbe.1.0.$i-curl.zip;type=application/octet-stream" \
      "$node/api/Spaces-1/packages/raw")
  c=$(python3 -c "print(f'{$c / 1048576:.1f}')")
  echo "run $i: harness $h MiB/s, curl $c MiB/s"
  echo "$h $c" >> "$work/speeds"
done
python3 - "$work/speeds" <<'PY'
import sys, statistics
rows = [tuple(map(float, l.split())) for l in open(sys.argv[1])]
h = statistics.median(r[0] for r in rows); c = statistics.median(r[1] for r in rows)
print(f"median: harness {h:.1f} MiB/s, curl {c:.1f} MiB/s, harness / curl = {h / c:.2f}")
PY
rm -f "$work/pkg.zip"

echo "== memory"
before=$(hwm)
"$bin" upload "$node" --size 256MiB --seed 8 --version 2.0.0 --api-key-file "$keyfile" > /dev/null
after_small=$(hwm)
/usr/bin/time -f '%M' -o "$work/rss" "$bin" upload "$node" --size 4GiB --seed 9 --version 3.0.0 --api-key-file "$keyfile" > /dev/null
after_big=$(hwm)
echo "harness peak RSS during a 4 GiB upload: $(( $(cat "$work/rss") / 1024 )) MiB (bound 64 MiB)"
echo "node peak RSS: $((before / 1024)) MiB at start, $((after_small / 1024)) MiB after 256 MiB, $((after_big / 1024)) MiB after 4 GiB"
