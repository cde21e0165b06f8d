#!/usr/bin/env python3
"""Independent check of reports::accuracy: EER and FNMR@FMR as pyeer 0.5.6 computes them.

Usage:
    ${MYNA_HIL_CACHE:-$HOME/.cache/myna-hil}/py/bin/python reports/reference/check_metrics.py \
        SCORES.csv [MORE.csv ...]

Each file is a CSV with a header naming at least the columns `kind` (genuine | impostor) and
`score` (a similarity: higher = more alike), such as the raw score file the harness writes
(kind,subject_a,image_a,subject_b,image_b,score,failure; older files lack `failure`). A row with
a non-empty `failure` (and an empty score) is a comparison that could not be made: it is left out
of every number below, which are per-comparison rates (FMR / FNMR), and only counted in "lost".
For every file one JSON object is printed on its own line:

- "genuine", "impostor": the comparisons made (scored); "lost": {"genuine": n, "impostor": n}.
- "pyeer": pyeer.eer_info.get_eer_stats(genuine, impostor) as it is:
  eer, eer_low, eer_high, eer_th (FVC2000 EER: see pyeer.eer_stats.get_eer_values),
  fmr100 / fmr100_th and fmr1000 / fmr1000_th (pyeer's "FNMR at FMR = 1e-2 / 1e-3": the FNMR at
  the observed-score threshold whose FMR is closest to the target, the first on ties), and
  "crossed": false when pyeer warned that FMR and FNMR never cross (it then reports EER 1).
- "nist": FNMR at the smallest threshold with FMR <= target, for 1e-2, 1e-3, 1e-4, computed
  here with numpy (not by pyeer, which does not implement this definition): threshold just above
  the (k+1)-th highest impostor score, k = the largest count with k / #impostor <= target;
  FNMR = share of genuine scores <= that impostor score.

Needs numpy and pyeer (the venv made by .ci/fetch-face-runtime, through `bash .ci/setup`).
"""
import csv
import json
import sys
import warnings

import numpy as np


def read_scores(path):
    gen, imp = [], []
    lost = {"genuine": 0, "impostor": 0}
    with open(path, newline="") as f:
        rows = csv.DictReader(f)
        if rows.fieldnames is None or "kind" not in rows.fieldnames or "score" not in rows.fieldnames:
            raise SystemExit(f"{path}: need a header with 'kind' and 'score' columns")
        for n, row in enumerate(rows, start=2):
            kind = row["kind"]
            if kind not in lost:
                raise SystemExit(f"{path}: line {n}: unknown kind {kind!r}")
            failure, score = (row.get("failure") or "").strip(), row["score"].strip()
            if failure:
                # Not compared: no score; the generalised rates count it, these do not.
                if score:
                    raise SystemExit(f"{path}: line {n}: both a score and a failure")
                lost[kind] += 1
                continue
            (gen if kind == "genuine" else imp).append(float(score))
    return np.array(gen, dtype=np.float64), np.array(imp, dtype=np.float64), lost


def pyeer_metrics(gen, imp):
    from pyeer.eer_info import get_eer_stats

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = get_eer_stats(gen, imp)
    crossed = not any("do not intersect" in str(w.message) for w in caught)
    return {
        "eer": float(s.eer),
        "eer_low": float(s.eer_low),
        "eer_high": float(s.eer_high),
        "eer_th": float(s.eer_th),
        "fmr100": float(s.fmr100),
        "fmr100_th": float(s.fmr100_th),
        "fmr1000": float(s.fmr1000),
        "fmr1000_th": float(s.fmr1000_th),
        "crossed": crossed,
    }


def nist_fnmr_at_fmr(gen, imp, target):
    n_imp = len(imp)
    k = int(np.floor(target * n_imp))
    while (k + 1) / n_imp <= target:
        k += 1
    while k > 0 and k / n_imp > target:
        k -= 1
    boundary = float(np.sort(imp)[::-1][k])  # the (k+1)-th highest impostor score
    return {
        "target": target,
        "boundary": boundary,
        "fmr": float(np.count_nonzero(imp > boundary) / n_imp),
        "fnmr": float(np.count_nonzero(gen <= boundary) / len(gen)),
    }


def main(paths):
    if not paths:
        raise SystemExit(__doc__)
    for path in paths:
        gen, imp, lost = read_scores(path)
        out = {"file": path, "genuine": len(gen), "impostor": len(imp), "lost": lost}
        if len(gen) and len(imp):
            out["pyeer"] = pyeer_metrics(gen, imp)
            out["nist"] = [nist_fnmr_at_fmr(gen, imp, t) for t in (1e-2, 1e-3, 1e-4)]
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
