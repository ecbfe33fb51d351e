"""Writes linear_golden.json: scikit-learn 1.2.1 reference fits for train/linear_test.go
and train/logistic_test.go.

Run from this directory with the system Python (scikit-learn 1.2.1, numpy 1.24):

    /usr/bin/python3 make_linear_golden.py

Inputs are the data files beside this script (copies of ../../../shared/data). The
Go tests rebuild every design matrix the same way (see the "x" notes per case):
  diabetes           the 10 raw feature columns
  diabetes_dup       the 10 columns plus a copy of bmi (rank deficient)
  diabetes_wide      the first 6 rows of diabetes (more columns than rows)
  y2                 targets [target, 100*s5 + bmi] (two outputs)
  breast_cancer_std  the 30 columns standardized with population std (StandardScaler)
  iris               the 4 raw columns
  iris_12            the rows of iris with target 1 or 2 (labels stay 1 and 2)
Logistic references: scikit-learn's fit with tol=1e-10 and max_iter=10000 still
stops on L-BFGS-B's relative-decrease test (ftol = 64 eps) with a gradient of ~1e-3,
its coefficients up to 2e-3 (relative) from the optimum on the ill-conditioned raw
iris data. So every case also records "opt_coef"/"opt_intercept": the optimum of
the same objective (summed log loss + ||W||^2/(2C)) polished from scikit-learn's
solution with SciPy's BFGS to a gradient below 1e-7; the script checks that it is
no worse than scikit-learn's objective and within 1e-2 of its coefficients. The Go
tests compare coefficients (1e-4 relative) and probabilities ("opt_proba", 1e-5)
with the optimum, and predicted classes with scikit-learn's.
"""
import json

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import logsumexp
import sklearn
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler

assert sklearn.__version__ == "1.2.1", sklearn.__version__


def load(name):
    df = pd.read_csv(name)
    y = df.pop("target").to_numpy()
    return df.to_numpy(dtype=np.float64), y, list(df.columns)


dx, dy, dcols = load("diabetes.csv")
bmi, s5 = dx[:, dcols.index("bmi")], dx[:, dcols.index("s5")]
designs = {
    "diabetes": dx,
    "diabetes_dup": np.column_stack([dx, bmi]),
    "diabetes_wide": dx[:6],
}
targets = {
    "y": dy.astype(np.float64),
    "y2": np.column_stack([dy, 100 * s5 + bmi]),
}

linear = []


def add_linear(name, design, target, l2, no_intercept):
    x = designs[design]
    y = targets[target][: len(x)]
    if l2 == 0:
        m = LinearRegression(fit_intercept=not no_intercept).fit(x, y)
    else:
        m = Ridge(alpha=l2, fit_intercept=not no_intercept).fit(x, y)
    coef = np.atleast_2d(m.coef_)
    intercept = np.atleast_1d(m.intercept_) if not no_intercept else np.zeros(coef.shape[0])
    if l2 == 0:
        # The reference for least squares is numpy's min-norm lstsq on centred data
        # (rcond = eps*max(n, d), as Kiln uses). scikit-learn's LinearRegression calls
        # scipy's gelsd with rcond = eps, which keeps a singular value of 3.7e-16 relative
        # in diabetes_wide and returns a solution that is not the min-norm one; every other
        # case must agree with it.
        xc, yc, xm, ym = x, y, np.zeros(x.shape[1]), np.zeros(y.shape[1:])
        if not no_intercept:
            xm, ym = x.mean(0), y.mean(0)
            xc, yc = x - xm, y - ym
        ref = np.linalg.lstsq(xc, yc, rcond=None)[0]
        if design != "diabetes_wide":
            assert np.allclose(np.atleast_2d(ref.T), coef, rtol=1e-8, atol=1e-8), name
        coef = np.atleast_2d(ref.T)
        intercept = np.atleast_1d(ym - xm @ ref) if not no_intercept else np.zeros(coef.shape[0])
    pred = x @ coef.T + intercept
    if y.ndim == 1:
        pred = pred[:, 0]
    else:
        assert np.allclose(pred, m.predict(x)) or design == "diabetes_wide"
    linear.append(dict(name=name, x=design, y=target, l2=l2, no_intercept=no_intercept,
                       coef=coef.tolist(), intercept=intercept.tolist(),
                       pred=pred.tolist()))


