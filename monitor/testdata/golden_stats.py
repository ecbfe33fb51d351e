#!/usr/bin/python3
# Golden values for monitor/stats_test.go, computed with SciPy 1.10.
#
# Regenerate (from the repository root):
#
#     cd monitor/testdata && /usr/bin/python3 golden_stats.py > stats.json
#
# Real samples are described by a selection on a CSV file of the
# repository's testdata/ directory (the Go test reads the same rows);
# synthetic samples come from seeded NumPy generators and are stored
# verbatim.
import csv
import json
import math
import os
import warnings

import numpy as np
import scipy
from scipy import stats
from scipy.spatial import distance

assert scipy.__version__.startswith("1.10"), scipy.__version__
warnings.simplefilter("ignore")

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "testdata")


def rows(file):
    with open(os.path.join(DATA, file), newline="") as f:
        return list(csv.DictReader(f))


def select(spec):
    """Values of spec["column"] over the rows whose spec["where"] column
    starts with spec["prefix"], skipping spec.get("offset", 0) matches and
    keeping at most spec.get("limit") of them."""
    vals = [r[spec["column"]] for r in rows(spec["file"])
            if r[spec["where"]].startswith(spec["prefix"])]
    off = spec.get("offset", 0)
    vals = vals[off:]
    if "limit" in spec:
        vals = vals[:spec["limit"]]
    return vals


def real(file, column, where, prefix, offset=0, limit=None):
    s = {"file": file, "column": column, "where": where, "prefix": prefix}
    if offset:
        s["offset"] = offset
    if limit is not None:
        s["limit"] = limit
    return s


def f(x):
    x = float(x)
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if math.isnan(x):
        return "NaN"
    return x


# ---- numeric samples -------------------------------------------------------

sets = []  # each: {"name", "samples": [spec or list]}


def add(name, *samples):
    sets.append({"name": name, "samples": list(samples)})


add("breast_cancer mean_radius by target",
    real("breast_cancer.csv", "mean_radius", "target", "0"),
    real("breast_cancer.csv", "mean_radius", "target", "1"))
add("breast_cancer smoothness_error by target",
    real("breast_cancer.csv", "smoothness_error", "target", "0"),
    real("breast_cancer.csv", "smoothness_error", "target", "1"))
add("breast_cancer mean_texture first/last halves of target 1",
    real("breast_cancer.csv", "mean_texture", "target", "1", limit=170),
    real("breast_cancer.csv", "mean_texture", "target", "1", offset=170))
add("diabetes bmi by sex",
    real("diabetes.csv", "bmi", "sex", "1"),
    real("diabetes.csv", "bmi", "sex", "2"))
add("diabetes age by sex",
    real("diabetes.csv", "age", "sex", "1"),
    real("diabetes.csv", "age", "sex", "2"))
add("iris sepal_width class 1 vs 2 (ties)",
    real("iris.csv", "sepal_width_cm", "target", "1"),
    real("iris.csv", "sepal_width_cm", "target", "2"))
add("iris sepal_length class 1 (8) vs 2 (11), exact with ties",
    real("iris.csv", "sepal_length_cm", "target", "1", limit=8),
    real("iris.csv", "sepal_length_cm", "target", "2", limit=11))
add("iris petal_width class 0 halves (20 vs 20), exact with ties",
    real("iris.csv", "petal_width_cm", "target", "0", limit=20),
    real("iris.csv", "petal_width_cm", "target", "0", offset=25, limit=20))
add("iris sepal_length class 0 (21) vs 0 (20), asymptotic",
    real("iris.csv", "sepal_length_cm", "target", "0", limit=21),
    real("iris.csv", "sepal_length_cm", "target", "0", offset=25, limit=20))
add("seattle temp_max 2012 vs 2013",
    real("seattle-weather.csv", "temp_max", "date", "2012"),
    real("seattle-weather.csv", "temp_max", "date", "2013"))
add("seattle precipitation 2013 vs 2014",
    real("seattle-weather.csv", "precipitation", "date", "2013"),
    real("seattle-weather.csv", "precipitation", "date", "2014"))
add("flights delay 1 Jan hours 0-9 vs 10-19",
    real("flights-20k.csv", "delay", "date", "2001-01-01 0"),
    real("flights-20k.csv", "delay", "date", "2001-01-01 1"))
add("flights distance 1 Jan vs 2 Jan",
    real("flights-20k.csv", "distance", "date", "2001-01-01"),
    real("flights-20k.csv", "distance", "date", "2001-01-02"))
add("wine alcohol by class (3 samples)",
    real("wine.csv", "alcohol", "target", "0"),
    real("wine.csv", "alcohol", "target", "1"),
    real("wine.csv", "alcohol", "target", "2"))
