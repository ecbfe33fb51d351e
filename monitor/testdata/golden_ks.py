# Golden values for monitor/ks.go and monitor/kolmogorov.go.
#
# Regenerate (from the repository root) with SciPy 1.10:
#
#   /usr/bin/python3 monitor/testdata/golden_ks.py > monitor/testdata/ks.json
#
# Sections of the output:
#   samples: two-sample tests on real columns (../../testdata/*.csv) and on
#            seeded random samples, with scipy.stats.ks_2samp(a, b) (defaults).
#   weyl:    large samples the Go test regenerates itself (a Weyl sequence
#            x_i = loc + scale * ((i * alpha) % 1.0), i = 1..n, computed with
#            the same float64 operations on both sides), for the asymptotic
#            path without storing 10^4+ values.
#   pvalue:  KSPValue(d, n, m) against the ks_2samp p-value logic.
#   kstwo:   scipy.stats.kstwo.sf(d, n) over every branch of its algorithm.
#   smirnov: scipy.special.smirnov(n, d) for the region kstwo uses.
import json
import math
import os
import sys
import warnings

import numpy as np
import pandas as pd
import scipy
from scipy import special, stats
from scipy.stats import _stats_py

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "testdata")

warnings.simplefilter("ignore", RuntimeWarning)


def read(name):
    return pd.read_csv(os.path.join(DATA, name))


def pvalue_logic(d, n1, n2):
    """The tail of ks_2samp (two-sided, method='auto'): exact when
    max(n1, n2) <= 10000 and the exact computation succeeds, else kstwo.sf."""
    g = math.gcd(n1, n2)
    if max(n1, n2) <= 10000:
        ok, d2, prob = _stats_py._attempt_exact_2kssamp(n1, n2, g, d, "two-sided")
        if ok:
            return float(d2), float(np.clip(prob, 0, 1)), True
        d = d2
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    prob = stats.kstwo.sf(d, np.round(en))
    return float(d), float(np.clip(prob, 0, 1)), False


