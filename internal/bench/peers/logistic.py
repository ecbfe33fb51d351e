#!/usr/bin/python3
"""scikit-learn peer of the bench suite for logistic regression (train.FitLogistic).

    /usr/bin/python3 logistic.py TRAIN.csv TEST.csv TARGET RUNS

It reads both CSV files with pandas (not timed): every column except TARGET
is a numeric feature, TARGET holds the classes. The features are
standardized with a StandardScaler fitted on the training set (not timed).
The model is LogisticRegression() with scikit-learn's defaults (solver
lbfgs, L2 penalty, C=1.0, tol=1e-4, multi_class "auto": a binary sigmoid
model for two classes, a multinomial softmax otherwise) except
max_iter=1000 instead of 100, so that multinomial fits on larger data
converge instead of stopping with a warning; set Kiln's
LogisticOptions.MaxIter to 1000 for a like-for-like comparison. It is fitted
RUNS times on the training set, each fit timed alone (fit only).
It prints one JSON line

    {"fit_seconds": [...], "accuracy": A, "log_loss": L, "n_iter": I,
     "classes": K, "train_rows": N, "test_rows": M, "features": D,
     "sklearn": VERSION}

where accuracy and log_loss are those of the last fit on the test set and
n_iter is the number of lbfgs iterations it took.
"""

import json
import sys
import time

import numpy as np
import pandas as pd
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from sklearn.preprocessing import StandardScaler


def load(path, target):
    df = pd.read_csv(path)
    if target not in df.columns:
        sys.exit(f"logistic.py: {path}: no column {target!r} (columns {list(df.columns)})")
    y = df[target].to_numpy()
    x = df.drop(columns=[target]).to_numpy(dtype=np.float64)
    return x, y


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    train_path, test_path, target, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    if runs < 1:
        sys.exit("logistic.py: RUNS must be at least 1")
    x_train, y_train = load(train_path, target)
    x_test, y_test = load(test_path, target)
    scaler = StandardScaler().fit(x_train)
    x_train = scaler.transform(x_train)
    x_test = scaler.transform(x_test)

    seconds = []
    model = None
    for _ in range(runs):
        model = LogisticRegression(max_iter=1000)
        start = time.perf_counter()
        model.fit(x_train, y_train)
        seconds.append(time.perf_counter() - start)

    proba = model.predict_proba(x_test)
    pred = model.classes_[np.argmax(proba, axis=1)]
    print(json.dumps({
        "fit_seconds": seconds,
        "accuracy": float(accuracy_score(y_test, pred)),
        "log_loss": float(log_loss(y_test, proba, labels=model.classes_)),
        "n_iter": int(np.max(model.n_iter_)),
        "classes": int(len(model.classes_)),
        "train_rows": int(x_train.shape[0]),
        "test_rows": int(x_test.shape[0]),
        "features": int(x_train.shape[1]),
        "sklearn": sklearn.__version__,
    }), flush=True)


if __name__ == "__main__":
    main()
