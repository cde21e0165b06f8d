#!/usr/bin/env python3
"""Time pyeer 0.5.6 on the scores of the Rust bench (reports/benches/accuracy.rs).

Usage (after `cargo bench -p reports --bench accuracy`, which writes the scores):
    ${MYNA_HIL_CACHE:-$HOME/.cache/myna-hil}/py/bin/python reports/reference/bench_pyeer.py \
        [target/accuracy-bench/scores-1e6.csv] [--runs N]

Times, on the same 10,000 genuine + 990,000 impostor scores:
- "det+eer": pyeer.eer_stats.calculate_roc (FMR/FNMR at every distinct score) followed by
  get_eer_values: the same work as the Rust bench's `DetCurve::new` + `eer()`;
- "get_eer_stats": pyeer's whole public entry point (adds operating points, AUC, Youden, MCC, …).
Prints min and median wall time of N runs (default 5) and the EER, for a sanity check.
"""
import argparse
import csv
import os
import statistics
import time

import numpy as np

os.environ.setdefault("MPLBACKEND", "Agg")


def read_scores(path):
    gen, imp = [], []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            (gen if row["kind"] == "genuine" else imp).append(float(row["score"]))
    return np.array(gen, dtype=np.float64), np.array(imp, dtype=np.float64)


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(here, "..", "..", "target", "accuracy-bench", "scores-1e6.csv")
    ap.add_argument("scores", nargs="?", default=os.path.normpath(default))
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    from pyeer.eer_info import get_eer_stats
    from pyeer.eer_stats import calculate_roc, get_eer_values

    gen, imp = read_scores(args.scores)
    print(f"{args.scores}: {len(gen)} genuine, {len(imp)} impostor")

    def det_eer():
        thrs, fm, fnm = calculate_roc(gen, imp, rates=False)
        return get_eer_values(fm / len(imp), fnm / len(gen))

    for name, fn in [("det+eer", det_eer), ("get_eer_stats", lambda: get_eer_stats(gen, imp))]:
        times = []
        result = None
        for _ in range(args.runs):
            t0 = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - t0)
        eer = result[3] if name == "det+eer" else result.eer
        print(
            f"pyeer {name}: min {min(times):.3f} s, median {statistics.median(times):.3f} s "
            f"over {args.runs} runs (EER {eer:.6f})"
        )


if __name__ == "__main__":
    main()
