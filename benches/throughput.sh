#!/usr/bin/env bash
# Whole-run throughput benchmark, kept out of the test run (.ci/run).
#
# Measures, on loopback, in one run:
#   1. the built-in LB against a peer, HAProxy, in front of the same three
#      embedded nodes: wrk's closed-loop maximum of GET ping through each;
#   2. harness's own open-model load at 2,000 requests a second through the
#      built-in LB (scenarios/throughput.yaml): the achieved rate and latency;
#   3. harness's closed-model load generation (a goose load phase of 32
#      users, benches/load-ping.yaml, run with --target) against wrk's 32
#      connections on the same cluster: five rounds each, alternating, the
#      cluster on CPU 1 and the generator on CPU 0 (taskset), so each
#      generator has the same core and the question is whether it keeps
#      the cluster as busy as wrk does; then once more unpinned.
# Needs: a release build, wrk, haproxy and taskset (apt-get install wrk
# haproxy util-linux).
# Usage: benches/throughput.sh [seconds-per-wrk-run]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
for tool in wrk haproxy taskset; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install $tool)"; exit 2; }
done
cargo build --release --locked -q
bin=target/release/harness
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

"$bin" cluster up --nodes 3 --out "$work" > "$work/up.txt" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do grep -q "Ctrl-C stops" "$work/up.txt" 2>/dev/null && break; sleep 0.1; done
lb=$(awk '$1 == "lb" { print $2 }' "$work/up.txt")
mapfile -t nodes < <(awk '$1 ~ /^n[0-9]+$/ { sub("http://", "", $2); print $2 }' "$work/up.txt")
[ -n "$lb" ] && [ "${#nodes[@]}" -eq 3 ] || { echo "cluster up failed:"; cat "$work/up.txt"; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
{
  echo "global"
  echo "  maxconn 4096"
  echo "defaults"
  echo "  mode http"
  echo "  timeout connect 5s"
  echo "  timeout client 30s"
  echo "  timeout server 30s"
  echo "frontend fe"
  echo "  bind 127.0.0.1:$port"
  echo "  default_backend nodes"
  echo "backend nodes"
  echo "  balance roundrobin"
  echo "  option httpchk GET /api/octopusservernodes/ping"
  i=0
  for n in "${nodes[@]}"; do i=$((i+1)); echo "  server n$i $n check inter 1s"; done
} > "$work/haproxy.cfg"
haproxy -f "$work/haproxy.cfg" -db > "$work/haproxy.log" 2>&1 &
pids+=($!)
sleep 1

rps() { awk '/Requests\/sec/ { print $2 }'; }
echo "== wrk -t2 -c32 -d${secs}s GET /api/octopusservernodes/ping"
builtin=$(wrk -t2 -c32 -d"${secs}s" "$lb/api/octopusservernodes/ping" | tee "$work/wrk-builtin.txt" | rps)
haproxy=$(wrk -t2 -c32 -d"${secs}s" "http://127.0.0.1:$port/api/octopusservernodes/ping" | tee "$work/wrk-haproxy.txt" | rps)
echo "built-in LB: $builtin req/s"
echo "HAProxy:     $haproxy req/s"
python3 -c "print(f'built-in LB / HAProxy = {float(\"$builtin\") / float(\"$haproxy\"):.2f}')"

kill -TERM "${pids[@]}" 2>/dev/null || true
wait 2>/dev/null || true
pids=()

echo "== harness run scenarios/throughput.yaml (open model, 2000/s)"
"$bin" run scenarios/throughput.yaml --out "$work/runs" --json "$work/report.json" 2>/dev/null | grep -E "requests in|latency from|PASS|FAIL"
python3 - "$work/report.json" "$builtin" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
m = r["metrics"]
print(f"achieved {m['rps']:.0f}/s with {m['errors']} errors; p99 {m['latency_ms']['p99']:.2f} ms")
print(f"harness at 2000/s = {m['rps'] / float(sys.argv[2]):.2f} of wrk's closed-loop maximum through the same LB")
PY

echo "== load generation: harness (goose, 32 users, ping) against wrk -c32 on the same cluster"
taskset -c 1 "$bin" cluster up --nodes 3 --out "$work/gen" > "$work/gen-up.txt" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do grep -q "Ctrl-C stops" "$work/gen-up.txt" 2>/dev/null && break; sleep 0.1; done
lb=$(awk '$1 == "lb" { print $2 }' "$work/gen-up.txt")
up_dir=$(ls -d "$work"/gen/cluster-up/*/)
[ -n "$lb" ] && [ -f "$up_dir/target.yaml" ] || { echo "cluster up failed:"; cat "$work/gen-up.txt"; exit 1; }
export HARNESS_API_KEY
HARNESS_API_KEY=$(cat "$up_dir/api-key")
harness_rps() {
  rm -f "$work/gen.json"
  "$@" run benches/load-ping.yaml --target "$up_dir/target.yaml" --out "$work/gen-runs" --json "$work/gen.json" > "$work/gen.out" 2>&1 \
    || { echo "harness run failed:" >&2; cat "$work/gen.out" >&2; exit 1; }
  python3 -c "import json,sys; m=json.load(open(sys.argv[1]))['metrics']; print(round(m['requests']/m['duration_s']))" "$work/gen.json"
}
w=(); h=()
for round in 1 2 3 4 5; do
  w+=("$(taskset -c 0 wrk -t1 -c32 -d"${secs}s" "$lb/api/octopusservernodes/ping" | rps)")
  h+=("$(harness_rps taskset -c 0 "$bin")")
  echo "round $round (pinned): wrk ${w[-1]} req/s, harness ${h[-1]} req/s"
done
python3 - "${w[*]}" "${h[*]}" <<'PY'
import statistics, sys
w = [float(x) for x in sys.argv[1].split()]
h = [float(x) for x in sys.argv[2].split()]
print(f"pinned medians: wrk {statistics.median(w):.0f} req/s, harness {statistics.median(h):.0f} req/s; harness / wrk = {statistics.median(h) / statistics.median(w):.2f}")
PY
uw=$(wrk -t2 -c32 -d"${secs}s" "$lb/api/octopusservernodes/ping" | rps)
uh=$(harness_rps "$bin")
python3 -c "print(f'unpinned (the generator shares both cores with the cluster): wrk $uw req/s, harness $uh req/s; harness / wrk = {float(\"$uh\") / float(\"$uw\"):.2f}')"

