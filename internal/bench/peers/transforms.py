#!/usr/bin/python3
"""scikit-learn peer of the bench suite "transforms" (internal/bench/transforms.go).

    /usr/bin/python3 transforms.py FLIGHTS.csv

It loads delay, distance, origin and destination from the CSV with pandas
(not timed), prints one line {"ready": ROWS, "sklearn": VERSION}, then for
every line "run" on standard input fits and applies

    ColumnTransformer([
        ("standard", StandardScaler(), ["distance"]),
        ("impute", SimpleImputer(strategy="median"), ["delay"]),
        ("onehot", OneHotEncoder(), ["origin", "destination"]),
    ])

with fit_transform on the whole frame and prints one line
{"seconds": S, "rows": R, "columns": C, "check": X}, where S times
fit_transform alone and check is the sum of the first two output columns
(the scaled and imputed numbers) for the harness to compare with Kiln's.
scikit-learn's defaults are kept: the one-hot columns come out sparse (CSR),
its fastest form. "quit" or end of input stops it.
"""

import json
import sys
import time

import numpy as np
import pandas as pd
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def main():
    df = pd.read_csv(sys.argv[1], usecols=["delay", "distance", "origin", "destination"],
                     dtype={"delay": np.int64, "distance": np.int64, "origin": object, "destination": object})
    print(json.dumps({"ready": len(df), "sklearn": sklearn.__version__}), flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "quit":
            break
        if cmd != "run":
            print(json.dumps({"error": f"unknown command {cmd!r}"}), flush=True)
            continue
        ct = ColumnTransformer([
            ("standard", StandardScaler(), ["distance"]),
            ("impute", SimpleImputer(strategy="median"), ["delay"]),
            ("onehot", OneHotEncoder(), ["origin", "destination"]),
        ])
        start = time.perf_counter()
        X = ct.fit_transform(df)
        seconds = time.perf_counter() - start
        check = float(X[:, :2].sum())
        print(json.dumps({"seconds": seconds, "rows": X.shape[0], "columns": X.shape[1], "check": check}), flush=True)
        del X, ct


if __name__ == "__main__":
    main()
