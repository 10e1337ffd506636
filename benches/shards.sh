#!/usr/bin/env bash
# A fleet of 3 x 1,000 polling Tentacles in three shards (issue 22), kept
# out of the test run (.ci/run), against the same fleet from one process.
#
# On one machine, on loopback: `harness cluster up --like
# fixtures/scenarios/shards/fleet.yaml` (three nodes, each polled at its
# own address); then
#   1. one process: `harness run --target` of the scenario, 3,000
#      Tentacles polling every node (9,000 TLS connections);
#   2. three processes: the same scenario as shards 0/3, 1/3 and 2/3 from
#      one agreed start, 1,000 Tentacles each, and `harness merge`.
# Prints, for each, the verdict of every_node_reaches_every_tentacle and
# polling_fan_out, the full fan-out time and handshakes a second from the
# report, and each process's CPU time and peak memory (GNU time); and
# the ratio of the fan-out times.
# Needs: a release build, GNU time and python3.
# Usage: [HARNESS_BIN=path] benches/shards.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)"; exit 2; }
bin=${HARNESS_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --locked -q
  bin=$PWD/target/release/harness
fi
scenario=$PWD/fixtures/scenarios/shards/fleet.yaml
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

"$bin" cluster up --like "$scenario" --out "$work/cluster" --ready-file "$work/ready.yaml" > "$work/up.txt" 2>/dev/null &
pid=$!
for _ in $(seq 200); do grep -q "Ctrl-C stops" "$work/up.txt" 2>/dev/null && break; sleep 0.1; done
target=$(awk '$1 == "target:" { print $2 }' "$work/ready.yaml" | tr -d "'\"")
export HARNESS_API_KEY
HARNESS_API_KEY=$(cat "$(awk '$1 == "api_key_file:" { print $2 }' "$work/ready.yaml" | tr -d "'\"")")
[ -f "$target" ] || { echo "cluster up failed:"; cat "$work/up.txt"; exit 1; }

# When the fleet (each shard's) was registered and started, on the run's
# clock, and how long each health task took.
registered() {
  python3 - "$@" <<'PY'
import json, sys
for path in sys.argv[1:]:
    for line in open(path):
        e = json.loads(line)
        if e["event"] == "fleet":
            print(f'  {len(e["tentacles"])} Tentacles registered by {e["at_us"] / 1e6:.1f} s')
        if e["event"] == "health_task":
            print(f'    health task on {e["node"]}: {e.get("state")} after {(e["done_us"] - e["queued_us"]) / 1e6:.1f} s')
PY
}

# The figures of a report: the two checks' verdicts, fan-out, handshakes.
figures() {
  python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
v = {c["kind"]: c["verdict"] for c in r["checks"]}
p = r["polling"] or {}
print(f'  verdict {r["verdict"]}: every_node_reaches_every_tentacle {v.get("every_node_reaches_every_tentacle")}, '
      f'polling_fan_out {v.get("polling_fan_out")}; {p.get("tentacles")} Tentacles; '
      f'full fan-out {p.get("time_to_full_fan_out_s") or 0:.2f} s, {p.get("handshakes_per_s") or 0:.0f} handshakes/s')
for c in r["checks"]:
    if c["verdict"] != "pass":
        print(f'  {c["kind"]} {c["verdict"]}: {c["detail"]}')
if r.get("interrupted"):
    print(f'  interrupted: {r["interrupted"]}')
print(p.get("time_to_full_fan_out_s") or 0, file=open(sys.argv[1] + ".fanout", "w"))
PY
}

echo "one process, 3,000 Tentacles:"
/usr/bin/time -o "$work/one.time" -f "  the process: %U s user, %S s system, %M KiB peak" \
  "$bin" run --target "$target" "$scenario" --out "$work/one" --json "$work/one.json" > "$work/one.txt" 2>"$work/one.err" || true
cat "$work/one.time"
registered "$work/one/latest/history.jsonl"
figures "$work/one.json"

echo "three shards of 1,000 Tentacles:"
start=$(date -u -d '+10 seconds' +%Y-%m-%dT%H:%M:%SZ)
for i in 0 1 2; do
  /usr/bin/time -o "$work/shard-$i.time" -f "  shard $i: %U s user, %S s system, %M KiB peak" \
    "$bin" run --target "$target" "$scenario" --out "$work/split" --shard "$i/3" --start-at "$start" \
    > "$work/shard-$i.txt" 2>&1 &
done
wait -n; wait -n; wait -n
cat "$work"/shard-*.time
registered "$work"/split/fleet-shards/*/shard-*/history.jsonl
run=$(find "$work/split/fleet-shards" -mindepth 1 -maxdepth 1 -type d | head -1)
"$bin" merge "$run" --out "$work/merged" --json "$work/merged.json" > "$work/merged.txt" || true
figures "$work/merged.json"
python3 -c "import sys; a, b = (float(open(p).read()) for p in sys.argv[1:]); print(f'fan-out time, three shards against one process: {b / a:.2f}' if a else 'no fan-out time')" \
  "$work/one.json.fanout" "$work/merged.json.fanout"
