#!/usr/bin/python3
# Golden values for CompareExact's Stats (exact_test.go), computed with
# SciPy 1.10 and numpy as the issue defines them. Regenerate with
#
#   cd monitor/testdata && /usr/bin/python3 golden_exact.py > exact.json
#
# Cases split real data sets from the repository's testdata/ by row:
#   seattle: seattle-weather.csv, rows 0..730 (2012-2013) against the rest
#   flights: flights-20k.csv, rows 0..9999 against 10000..19999
#   wine:    wine.csv, target 0 against target 1
import csv
import json
import sys

import numpy as np
from scipy import stats
from scipy.spatial import distance

CASES = {
    "seattle": ("../../testdata/seattle-weather.csv", ["precipitation", "temp_max", "temp_min", "wind"], ["weather"]),
    "flights": ("../../testdata/flights-20k.csv", ["delay", "distance"], ["origin", "destination"]),
    "wine": ("../../testdata/wine.csv", ["alcohol", "malic_acid", "magnesium", "proline", "hue"], []),
}


def split(name, rows):
    if name == "seattle":
        return rows[:731], rows[731:]
    if name == "flights":
        return rows[:10000], rows[10000:]
    ref = [r for r in rows if r["target"] == "0"]
    cur = [r for r in rows if r["target"] == "1"]
    return ref, cur


def shares_zero(counts):
    p = np.asarray(counts, dtype=float) / np.sum(counts)
    p[p == 0] = 0.0001
    return p


def numeric(ref, cur):
    r = np.asarray(ref, dtype=float)
    c = np.asarray(cur, dtype=float)
    ks = stats.ks_2samp(r, c)
    w = stats.wasserstein_distance(r, c)
    q = np.quantile(r, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    rb = np.bincount(np.searchsorted(q, r, side="right"), minlength=10)
    cb = np.bincount(np.searchsorted(q, c, side="right"), minlength=10)
    p, s = shares_zero(rb), shares_zero(cb)
    return {
        "ks_d": float(ks.statistic),
        "ks_p": float(ks.pvalue),
        "wasserstein": float(w),
        "wasserstein_norm": float(w / np.std(r)),
        "psi": float(np.sum((s - p) * np.log(s / p))),
        "js": float(distance.jensenshannon(p, s, base=2)),
    }


def categorical(ref, cur):
    cats = sorted(set(ref) | set(cur))
    rc = [ref.count(v) for v in cats]
    cc = [cur.count(v) for v in cats]
    p, s = shares_zero(rc), shares_zero(cc)
    chi2, chi2_p, _, _ = stats.chi2_contingency([rc, cc])
    return {
        "psi": float(np.sum((s - p) * np.log(s / p))),
        "js": float(distance.jensenshannon(p, s, base=2)),
        "chi2": float(chi2),
        "chi2_p": float(chi2_p),
    }


out = {}
for name, (path, nums, cats) in CASES.items():
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    ref, cur = split(name, rows)
    res = {}
    for col in nums:
        res[col] = numeric([float(r[col]) for r in ref], [float(r[col]) for r in cur])
    for col in cats:
        res[col] = categorical([r[col] for r in ref], [r[col] for r in cur])
    out[name] = res
json.dump(out, sys.stdout, indent=1, sort_keys=True)
sys.stdout.write("\n")
