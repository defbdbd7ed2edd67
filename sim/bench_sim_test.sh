#!/usr/bin/env bash
# A seconds-long murmur-bench-sim run writes every field issue 13 asks for,
# each a positive number. Usage: bench_sim_test.sh MURMUR_BENCH_SIM OUT_DIR
set -euo pipefail
bench="$1"
out="$2/bench-sim.json"
mkdir -p "$2"
rm -f "$out"
"$bench" --clients 300 --concurrent 10 --rounds 2 --idle-clients 3000 --idle-rounds 2 \
  --threads 1 --json "$out"
python3 - "$out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for k in ["sim_rounds_per_s", "client_updates_per_s", "rss_mb_per_1k_idle_clients",
          "coordinator_overhead_fraction", "rss_peak_mb", "idle_rss_peak_mb"]:
    if not (isinstance(d.get(k), (int, float)) and d[k] > 0):
        sys.exit(f"field {k} missing or not positive: {d.get(k)!r}")
print("bench-sim JSON fields ok")
PY
