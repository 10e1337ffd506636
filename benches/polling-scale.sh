#!/usr/bin/env bash
# The polling fleet at scale, kept out of the test run (.ci/run): runs
# benches/polling-scale.yaml (1,000 Tentacles × 3 nodes) on a release
# build and prints what the issue asks for: time to full fan-out,
# handshakes per second, the reconnect storm after a restart, RPC round
# trips and the peak memory of the harness and of each node.
# Usage: benches/polling-scale.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
target/release/harness run benches/polling-scale.yaml --out "$work" > "$work/out.txt" 2>/dev/null || status=$?
sed -n '/^checks/,/^verdict/p' "$work/out.txt"
report=$(ls "$work"/polling-scale/*/report.json)
python3 - "$report" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
p = r["polling"]
print(f"tentacles {p['tentacles']}, connections {p['tentacles'] * len(p['endpoints']) * p['connections']}")
print(f"full fan-out {p['time_to_full_fan_out_s']:.2f}s, {p['handshakes_per_s']:.0f} handshakes/s")
for c in r["checks"]:
    if c["kind"] == "reconnect_storm":
        for s in c["evidence"]["restarts"]:
            print(f"after {s['fault']}: back on {s['node']} in {s['time_to_full_fan_out_s']:.2f}s, {s['attempts_per_s']:.0f} connection attempts/s")
print("peak memory: " + ", ".join(f"{m['process']} {m['peak_rss_mib']:.0f} MiB" for m in r["memory"]))
PY
exit $status