add_linear("ols", "diabetes", "y", 0.0, False)
add_linear("ols_no_intercept", "diabetes", "y", 0.0, True)
add_linear("ols_two_targets", "diabetes", "y2", 0.0, False)
add_linear("ols_rank_deficient", "diabetes_dup", "y", 0.0, False)
add_linear("ols_wide", "diabetes_wide", "y", 0.0, False)
add_linear("ridge", "diabetes", "y", 1.0, False)
add_linear("ridge_small_alpha", "diabetes", "y", 0.01, False)
add_linear("ridge_no_intercept", "diabetes", "y", 10.0, True)
add_linear("ridge_two_targets", "diabetes", "y2", 0.5, False)
add_linear("ridge_rank_deficient", "diabetes_dup", "y", 1.0, False)
add_linear("ridge_wide", "diabetes_wide", "y", 1.0, False)

bx, by, _ = load("breast_cancer.csv")
ix, iy, _ = load("iris.csv")
ldesigns = {
    "breast_cancer_std": (StandardScaler().fit_transform(bx), by),
    "iris": (ix, iy),
    "iris_12": (ix[iy > 0], iy[iy > 0]),
}

logistic = []


def polish(x, y, m, alpha, fit_intercept):
    """Returns the optimum of scikit-learn's objective near m's solution."""
    cl = m.classes_
    w0 = m.coef_
    k, d = w0.shape
    onehot = (y[:, None] == cl[None, :]).astype(float)

    def f(p):
        w = p[: k * d].reshape(k, d)
        b = p[k * d:] if fit_intercept else np.zeros(k)
        z = x @ w.T + b
        if k == 1:
            yy, z = onehot[:, 1], z[:, 0]
            loss = np.sum(np.logaddexp(0, z) - yy * z)
            r = (1 / (1 + np.exp(-z)) - yy)[:, None]
        else:
            lse = logsumexp(z, axis=1)
            loss = np.sum(lse - np.sum(onehot * z, 1))
            r = np.exp(z - lse[:, None]) - onehot
        loss += 0.5 * alpha * np.sum(w * w)
        g = [(r.T @ x + alpha * w).ravel()]
        if fit_intercept:
            g.append(r.sum(0))
        return loss, np.concatenate(g)

    p0 = np.concatenate([w0.ravel()] + ([m.intercept_] if fit_intercept else []))
    res = minimize(f, p0, jac=True, method="BFGS", options=dict(gtol=1e-10, maxiter=100000))
    grad = float(np.abs(res.jac).max())
    assert grad < 1e-7 and res.fun <= f(p0)[0], (grad, res.fun, f(p0)[0])
    assert np.abs(res.x - p0).max() <= 1e-2 * np.abs(p0).max()
    coef = res.x[: k * d].reshape(k, d)
    intercept = res.x[k * d:] if fit_intercept else np.zeros(k)
    return coef, intercept, grad


def proba(x, coef, intercept):
    z = x @ coef.T + intercept
    if coef.shape[0] == 1:
        p = 1 / (1 + np.exp(-z[:, 0]))
        return np.column_stack([1 - p, p])
    return np.exp(z - logsumexp(z, axis=1)[:, None])


def add_logistic(name, design, c, penalty, no_intercept):
    x, y = ldesigns[design]
    m = LogisticRegression(C=c, penalty=penalty, fit_intercept=not no_intercept,
                           tol=1e-10, max_iter=10000).fit(x, y)
    opt_coef, opt_intercept, grad = polish(x, y, m, 0 if penalty == "none" else 1 / c, not no_intercept)
    logistic.append(dict(name=name, x=design, c=c, no_penalty=penalty == "none",
                         opt_coef=opt_coef.tolist(), opt_intercept=opt_intercept.tolist(),
                         opt_grad=grad, opt_proba=proba(x, opt_coef, opt_intercept).tolist(),
                         no_intercept=no_intercept, classes=m.classes_.tolist(),
                         coef=m.coef_.tolist(),
                         intercept=np.atleast_1d(m.intercept_).tolist() if not no_intercept
                         else [0.0] * m.coef_.shape[0],
                         n_iter=int(m.n_iter_[0]),
                         pred=m.predict(x).tolist()))


add_logistic("binary", "breast_cancer_std", 1.0, "l2", False)
add_logistic("binary_strong_penalty_no_intercept", "breast_cancer_std", 0.05, "l2", True)
add_logistic("binary_labels_1_2", "iris_12", 100.0, "l2", False)
add_logistic("multinomial", "iris", 1.0, "l2", False)
add_logistic("multinomial_c0.1_no_intercept", "iris", 0.1, "l2", True)
add_logistic("multinomial_c10", "iris", 10.0, "l2", False)

with open("linear_golden.json", "w") as f:
    json.dump(dict(sklearn=sklearn.__version__, linear=linear, logistic=logistic), f, indent=1)
    f.write("\n")