def jnum(x):
    """A JSON number, or the strings "inf" / "-inf" (JSON has no infinities)."""
    x = float(x)
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def sample_case(name, a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    r = stats.ks_2samp(a, b)
    d2, p2, exact = pvalue_logic(float(r.statistic), len(a), len(b))
    # The replica must agree with ks_2samp itself.
    assert d2 == float(r.statistic) and (p2 == float(r.pvalue)), (name, r, d2, p2)
    return {
        "name": name,
        "a": [jnum(x) for x in a],
        "b": [jnum(x) for x in b],
        "d": float(r.statistic),
        "p": float(r.pvalue),
        "exact": exact,
    }


def weyl(n, alpha, loc, scale):
    out = []
    for i in range(1, n + 1):
        out.append(loc + scale * ((i * alpha) % 1.0))
    return np.array(out)


def main():
    samples = []
    # The example from the SciPy documentation / issue: D = 2/3, p = 0.6.
    samples.append(sample_case("published", [0.99, 1.99], [1.0, 2.0, 3.0]))

    bc = read("breast_cancer.csv")
    for col in ["mean_radius", "mean_texture", "mean_smoothness", "fractal_dimension_error",
                "texture_error", "symmetry_error"]:
        samples.append(sample_case("breast_cancer/%s by class" % col,
                                   bc[bc.target == 0][col], bc[bc.target == 1][col]))
    # equal sizes from one class split in half
    b1 = bc[bc.target == 1]
    samples.append(sample_case("breast_cancer/mean_area class1 halves",
                               b1.mean_area.iloc[:178], b1.mean_area.iloc[178:356]))

    wine = read("wine.csv")
    for col in ["alcohol", "ash", "magnesium", "proline", "hue"]:
        for c1, c2 in [(0, 1), (1, 2), (0, 2)]:
            samples.append(sample_case("wine/%s class %d vs %d" % (col, c1, c2),
                                       wine[wine.target == c1][col], wine[wine.target == c2][col]))

    iris = read("iris.csv")
    for col in ["sepal_length_cm", "sepal_width_cm", "petal_length_cm"]:
        samples.append(sample_case("iris/%s setosa vs versicolor (equal n, ties)" % col,
                                   iris[iris.target == 0][col], iris[iris.target == 1][col]))
        samples.append(sample_case("iris/%s versicolor vs virginica" % col,
                                   iris[iris.target == 1][col], iris[iris.target == 2][col]))

    diab = read("diabetes.csv")
    for col in ["age", "bmi", "bp", "s5", "target"]:
        samples.append(sample_case("diabetes/%s by sex" % col,
                                   diab[diab.sex == 1.0][col], diab[diab.sex == 2.0][col]))

    sw = read("seattle-weather.csv")
    year = sw.date.str[:4]
    for col in ["temp_max", "temp_min", "wind", "precipitation"]:
        samples.append(sample_case("seattle/%s 2012 vs 2015" % col,
                                   sw[year == "2012"][col], sw[year == "2015"][col]))
        samples.append(sample_case("seattle/%s 2013 vs 2014 (equal n)" % col,
                                   sw[year == "2013"][col], sw[year == "2014"][col]))

    fl = read("flights-20k.csv")
    day = fl.date.str[8:10].astype(int)
    hour = fl.date.str[11:13].astype(int)
    samples.append(sample_case("flights/delay day 1 vs day 2 (asymptotic)", fl[day == 1].delay, fl[day == 2].delay))
    samples.append(sample_case("flights/delay 07h vs 08h", fl[hour == 7].delay, fl[hour == 8].delay))
    samples.append(sample_case("flights/distance 20h vs 21h", fl[hour == 20].distance, fl[hour == 21].distance))
    samples.append(sample_case("flights/delay 06h vs 19h", fl[hour == 6].delay, fl[hour == 19].delay))
    samples.append(sample_case("flights/delay morning vs evening (asymptotic)", fl[hour < 12].delay, fl[hour >= 18].delay))
    samples.append(sample_case("flights/delay first 12000 vs last 8000 (asymptotic)",
                               fl.delay.iloc[:12000], fl.delay.iloc[12000:]))
    samples.append(sample_case("flights/distance first 15000 vs last 5000 (asymptotic)",
                               fl.distance.iloc[:15000], fl.distance.iloc[15000:]))
    samples.append(sample_case("flights/delay first 10000 vs last 10000 (exact, equal n)",
                               fl.delay.iloc[:10000], fl.delay.iloc[10000:]))

    rng = np.random.RandomState(20260109)

    def r6(x):
        # rounded to 6 significant digits to keep the JSON small (ties appear)
        return np.array([float("%.6g" % v) for v in x])

    for (n1, n2, shift) in [(1, 1, 0.0), (1, 7, 0.0), (3, 3, 0.5), (8, 5, 1.0), (20, 20, 0.0),
                            (30, 45, 0.3), (100, 100, 0.2), (250, 120, 2.0), (400, 401, 0.1),
                            (1000, 1500, 0.05), (2000, 2000, 0.5), (13, 2000, 0.2), (700, 300, 0.0),
                            (60, 40, 3.0), (5, 500, 0.0)]:
        a = r6(rng.normal(0, 1, n1))
        b = r6(rng.normal(shift, 1, n2))
        samples.append(sample_case("random normal n=%d m=%d shift=%g" % (n1, n2, shift), a, b))
    # integer-valued (ties)
    for (n1, n2, lam1, lam2) in [(300, 500, 3.0, 3.0), (1000, 800, 2.0, 2.5), (50, 50, 1.0, 1.0)]:
        a = rng.poisson(lam1, n1).astype(float)
        b = rng.poisson(lam2, n2).astype(float)
        samples.append(sample_case("random poisson n=%d m=%d" % (n1, n2), a, b))
    # infinities are allowed
    samples.append(sample_case("with infinities", [-np.inf, 0.0, 1.0, np.inf, 2.0], [0.5, np.inf, 3.0, -1.0]))

    weyls = []
    alpha1 = (math.sqrt(5) - 1) / 2
    alpha2 = math.sqrt(2) - 1
    for (n1, loc1, sc1, n2, loc2, sc2) in [
        (12000, 0.0, 1.0, 9000, 0.0, 1.0),
        (12000, 0.0, 1.0, 9000, 0.01, 1.0),
        (20000, 0.0, 1.0, 50, 0.1, 1.0),
        (20000, 0.0, 1.0, 150, 0.05, 1.0),
        (11000, 0.0, 1.0, 11000, 0.002, 1.0),
        (15000, 0.0, 1.0, 12000, 0.3, 1.0),
        (30000, 0.0, 1.0, 1, 0.5, 1.0),
        (10001, 0.0, 1.0, 3, 0.9, 1.0),
        (10500, 0.0, 1.0, 200, 0.0, 1.3),
    ]:
        a = weyl(n1, alpha1, loc1, sc1)
        b = weyl(n2, alpha2, loc2, sc2)
        r = stats.ks_2samp(a, b)
        d2, p2, exact = pvalue_logic(float(r.statistic), n1, n2)
        assert d2 == float(r.statistic) and p2 == float(r.pvalue)
        weyls.append({"n": n1, "alpha_a": alpha1, "loc_a": loc1, "scale_a": sc1,
                      "m": n2, "alpha_b": alpha2, "loc_b": loc2, "scale_b": sc2,
                      "d": float(r.statistic), "p": float(r.pvalue), "exact": exact})

    pv = []
    for (d, n1, n2) in [(0.5, 10, 10), (0.1, 10, 10), (0.1, 5, 5), (0.2, 5, 5), (1.0, 7, 7),
                        (0.3, 100, 100), (0.05, 1000, 1000), (0.9, 50, 50),
                        (0.3, 7, 11), (0.123456, 37, 50), (0.61, 300, 17), (1.0, 3, 4),
                        (0.02, 9999, 10000), (0.05, 5000, 3000), (0.5, 2000, 3),
                        (0.01, 12000, 9000), (0.02, 12000, 9000), (0.03, 20000, 20000),
                        (0.2, 100000, 50), (0.6, 100000, 50), (0.005, 1000000, 100000),
                        (0.02, 1000000, 100000), (0.1, 1000000, 100000), (0.0001, 1000000, 1000000),
                        (0.002, 1000000, 1000000), (0.6, 20000, 2), (0.99, 20000, 1)]:
        d2, p, exact = pvalue_logic(d, n1, n2)
        pv.append({"d": d, "n": n1, "m": n2, "d_out": d2, "p": p, "exact": exact})

    ks2 = []
    pts = []
    for n in [1, 2, 3, 5, 10, 40, 100, 140, 141, 500, 1000, 5000, 20000, 99999, 100001, 400000,
              1000001, 3000000]:
        cand = set()
        for t in [0.3, 0.5, 0.51, 0.75, 1.0]:  # n*d (Ruben-Gambino lower region)
            cand.add(t / n)
        for nd2 in [0.1, 0.3, 0.754, 0.76, 1.0, 2.0, 2.19, 2.21, 3.9, 4.1, 10, 18, 50, 369, 371]:
            cand.add(math.sqrt(nd2 / n))
        for x in [0.49, 0.5, 0.7, 1 - 1.0 / n, 1 - 0.5 / n, 0.999999]:
            cand.add(x)
        for x in sorted(cand):
            if 0 < x < 1:
                pts.append((n, x))
    for (n, x) in pts:
        ks2.append({"n": n, "d": x, "sf": float(stats.kstwo.sf(x, n))})

    sm = []
    for n in [2, 5, 10, 50, 140, 141, 1000, 1013, 20000, 100000, 1000000, 1000001]:
        for x in [1.0 / n, 1.5 / n, 0.5, 0.7, 1 - 1.0 / n, 1 - 0.3 / n,
                  math.sqrt(2.2 / n), math.sqrt(4 / n), math.sqrt(30 / n), math.sqrt(300 / n)]:
            if 0 < x < 1:
                sm.append({"n": n, "d": x, "sf": float(special.smirnov(n, x))})

    out = {
        "scipy": scipy.__version__,
        "samples": samples,
        "weyl": weyls,
        "pvalue": pv,
        "kstwo": ks2,
        "smirnov": sm,
    }
    json.dump(out, sys.stdout, separators=(",", ":"), allow_nan=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
