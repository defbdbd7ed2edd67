"""Markdown table of the excess loss (loss - the task's optimal loss) of
murmur-sim regression runs: per directory (a murmur-sim --out each) and
strategy, the final excess and the mean over the last five evaluations
(mean ± standard deviation over seeds), the mean staleness of the accepted
updates, and the share of updates sent by the busiest 20% of clients.

  python3 sim/experiments/summarize_excess.py DIR [DIR ...]
"""
import csv
import json
import os
import statistics
import sys

from summarize_table import spread  # the same directory


def main():
    print("| run | strategy | final excess loss | mean of last 5 evals | mean staleness | "
          "updates from the busiest 20% | seeds |")
    print("|---|---|---|---|---|---|---|")
    for out in sys.argv[1:]:
        summary = json.load(open(os.path.join(out, "summary.json")))
        runs = {}
        for r in summary["runs"]:
            path = os.path.join(out, f"{r['label']}-seed{r['seed']}.csv")
            rows = list(csv.DictReader(open(path)))
            losses = [float(x["loss"]) for x in rows if x["loss"] != ""]
            stale = [float(x["mean_staleness"]) for x in rows[1:]]
            parts = sorted(r["participations"], reverse=True)
            top = sum(parts[: max(1, len(parts) // 5)]) / max(1, sum(parts))
            opt = r["optimal_loss"]
            runs.setdefault(r["label"], []).append(
                (losses[-1] - opt, statistics.fmean(losses[-5:]) - opt, statistics.fmean(stale), top))
        for label, rs in runs.items():
            print(f"| {os.path.basename(out.rstrip('/'))} | {label} | {spread([x[0] for x in rs], '{:.5f}')} | "
                  f"{spread([x[1] for x in rs], '{:.5f}')} | {statistics.fmean(x[2] for x in rs):.2f} | "
                  f"{statistics.fmean(x[3] for x in rs):.0%} | {len(rs)} |")


if __name__ == "__main__":
    main()
