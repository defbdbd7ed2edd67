#!/usr/bin/env bash
# The FedAU table of docs/experiments.md: sim/experiments/fedau_paper.toml
# (3 seeds, 4 strategies) under each participation pattern, then one
# markdown table of the final test accuracies (mean and spread over seeds).
#   bash sim/experiments/fedau_table.sh [OUT_DIR]   (default build/sim-out/fedau-table)
# Prints each pattern's wall time; the whole table is sized for < 60 min on
# 2 cores (murmur-sim's runs are identical for any thread count).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-build/sim-out/fedau-table}
SIM=${MURMUR_SIM:-build/sim/murmur-sim}
mkdir -p "$OUT"
start=$(date +%s)
for p in bernoulli markov cyclic; do
  t0=$(date +%s)
  "$SIM" sim/experiments/fedau_paper.toml --pattern "$p" --out "$OUT/$p" --no-progress \
    --log.level warn > "$OUT/$p.txt"
  echo "$p: $(( $(date +%s) - t0 )) s" | tee -a "$OUT/times.txt"
done
echo "total: $(( $(date +%s) - start )) s" | tee -a "$OUT/times.txt"
python3 sim/experiments/summarize_table.py "$OUT" bernoulli markov cyclic | tee "$OUT/table.md"
