#!/usr/bin/python3
"""Regenerate golden.json for package train/metrics.

Run from the repository root with the system Python (scikit-learn 1.2.1, numpy 1.24):

    /usr/bin/python3 train/metrics/testdata/make_golden.py

Every input is generated here from a fixed numpy seed, so the output is reproducible.
The Go test (golden_test.go) recomputes every metric and compares within 1e-12 relative.
"""
import json
import os
import warnings

import numpy as np
import sklearn
from sklearn import metrics

warnings.simplefilter("ignore")  # zero-division and no-positive warnings are part of the cases

rng = np.random.default_rng(20240508)


def ints(a):
    return [int(v) for v in a]


def floats(a):
    return [float(v) for v in np.asarray(a, dtype=np.float64).ravel()]


def classification_case(name, y_true, y_pred, num_classes):
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    c = {
        "name": name,
        "y_true": ints(y_true),
        "y_pred": ints(y_pred),
        "num_classes": num_classes,
        "accuracy": float(metrics.accuracy_score(y_true, y_pred)),
        "confusion_matrix": [ints(r) for r in metrics.confusion_matrix(y_true, y_pred, labels=list(range(num_classes)))],
    }
    for fn_name, fn in (("precision", metrics.precision_score), ("recall", metrics.recall_score), ("f1", metrics.f1_score)):
        d = {}
        for avg in ("macro", "micro", "weighted"):
            d[avg] = float(fn(y_true, y_pred, average=avg, zero_division=0))
        if set(np.unique(np.r_[y_true, y_pred])) <= {0, 1}:
            d["binary"] = float(fn(y_true, y_pred, average="binary", zero_division=0))
        c[fn_name] = d
    return c


def score_case(name, y_true, score):
    y_true = np.asarray(y_true, dtype=np.int64)
    score = np.asarray(score, dtype=np.float64)
    c = {
        "name": name,
        "y_true": ints(y_true),
        "score": floats(score),
        "pr_auc": float(metrics.average_precision_score(y_true, score)),
    }
    if len(np.unique(y_true)) == 2:
        c["roc_auc"] = float(metrics.roc_auc_score(y_true, score))
    if score.min() >= 0 and score.max() <= 1 and len(np.unique(y_true)) == 2:
        c["binary_log_loss"] = float(metrics.log_loss(y_true, score))
    return c


def proba_case(name, y_true, proba, roc=True):
    y_true = np.asarray(y_true, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    k = proba.shape[1]
    c = {
        "name": name,
        "y_true": ints(y_true),
        "num_classes": k,
        "proba": floats(proba),
        "log_loss": float(metrics.log_loss(y_true, proba, labels=list(range(k)))),
    }
    if roc:
        for avg in ("macro", "weighted", "micro"):
            c["roc_auc_" + avg] = float(metrics.roc_auc_score(y_true, proba, multi_class="ovr", average=avg))
    return c


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def noisy_proba(y, k, strength):
    z = rng.normal(size=(len(y), k))
    z[np.arange(len(y)), y] += strength
    return softmax(z)


classification = []
scores = []
probas = []
regression = []

# Binary.
y = rng.integers(0, 2, size=200)
s = np.clip(0.5 * y + rng.normal(0.25, 0.3, size=200), 0, 1)
classification.append(classification_case("binary", y, (s > 0.5).astype(int), 2))
scores.append(score_case("binary_continuous", y, s))
scores.append(score_case("binary_ties", y, np.round(s, 1)))
scores.append(score_case("binary_all_tied", y, np.full(200, 0.3)))
scores.append(score_case("binary_unbounded_scores", y, 4 * s - 2 + rng.normal(0, 0.1, size=200)))
scores.append(score_case("binary_perfect", np.r_[np.zeros(10), np.ones(7)], np.r_[np.linspace(0, 0.4, 10), np.linspace(0.6, 1, 7)]))
scores.append(score_case("binary_clipped_log_loss", [0, 1, 1, 0, 1, 0], [0.0, 1.0, 0.0, 1.0, 0.7, 0.2]))
scores.append(score_case("binary_small_hand", [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]))
scores.append(score_case("pr_all_positive", [1, 1, 1, 1, 1], [0.1, 0.5, 0.5, 0.9, 0.2]))
scores.append(score_case("pr_all_negative", [0, 0, 0, 0], [0.1, 0.5, 0.5, 0.9]))
classification.append(classification_case("binary_never_predicted_positive", y, np.zeros(200, dtype=int), 2))
classification.append(classification_case("binary_all_correct", [0, 1, 1, 0, 1], [0, 1, 1, 0, 1], 2))
classification.append(classification_case("binary_single_class_true", [1, 1, 1, 1], [1, 0, 1, 1], 2))

# 3-class.
y3 = rng.integers(0, 3, size=150)
p3 = noisy_proba(y3, 3, 1.5)
classification.append(classification_case("class3", y3, p3.argmax(axis=1), 3))
probas.append(proba_case("class3", y3, p3))
probas.append(proba_case("class3_ties", y3, np.round(p3, 1) / np.round(p3, 1).sum(axis=1, keepdims=True)))
# Unnormalised rows and zeros/ones, renormalised by log_loss (no ROC: rows do not sum to one).
raw = np.round(p3 * 1.7, 2)
raw[:5] = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.2, 0.2, 0.2], [0, 0.5, 0.5]]
probas.append(proba_case("class3_unnormalised", y3, raw, roc=False))