add("wine magnesium by class (3 samples)",
    real("wine.csv", "magnesium", "target", "0"),
    real("wine.csv", "magnesium", "target", "1"),
    real("wine.csv", "magnesium", "target", "2"))
add("iris sepal_width by class (3 samples, ties)",
    real("iris.csv", "sepal_width_cm", "target", "0"),
    real("iris.csv", "sepal_width_cm", "target", "1"),
    real("iris.csv", "sepal_width_cm", "target", "2"))

rng = np.random.default_rng(20260921)


def syn(name, *samples):
    add(name, *[[float(v) for v in s] for s in samples])


syn("normal 500 vs normal 600", rng.normal(0, 1, 500), rng.normal(0, 1, 600))
syn("normal 400 vs normal+0.15 450", rng.normal(0, 1, 400), rng.normal(0.15, 1, 450))
syn("normal 300 vs normal+0.1 300", rng.normal(0, 1, 300), rng.normal(0.1, 1, 300))
syn("lognormal 5000 vs 4000 scaled", rng.lognormal(0, 1, 5000), 1.05 * rng.lognormal(0, 1, 4000))
syn("integers 0..9 3000 vs 2500 (ties)", rng.integers(0, 10, 3000), rng.integers(0, 10, 2500))
syn("exact 5 vs 7", rng.normal(0, 1, 5), rng.normal(0.5, 1, 7))
syn("exact 2 vs 2", rng.normal(0, 1, 2), rng.normal(0, 1, 2))
syn("exact 20 vs 20", rng.normal(0, 1, 20), rng.normal(0, 1, 20))
syn("exact 13 vs 20 shifted", rng.normal(0, 1, 13), rng.normal(1, 1, 20))
syn("exact 17 vs 3", rng.normal(0, 1, 17), rng.normal(0, 1, 3))
syn("exact 10 vs 12 integer ties", rng.integers(0, 5, 10), rng.integers(0, 5, 12))
syn("asymptotic 21 vs 5", rng.normal(0, 1, 21), rng.normal(0, 1, 5))
syn("asymptotic 40 vs 30 far apart", rng.normal(0, 1, 40), rng.normal(3, 1, 30))
syn("uniform 64 vs 48", rng.uniform(0, 1, 64), rng.uniform(0, 1, 48))
syn("tiny 2 vs 2 distinct", [1.0, 2.0], [3.0, 4.0])
syn("four samples with ties", rng.integers(0, 6, 30), rng.integers(0, 6, 25),
    rng.integers(0, 7, 40), rng.integers(1, 6, 35))

for s in sets:
    vals = [np.array([float(v) for v in select(x)]) if isinstance(x, dict) else np.array(x)
            for x in s["samples"]]
    s["sizes"] = [len(v) for v in vals]
    out = {}
    if len(vals) == 2:
        a, b = vals
        out["wasserstein"] = f(stats.wasserstein_distance(a, b))
        out["energy"] = f(stats.energy_distance(a, b))
        r = stats.cramervonmises_2samp(a, b)
        out["cvm_statistic"] = f(r.statistic)
        out["cvm_pvalue"] = f(r.pvalue)
        out["cvm_exact"] = max(len(a), len(b)) <= 20
    r = stats.anderson_ksamp(vals)
    out["ad_statistic"] = f(r.statistic)
    out["ad_pvalue"] = f(r.pvalue)
    out["ad_critical"] = [f(c) for c in r.critical_values]
    s["want"] = out

# ---- discrete distributions ------------------------------------------------


def counts(spec, cats):
    vals = select(spec)
    c = [vals.count(k) for k in cats]
    c.append(len(vals) - sum(c))  # everything else
    return c


dists = []


def dist(name, p, q, rspec=None):
    d = {"name": name}
    if rspec is not None:
        d["categories"] = rspec["categories"]
        d["ref_spec"] = rspec["ref"]
        d["cur_spec"] = rspec["cur"]
    d["p"] = [float(x) for x in p]
    d["q"] = [float(x) for x in q]
    dists.append(d)


weather = ["rain", "sun", "fog", "drizzle", "snow"]
for y1, y2 in [("2012", "2013"), ("2013", "2015"), ("2014", "2015")]:
    rs = real("seattle-weather.csv", "weather", "date", y1)
    cs = real("seattle-weather.csv", "weather", "date", y2)
    dist(f"seattle weather {y1} vs {y2}", counts(rs, weather), counts(cs, weather),
         {"categories": weather, "ref": rs, "cur": cs})
origins = ["ATL", "ORD", "DFW", "LAX", "PHX", "LAS", "DEN", "IAH", "DTW", "SFO"]
for m1, m2 in [("2001-01-01", "2001-01-02"), ("2001-01-01 0", "2001-01-01 1")]:
    rs = real("flights-20k.csv", "origin", "date", m1)
    cs = real("flights-20k.csv", "origin", "date", m2)
    dist(f"flights origin {m1} vs {m2}", counts(rs, origins), counts(cs, origins),
         {"categories": origins, "ref": rs, "cur": cs})
