"""Golden values for examples/drift's test (main_test.go).

Regenerate, from the repository root, with Debian's python3-scipy (SciPy 1.10):

    /usr/bin/python3 examples/drift/testdata/golden.py

It splits ../../testdata/seattle-weather.csv (relative to this folder) by
year into ref.csv (2012 and 2013) and cur.csv (2015), without the date
column, and writes golden.json: per column the statistics that
`drift -exact -json` must print in "stats", computed as issue 9 defines
them:

numeric columns
  ks_d, ks_p        scipy.stats.ks_2samp(ref, cur) (default options)
  wasserstein       scipy.stats.wasserstein_distance(ref, cur)
  wasserstein_norm  that over numpy.std(ref) (population standard deviation)
  psi, js           over ten bins whose inner edges are numpy.quantile(ref,
                    [0.1, ..., 0.9]) (linear); x falls in the bin numbered by
                    how many edges are <= x; proportions of zero replaced by
                    0.0001; PSI = sum((cur - ref) * ln(cur / ref));
                    JS = scipy.spatial.distance.jensenshannon(ref, cur, base=2)
categorical columns
  psi, js           the same over the union of categories
  chi2, chi2_p      scipy.stats.chi2_contingency of the 2 x K table of counts
                    (default options)
"""
import csv
import json
import os

import numpy as np
import scipy
from scipy import stats
from scipy.spatial import distance

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "..", "..", "..", "testdata", "seattle-weather.csv")
NUMERIC = ["precipitation", "temp_max", "temp_min", "wind"]
CATEGORICAL = ["weather"]
COLUMNS = NUMERIC + CATEGORICAL


def zero_rule(counts):
    p = np.asarray(counts, dtype=float)
    p = p / p.sum()
    return np.where(p == 0, 0.0001, p)


def psi_js(ref_counts, cur_counts):
    r, c = zero_rule(ref_counts), zero_rule(cur_counts)
    psi = float(np.sum((c - r) * np.log(c / r)))
    js = float(distance.jensenshannon(r, c, base=2))
    return psi, js


def numeric(r, c):
    ks = stats.ks_2samp(r, c)
    w = float(stats.wasserstein_distance(r, c))
    edges = np.quantile(r, np.arange(1, 10) / 10)
    rb = np.bincount(np.searchsorted(edges, r, side="right"), minlength=10)
    cb = np.bincount(np.searchsorted(edges, c, side="right"), minlength=10)
    psi, js = psi_js(rb, cb)
    return {
        "ks_d": float(ks.statistic),
        "ks_p": float(ks.pvalue),
        "wasserstein": w,
        "wasserstein_norm": w / float(np.std(r)),
        "psi": psi,
        "js": js,
    }


def categorical(r, c):
    cats = sorted(set(r) | set(c))
    rc = [r.count(k) for k in cats]
    cc = [c.count(k) for k in cats]
    psi, js = psi_js(rc, cc)
    chi2, p, _, _ = stats.chi2_contingency(np.array([rc, cc]))
    return {"psi": psi, "js": js, "chi2": float(chi2), "chi2_p": float(p)}


def main():
    with open(SOURCE, newline="") as f:
        rows = list(csv.DictReader(f))
    ref = [row for row in rows if row["date"][:4] in ("2012", "2013")]
    cur = [row for row in rows if row["date"][:4] == "2015"]
    for name, part in (("ref.csv", ref), ("cur.csv", cur)):
        with open(os.path.join(HERE, name), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(COLUMNS)
            for row in part:
                w.writerow([row[k] for k in COLUMNS])
    golden = {"scipy": scipy.__version__, "ref_rows": len(ref), "cur_rows": len(cur), "columns": {}}
    for k in NUMERIC:
        r = np.array([float(row[k]) for row in ref])
        c = np.array([float(row[k]) for row in cur])
        golden["columns"][k] = {"type": "numeric", "stats": numeric(r, c)}
    for k in CATEGORICAL:
        golden["columns"][k] = {"type": "categorical",
                                "stats": categorical([row[k] for row in ref], [row[k] for row in cur])}
    with open(os.path.join(HERE, "golden.json"), "w") as f:
        json.dump(golden, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
