"""Peer of the `drift` suite of internal/bench: SciPy's two-sample
Kolmogorov-Smirnov test and Wasserstein distance over every column.

    /usr/bin/python3 internal/bench/peers/drift.py DIR COLS REF_ROWS CUR_ROWS RUNS

DIR holds ref_NN.f64 and cur_NN.f64 (NN = 00 .. COLS-1), each a column of
little-endian float64 values, REF_ROWS and CUR_ROWS long. The files are read
once with numpy.fromfile (not timed); each of RUNS runs then computes, for
every column, scipy.stats.ks_2samp(ref, cur) (default options) and
scipy.stats.wasserstein_distance(ref, cur), and is timed with
time.perf_counter. The last line of standard output is one JSON object:

    {"scipy":..,"numpy":..,"seconds":[..],"ks_d":[..],"ks_p":[..],"wasserstein":[..]}

with the statistics of the last run, one per column.
"""
import json
import os
import sys
import time

import numpy as np
import scipy
from scipy import stats


def main():
    if len(sys.argv) != 6:
        sys.exit("usage: drift.py DIR COLS REF_ROWS CUR_ROWS RUNS")
    folder = sys.argv[1]
    cols, ref_rows, cur_rows, runs = (int(a) for a in sys.argv[2:])
    ref, cur = [], []
    for j in range(cols):
        r = np.fromfile(os.path.join(folder, "ref_%02d.f64" % j), dtype="<f8")
        c = np.fromfile(os.path.join(folder, "cur_%02d.f64" % j), dtype="<f8")
        if len(r) != ref_rows or len(c) != cur_rows:
            sys.exit("column %d: %d and %d values, want %d and %d" % (j, len(r), len(c), ref_rows, cur_rows))
        ref.append(r)
        cur.append(c)
    seconds = []
    ks_d, ks_p, wd = [], [], []
    for _ in range(runs):
        ks_d, ks_p, wd = [], [], []
        t0 = time.perf_counter()
        for r, c in zip(ref, cur):
            res = stats.ks_2samp(r, c)
            w = stats.wasserstein_distance(r, c)
            ks_d.append(float(res.statistic))
            ks_p.append(float(res.pvalue))
            wd.append(float(w))
        seconds.append(time.perf_counter() - t0)
    print(json.dumps({
        "scipy": scipy.__version__,
        "numpy": np.__version__,
        "seconds": seconds,
        "ks_d": ks_d,
        "ks_p": ks_p,
        "wasserstein": wd,
    }))


if __name__ == "__main__":
    main()
