"""Markdown table of murmur-sim runs: per pattern (a murmur-sim --out
directory each) and strategy, the final test accuracy and the mean of the
last five evaluations, as mean +- standard deviation over the seeds.

  python3 sim/experiments/summarize_table.py OUT_DIR PATTERN [PATTERN ...]
reads OUT_DIR/PATTERN/<label>-seed<k>.csv (murmur-sim's per-round CSV).
"""
import csv
import glob
import os
import re
import statistics
import sys


def evaluations(path):
    with open(path) as f:
        return [(int(r["version"]), float(r["accuracy"])) for r in csv.DictReader(f)
                if r["accuracy"] != ""]


def spread(xs, fmt="{:.3f}"):
    """mean ± standard deviation (0 for one value), each formatted by fmt."""
    mean = statistics.fmean(xs)
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return f"{fmt.format(mean)} ± {fmt.format(sd)}"


def main():
    out, patterns = sys.argv[1], sys.argv[2:]
    print("| pattern | strategy | final accuracy | mean of last 5 evals | seeds |")
    print("|---|---|---|---|---|")
    for p in patterns:
        runs = {}
        for path in sorted(glob.glob(os.path.join(out, p, "*-seed*.csv"))):
            m = re.match(r"(.*)-seed(\d+)\.csv$", os.path.basename(path))
            ev = evaluations(path)
            if not m or not ev:
                continue
            last5 = [a for _, a in ev[-5:]]
            runs.setdefault(m.group(1), []).append((ev[-1][1], statistics.fmean(last5)))
        for label, rs in runs.items():
            print(f"| {p} | {label} | {spread([r[0] for r in rs])} | {spread([r[1] for r in rs])} | {len(rs)} |")


if __name__ == "__main__":
    main()