dist("zeros in both sides", [10, 0, 5, 7, 0], [3, 4, 0, 8, 0])
dist("proportions", [0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.25, 0.25])
dist("identical", [1, 2, 3], [2, 4, 6])
dist("disjoint", [1, 0], [0, 1])
dist("single bin", [5], [9])
r2 = np.random.default_rng(7)
dist("random 100 bins", r2.integers(0, 50, 100), r2.integers(0, 50, 100))
dist("random 300 bins", r2.uniform(0, 1, 300), r2.uniform(0, 1, 300))

EPS = 0.0001


def rz(w):
    w = np.asarray(w, dtype=float)
    w = w / np.sum(w)
    return np.where(w == 0, EPS, w)


def psi(p, q):
    return float(np.sum((rz(q) - rz(p)) * np.log(rz(q) / rz(p))))


def hellinger(p, q):
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    p = p / np.sum(p)
    q = q / np.sum(q)
    return float(np.sqrt(max(0.0, 1 - np.sum(np.sqrt(p * q)))))


for d in dists:
    p, q = np.array(d["p"]), np.array(d["q"])
    d["want"] = {
        "psi": f(psi(p, q)),
        "js": f(distance.jensenshannon(p, q, base=2)),
        "js_zero": f(distance.jensenshannon(rz(p), rz(q), base=2)),
        "kl": f(stats.entropy(p, q)),
        "kl_zero": f(stats.entropy(rz(p), rz(q))),
        "hellinger": f(hellinger(p, q)),
        "replace_zeros_p": [f(x) for x in rz(p)],
    }

# ---- contingency tables ----------------------------------------------------

tables = []


def table(name, t):
    t = [[float(x) for x in row] for row in t]
    out = {"name": name, "table": t}
    for corr in (True, False):
        r = stats.contingency.chi2_contingency(np.array(t), correction=corr)
        out["yates" if corr else "plain"] = {
            "statistic": f(r.statistic), "pvalue": f(r.pvalue), "dof": int(r.dof),
            "expected": [[f(x) for x in row] for row in r.expected_freq]}
    tables.append(out)


for d in dists:
    if d.get("categories"):
        t = [d["p"], d["q"]]
        keep = [i for i in range(len(t[0])) if t[0][i] + t[1][i] > 0]
        table(d["name"], [[row[i] for i in keep] for row in t])
years = ["2012", "2013", "2014", "2015"]
table("seattle weather by year (4x5)",
      [counts(real("seattle-weather.csv", "weather", "date", y), weather)[:-1] for y in years])
table("2x2 plain", [[12, 5], [7, 15]])
table("2x2 yates capped (|E-O| < 0.5)", [[10, 10], [10, 11]])
table("2x2 large", [[1200, 800], [1100, 950]])
table("2x2 tiny p", [[500, 20], [20, 500]])
table("2x3", [[3, 9, 12], [8, 4, 6]])
table("1x4 (dof 0)", [[3, 5, 2, 8]])
table("4x1 (dof 0)", [[3], [5], [2], [8]])
table("bool column vs class", [[48, 2], [3, 47]])

# ---- z-test, chi-square sf -------------------------------------------------

ztests = []
for x1, n1, x2, n2 in [(30, 100, 45, 100), (5, 20, 5, 20), (1, 1000, 9, 1000),
                       (500, 1000, 400, 800), (7000, 10000, 7150, 10000),
                       (10, 50, 40, 60), (0, 50, 0, 60), (50, 50, 60, 60),
                       (123, 4567, 98, 3210), (1, 2, 0, 3)]:
    p1, p2 = x1 / n1, x2 / n2
    pool = (x1 + x2) / (n1 + n2)
    if pool in (0.0, 1.0):
        z, p = 0.0, 1.0
    else:
        z = (p1 - p2) / math.sqrt(pool * (1 - pool) * (1 / n1 + 1 / n2))
        p = 2 * stats.norm.sf(abs(z))
    ztests.append({"x1": x1, "n1": n1, "x2": x2, "n2": n2, "z": f(z), "p": f(p)})

chi2sf = []
for k in [1, 2, 3, 4, 5, 7, 10, 19, 30, 99, 100, 500, 1000]:
    for x in [1e-6, 0.01, 0.5 * k, k - 0.5, float(k), 1.5 * k + 1, 3 * k + 10, 5 * k + 40]:
        chi2sf.append({"x": f(x), "k": k, "sf": f(stats.chi2.sf(x, k))})

json.dump({"scipy": scipy.__version__, "numeric": sets, "distributions": dists,
           "tables": tables, "ztest": ztests, "chi2sf": chi2sf},
          __import__("sys").stdout, indent=1)
print()