# 10-class with imbalance.
y10 = rng.choice(10, size=500, p=np.array([30, 20, 15, 10, 8, 6, 5, 3, 2, 1]) / 100)
y10[:10] = np.arange(10)  # every class present
p10 = noisy_proba(y10, 10, 2.0)
pred10 = p10.argmax(axis=1)
classification.append(classification_case("class10", y10, pred10, 10))
probas.append(proba_case("class10", y10, p10))

# A class never predicted (4 classes, predictions never 3) and a class only predicted (label 4 never true).
y4 = rng.integers(0, 4, size=120)
pred4 = np.where(rng.random(120) < 0.6, y4, rng.integers(0, 4, size=120))
pred4[pred4 == 3] = 0
classification.append(classification_case("class_never_predicted", y4, pred4, 4))
pred5 = pred4.copy()
pred5[::7] = 4
classification.append(classification_case("class_only_predicted", y4, pred5, 5))
# Labels with gaps: 0, 2, 5 only (num_classes 6 for the confusion matrix).
yg = rng.choice([0, 2, 5], size=60)
pg = np.where(rng.random(60) < 0.5, yg, rng.choice([0, 2, 5], size=60))
classification.append(classification_case("label_gaps", yg, pg, 6))

# Regression.
xr = rng.normal(size=100)
yr = 3 * xr + rng.normal(size=100)
regression.append({"name": "regression", "y_true": floats(yr), "y_pred": floats(3.1 * xr + 0.2)})
regression.append({"name": "regression_bad", "y_true": floats(yr), "y_pred": floats(rng.normal(size=100) * 5)})
regression.append({"name": "constant_perfect", "y_true": [2.5] * 4, "y_pred": [2.5] * 4})
regression.append({"name": "constant_imperfect", "y_true": [2.5] * 4, "y_pred": [2.5, 2.5, 2.0, 2.5]})
regression.append({"name": "single", "y_true": [1.0], "y_pred": [3.0]})
for r in regression:
    t, p = np.array(r["y_true"]), np.array(r["y_pred"])
    r["rmse"] = float(metrics.mean_squared_error(t, p, squared=False))
    r["mae"] = float(metrics.mean_absolute_error(t, p))
    # sklearn returns NaN for fewer than two samples; metrics.R2 returns an error instead.
    r["r2"] = float(metrics.r2_score(t, p)) if len(t) >= 2 else None

out = {
    "generator": "train/metrics/testdata/make_golden.py",
    "sklearn": sklearn.__version__,
    "numpy": np.__version__,
    "classification": classification,
    "scores": scores,
    "proba": probas,
    "regression": regression,
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print("wrote", path)
