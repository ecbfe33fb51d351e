"""Golden values for monitor/profile_test.go.

Regenerate (from the repository root):

    /usr/bin/python3 monitor/testdata/golden_profile.py > monitor/testdata/profile.json

Numeric columns: count, min, max, mean, population variance (ddof=0), M2,
the 99 inner edges of 100 equal-count bins as numpy.quantile(x, i/100,
method="inverted_cdf"), the counts of values in [edges[i-1], edges[i]) and
the number of distinct values. Categorical columns: value counts, most
frequent first, ties by value.
"""
import collections
import csv
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "testdata")


def read(name):
    with open(os.path.join(DATA, name), newline="") as f:
        return list(csv.DictReader(f))


def numeric(rows, col, bins=100):
    vals = [r[col] for r in rows]
    x = np.array([float(v) for v in vals if v != ""], dtype=np.float64)
    edges = [float(np.quantile(x, i / bins, method="inverted_cdf")) for i in range(1, bins)]
    idx = np.searchsorted(np.array(edges), x, side="right")
    counts = np.bincount(idx, minlength=bins)
    mean = float(np.mean(x))
    return {
        "count": int(len(x)),
        "nulls": int(len(vals) - len(x)),
        "min": float(x.min()),
        "max": float(x.max()),
        "mean": mean,
        "var": float(np.var(x)),
        "m2": float(np.sum((x - mean) ** 2)),
        "edges": edges,
        "counts": [int(c) for c in counts],
        "distinct": int(len(np.unique(x))),
    }


def categorical(rows, col):
    c = collections.Counter(r[col] for r in rows if r[col] != "")
    top = sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))
    return {"count": int(sum(c.values())), "top": [[k, v] for k, v in top]}


def main():
    bc = read("breast_cancer.csv")
    sw = read("seattle-weather.csv")
    fl = read("flights-20k.csv")
    out = {
        "breast_cancer": {c: numeric(bc, c) for c in ["mean_radius", "mean_area", "worst_concavity", "target"]},
        "seattle_weather": {"weather": categorical(sw, "weather"), "precipitation": numeric(sw, "precipitation")},
        "flights": {
            "delay": numeric(fl, "delay"),
            "distance": numeric(fl, "distance"),
            "origin": categorical(fl, "origin"),
            "rows": len(fl),
        },
    }
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
