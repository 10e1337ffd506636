#!/usr/bin/env bash
# The capacity search against a manual sweep (issue 20), kept out of the
# test run (.ci/run): is the knee the search finds the knee a person
# finds by running fixed rates one after another?
#
# On the embedded cluster of scenarios/capacity-search.yaml (three nodes
# of a twentieth of a CPU each; p99 under 25 ms and at most 1% errors):
#   1. `harness run scenarios/capacity-search.yaml`: the search's knee at
#      3 nodes (and at 2 and 1);
#   2. a manual sweep of fixed rates at 3 nodes, from half the search's
#      knee to one and a half times it in steps of a tenth: each rate an
#      ordinary run of an `api` workload for the search's step length,
#      judged by the same objective from report.json; the sweep's knee is
#      the last rate met before the first one missed.
# Prints both and their ratio.
# Needs: a release build and a writable cgroup for the nodes' quotas
# (root, as in CI).
# Usage: [HARNESS_BIN=path] benches/knee.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# HARNESS_BIN names a binary built already (a copy, so that editing the
# sources meanwhile does not rebuild it under the benchmark).
bin=${HARNESS_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --locked -q
  bin=$PWD/target/release/harness
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$bin" run scenarios/capacity-search.yaml --out "$work/search" > "$work/search.txt" 2>&1 || true
grep -E "^(conclusion|  sustained|[0-9] node)" "$work/search.txt" || { cat "$work/search.txt"; exit 1; }
knee=$(python3 -c "
import json,sys
r=json.load(open('$work/search/latest/report.json'))
c=r['capacity']['levels'][0]['capacity']
print(int(c) if c else 0)")
[ "$knee" -gt 0 ] || { echo "the search found no knee at 3 nodes"; exit 1; }

echo "manual sweep at 3 nodes: rate, p99 ms, errors %"
last_met=0
for tenth in 5 6 7 8 9 10 11 12 13 14 15; do
  rate=$((knee * tenth / 10))
  cat > "$work/fixed.yaml" <<YAML
name: knee-fixed
duration: 2s
warmup: 1s
settle: 0s
cluster:
  nodes: 3
  node_cpus: 0.05
workload:
  - api: { rate: ${rate}/s }
checks:
  - latency: { percentile: 99, below: 25ms }
  - availability: { max_error_rate: 1% }
YAML
  "$bin" run "$work/fixed.yaml" --out "$work/fixed" > /dev/null 2>&1 || true
  read -r p99 err < <(python3 -c "
import json
m=json.load(open('$work/fixed/latest/report.json'))['metrics']
print(m['latency_ms']['p99'], 100*m['errors']/max(m['requests'],1))")
  echo "  $rate $p99 $err"
  if python3 -c "import sys; sys.exit(0 if $p99 < 25 and $err <= 1 else 1)"; then
    last_met=$rate
  else
    break
  fi
done
echo "search: $knee req/s; manual sweep: $last_met req/s"
python3 -c "print(f'search / sweep: {$knee / max($last_met, 1):.2f}')"
