#!/usr/bin/python3
"""Write the golden files that features/golden_test.go compares Kiln with.

Run from the repository root with Debian's scikit-learn 1.2 (apt-get install
python3-sklearn python3-pandas):

    /usr/bin/python3 features/testdata/golden/make_golden.py

It reads the real data sets in testdata/ (wine, breast_cancer, diabetes,
seattle-weather) and writes one JSON file per case next to this script:

    {
      "case": "wine_standard",            # the file name without .json
      "dataset": "wine.csv",              # where the input columns came from
      "reference": "...",                 # what computed "expected"
      "versions": {"sklearn": ..., "numpy": ..., "pandas": ...},
      "spec": {"transforms": [...]},      # the Kiln spec (one step)
      "fit_rows": N,                      # the fit sees rows [0, N)
      "inputs": [{"name", "type", "values"}],  # every row is applied
      "outputs": [...],                   # output names
      "expected": [[...], ...],           # rows x outputs, float64
      "expected_fit_apply": [[...], ...]  # target encoding only: the
                                          # cross-fitted training outputs
    }

Input "type" is float64, int64, string or timestamp (values "YYYY-MM-DD
HH:MM:SS", no time zone). A null input value is missing (NaN for numbers).
Numbers are written with Python's repr, the shortest decimal that reads
back to the same float64; a null in "expected" is NaN.

Missing values are injected where a case says so (row i of the k-th
column is missing when (i + 3k) % 11 == 0), since the data sets have none.

Transforms scikit-learn 1.2 does not have are computed here in NumPy and
say so in "reference":
- target encoding: scikit-learn 1.3's TargetEncoder (smooth "auto" is its
  empirical Bayes shrinkage, a float is an m-estimate), with its
  cross-fitting for fit_transform: KFold(cv, shuffle=False) for a
  continuous target, StratifiedKFold(cv, shuffle=False) for a binary one;
- log1p and clip: numpy.log1p and numpy.clip (FunctionTransformer);
- explicit bin edges: KBinsDiscretizer's own transform with bin_edges_ set;
- date-time parts: pandas' .dt accessors (dayofweek: Monday=0);
- feature crosses: FeatureHasher over the crossed string
  '<col1>=<value1>^<col2>=<value2>' (Kiln's definition, see cross.go).
"""

import json
import math
import os
import sys

import numpy as np
import pandas as pd
import sklearn
from sklearn.feature_extraction import FeatureHasher
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.preprocessing import (
    KBinsDiscretizer,
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
DATA = os.path.join(ROOT, "testdata")

VERSIONS = {"sklearn": sklearn.__version__, "numpy": np.__version__, "pandas": pd.__version__}


def load(name):
    return pd.read_csv(os.path.join(DATA, name))


def num(x):
    x = float(x)
    if math.isnan(x):
        return None
    if math.isinf(x):
        raise ValueError("infinite value in golden data")
    return x


def with_missing(df, cols):
    """A copy of df[cols] with NaN injected: row i of the k-th column is
    missing when (i + 3k) % 11 == 0."""
    out = df[cols].copy().astype(float)
    for k, c in enumerate(cols):
        mask = ((np.arange(len(out)) + 3 * k) % 11) == 0
        out.loc[mask, c] = np.nan
    return out


def column(name, typ, values):
    vals = []
    for v in values:
        if typ in ("float64", "int64"):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                vals.append(None)
            elif typ == "int64":
                if float(v) != int(v):
                    raise ValueError(f"{name}: {v} is not an integer")
                vals.append(int(v))
            else:
                vals.append(num(v))
        elif typ == "string":
            vals.append(None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
        elif typ == "timestamp":
            vals.append(None if pd.isna(v) else pd.Timestamp(v).strftime("%Y-%m-%d %H:%M:%S"))
        else:
            raise ValueError(typ)
    return {"name": name, "type": typ, "values": vals}


CASES = []


def case(name, dataset, reference, step, inputs, outputs, expected, fit_rows=None, fit_apply=None):
    expected = np.asarray(expected, dtype=float)
    n = len(inputs[0]["values"])
    assert expected.shape == (n, len(outputs)), (name, expected.shape, n, len(outputs))
    doc = {
        "case": name,
        "dataset": dataset,
        "reference": reference,
        "versions": VERSIONS,
        "spec": {"transforms": [step]},
        "fit_rows": n if fit_rows is None else fit_rows,
        "inputs": inputs,
        "outputs": outputs,
        "expected": [[num(x) for x in row] for row in expected],
    }
    if fit_apply is not None:
        fa = np.asarray(fit_apply, dtype=float)
        assert fa.shape == (doc["fit_rows"], len(outputs))
        doc["expected_fit_apply"] = [[num(x) for x in row] for row in fa]
    CASES.append(doc)


def numeric_case(name, dataset, df, cols, kind, params, est, reference, fit_rows=None, typ="float64", names=None):
    X = df[cols].to_numpy(dtype=float)
    fr = len(X) if fit_rows is None else fit_rows
    est.fit(X[:fr])
    Y = est.transform(X)
    step = {"name": kind, "columns": cols}
    step.update(params)
    inputs = [column(c, typ, df[c].tolist()) for c in cols]
    case(name, dataset, reference, step, inputs, names or list(cols), Y, fit_rows=fit_rows)


def main():
    wine = load("wine.csv")
    bc = load("breast_cancer.csv")
    diab = load("diabetes.csv")
    sw = load("seattle-weather.csv")

    wcols = ["alcohol", "malic_acid", "magnesium", "proline", "hue"]
    bcols = ["mean_radius", "mean_texture", "mean_area", "worst_concavity", "fractal_dimension_error"]
    dcols = ["age", "bmi", "bp", "s1", "s5"]
    scols = ["precipitation", "temp_max", "temp_min", "wind"]

    # --- scalers -----------------------------------------------------------
    for ds, df, cols in [("wine.csv", wine, wcols), ("breast_cancer.csv", bc, bcols),
                         ("diabetes.csv", diab, dcols), ("seattle-weather.csv", sw, scols)]:
        tag = ds.split(".")[0].replace("-", "_")
        numeric_case(f"{tag}_standard", ds, df, cols, "standard", {}, StandardScaler(),
                     "sklearn.preprocessing.StandardScaler()")
        numeric_case(f"{tag}_minmax", ds, df, cols, "minmax", {}, MinMaxScaler(),
                     "sklearn.preprocessing.MinMaxScaler()")
        numeric_case(f"{tag}_maxabs", ds, df, cols, "maxabs", {}, MaxAbsScaler(),
                     "sklearn.preprocessing.MaxAbsScaler()")
        numeric_case(f"{tag}_robust", ds, df, cols, "robust", {}, RobustScaler(),
                     "sklearn.preprocessing.RobustScaler()")

    numeric_case("wine_standard_no_mean", "wine.csv", wine, wcols, "standard", {"with_mean": False},
                 StandardScaler(with_mean=False), "sklearn.preprocessing.StandardScaler(with_mean=False)")
    numeric_case("wine_standard_no_std", "wine.csv", wine, wcols, "standard", {"with_std": False},
                 StandardScaler(with_std=False), "sklearn.preprocessing.StandardScaler(with_std=False)")
    numeric_case("diabetes_standard_int", "diabetes.csv", diab, ["age", "sex", "s1", "s6"], "standard", {},
                 StandardScaler(), "sklearn.preprocessing.StandardScaler() on integer columns", typ="int64")
    numeric_case("wine_minmax_range_clip", "wine.csv", wine, wcols, "minmax",
                 {"feature_range": [-1, 1], "clip": True}, MinMaxScaler(feature_range=(-1, 1), clip=True),
                 "sklearn.preprocessing.MinMaxScaler(feature_range=(-1, 1), clip=True), fit on the first 60 rows",
                 fit_rows=60)
    numeric_case("breast_cancer_minmax_partial_fit", "breast_cancer.csv", bc, bcols, "minmax", {},
                 MinMaxScaler(), "sklearn.preprocessing.MinMaxScaler(), fit on the first 200 rows", fit_rows=200)
    numeric_case("diabetes_robust_10_90", "diabetes.csv", diab, dcols, "robust", {"quantile_range": [10, 90]},
                 RobustScaler(quantile_range=(10, 90)), "sklearn.preprocessing.RobustScaler(quantile_range=(10, 90))")
    numeric_case("wine_robust_33_67", "wine.csv", wine, wcols, "robust", {"quantile_range": [33.3, 66.7]},
                 RobustScaler(quantile_range=(33.3, 66.7)), "sklearn.preprocessing.RobustScaler(quantile_range=(33.3, 66.7))")
    numeric_case("breast_cancer_robust_no_centering", "breast_cancer.csv", bc, bcols, "robust",
                 {"with_centering": False}, RobustScaler(with_centering=False),
                 "sklearn.preprocessing.RobustScaler(with_centering=False)")
    numeric_case("seattle_weather_robust_no_scaling", "seattle-weather.csv", sw, scols, "robust",
                 {"with_scaling": False}, RobustScaler(with_scaling=False),
                 "sklearn.preprocessing.RobustScaler(with_scaling=False)")

    # Missing values pass through the scalers as NaN (fit ignores them).
    for kind, est, ref in [("standard", StandardScaler(), "StandardScaler()"),
                           ("minmax", MinMaxScaler(), "MinMaxScaler()"),
                           ("maxabs", MaxAbsScaler(), "MaxAbsScaler()"),
                           ("robust", RobustScaler(), "RobustScaler()")]:
        m = with_missing(diab, dcols)
        numeric_case(f"diabetes_{kind}_missing", "diabetes.csv", m, dcols, kind, {}, est,
                     f"sklearn.preprocessing.{ref} with NaN injected: missing passes through")

    # --- log1p, clip -----------------------------------------------------------
    for ds, df, cols in [("wine.csv", wine, wcols), ("diabetes.csv", diab, dcols),
                         ("seattle-weather.csv", sw, ["precipitation", "wind"])]:
        tag = ds.split(".")[0].replace("-", "_")
        X = df[cols].to_numpy(dtype=float)
        case(f"{tag}_log1p", ds, "numpy.log1p (FunctionTransformer(np.log1p))",
             {"name": "log1p", "columns": cols}, [column(c, "float64", df[c].tolist()) for c in cols],
             list(cols), np.log1p(X))
    m = with_missing(bc, bcols)
    case("breast_cancer_log1p_missing", "breast_cancer.csv", "numpy.log1p with NaN injected",
         {"name": "log1p", "columns": bcols}, [column(c, "float64", m[c].tolist()) for c in bcols],
         list(bcols), np.log1p(m.to_numpy()))
    X = sw[scols].to_numpy(dtype=float)
    case("seattle_weather_clip", "seattle-weather.csv", "numpy.clip(X, 0.5, 20)",
         {"name": "clip", "columns": scols, "min": 0.5, "max": 20}, [column(c, "float64", sw[c].tolist()) for c in scols],
         list(scols), np.clip(X, 0.5, 20))
    m = with_missing(wine, wcols)
    case("wine_clip_missing", "wine.csv", "numpy.clip(X, 1, 100) with NaN injected",
         {"name": "clip", "columns": wcols, "min": 1, "max": 100}, [column(c, "float64", m[c].tolist()) for c in wcols],
         list(wcols), np.clip(m.to_numpy(), 1, 100))

    # --- imputation ------------------------------------------------------------
    for ds, df, cols in [("diabetes.csv", diab, dcols + ["sex", "s4"]), ("wine.csv", wine, wcols),
                         ("breast_cancer.csv", bc, bcols), ("seattle-weather.csv", sw, scols)]:
        tag = ds.split(".")[0].replace("-", "_")
        m = with_missing(df, cols)
        X = m.to_numpy()
        inputs = [column(c, "float64", m[c].tolist()) for c in cols]
        for strategy, extra in [("mean", {}), ("median", {}), ("most_frequent", {}), ("constant", {"fill_value": -7.5})]:
            est = SimpleImputer(strategy=strategy, **extra)
            step = {"name": "impute", "columns": cols, "strategy": strategy}
            step.update(extra)
            case(f"{tag}_impute_{strategy}", ds, f"sklearn.impute.SimpleImputer(strategy={strategy!r}{', fill_value=-7.5' if extra else ''})",
                 step, inputs, list(cols), est.fit(X).transform(X))
        est = SimpleImputer(strategy="median", add_indicator=True)
        Y = est.fit(X).transform(X)
        assert Y.shape[1] == 2 * len(cols)  # every column has missing values at fit
        case(f"{tag}_impute_median_indicator", ds,
             "sklearn.impute.SimpleImputer(strategy='median', add_indicator=True): imputed columns, then one indicator per column",
             {"name": "impute", "columns": cols, "strategy": "median", "add_indicator": True}, inputs,
             list(cols) + [c + "_missing" for c in cols], Y)

    # Indicators only for the columns that had missing values at fit
    # (scikit-learn's features="missing-only").
    cols = ["age", "bmi", "bp", "s5"]
    m = diab[cols].astype(float).copy()
    m.loc[np.arange(len(m)) % 9 == 0, "bmi"] = np.nan
    m.loc[np.arange(len(m)) % 13 == 5, "s5"] = np.nan
    X = m.to_numpy()
    case("diabetes_impute_mean_some_indicators", "diabetes.csv",
         "sklearn.impute.SimpleImputer(strategy='mean', add_indicator=True) with NaN in bmi and s5 only",
         {"name": "impute", "columns": cols, "strategy": "mean", "add_indicator": True},
         [column(c, "float64", m[c].tolist()) for c in cols], list(cols) + ["bmi_missing", "s5_missing"],
         SimpleImputer(strategy="mean", add_indicator=True).fit(X).transform(X))

    # --- passthrough -------------------------------------------------------------
    case("diabetes_passthrough", "diabetes.csv", "identity (ColumnTransformer 'passthrough')",
         {"name": "passthrough", "columns": ["age", "sex", "bmi"]},
         [column("age", "int64", diab.age.tolist()), column("sex", "int64", diab.sex.tolist()),
          column("bmi", "float64", diab.bmi.tolist())], ["age", "sex", "bmi"], diab[["age", "sex", "bmi"]].to_numpy(float))

    # --- categorical columns ---------------------------------------------------------
    cat = pd.DataFrame({
        "weather": sw.weather,
        "month": pd.to_datetime(sw.date).dt.strftime("%b"),
    })
    wcat = pd.DataFrame({"cultivar": ["c" + str(v) for v in wine.target], "alcohol_band": [
        "low" if a < 12.5 else ("mid" if a < 13.5 else "high") for a in wine.alcohol]})

    def onehot(name, ds, df, cols, params, fit_rows=None):
        X = df[cols].to_numpy(dtype=object)
        fr = len(X) if fit_rows is None else fit_rows
        kw = dict(params)
        enc = OneHotEncoder(sparse_output=False, **kw)
        enc.fit(X[:fr])
        Y = enc.transform(X)
        names = list(enc.get_feature_names_out(cols))
        step = {"name": "onehot", "columns": cols}
        step.update(params)
        case(name, ds, f"sklearn.preprocessing.OneHotEncoder(sparse_output=False, {', '.join(f'{k}={v!r}' for k, v in params.items())})"
             + (f", fit on the first {fit_rows} rows" if fit_rows else ""),
             step, [column(c, "string", df[c].tolist()) for c in cols], names, Y, fit_rows=fit_rows)

    onehot("seattle_weather_onehot", "seattle-weather.csv", cat, ["weather", "month"], {})
    onehot("seattle_weather_onehot_ignore", "seattle-weather.csv", cat, ["weather"], {"handle_unknown": "ignore"}, fit_rows=180)
    onehot("seattle_weather_onehot_max_categories", "seattle-weather.csv", cat, ["weather", "month"], {"max_categories": 3})
    onehot("seattle_weather_onehot_min_frequency", "seattle-weather.csv", cat, ["weather"], {"min_frequency": 60})
    onehot("wine_onehot", "wine.csv", wcat, ["cultivar", "alcohol_band"], {})

    def ordinal(name, ds, df, cols, params, fit_rows=None):
        X = df[cols].to_numpy(dtype=object)
        fr = len(X) if fit_rows is None else fit_rows
        enc = OrdinalEncoder(**params)
        enc.fit(X[:fr])
        step = {"name": "ordinal", "columns": cols}
        step.update(params)
        case(name, ds, f"sklearn.preprocessing.OrdinalEncoder({', '.join(f'{k}={v!r}' for k, v in params.items())})"
             + (f", fit on the first {fit_rows} rows" if fit_rows else ""),
             step, [column(c, "string", df[c].tolist()) for c in cols], list(cols), enc.transform(X), fit_rows=fit_rows)

    ordinal("seattle_weather_ordinal", "seattle-weather.csv", cat, ["weather", "month"], {})
    ordinal("seattle_weather_ordinal_unknown", "seattle-weather.csv", cat, ["weather"],
            {"handle_unknown": "use_encoded_value", "unknown_value": -1}, fit_rows=180)
    ordinal("wine_ordinal", "wine.csv", wcat, ["cultivar", "alcohol_band"], {})

    # --- feature hashing -------------------------------------------------------------
    def hashed(name, ds, df, cols, n_features, alternate_sign, input_type):
        if input_type == "string":
            samples = [[str(v) for v in row] for row in df[cols].itertuples(index=False)]
            how = "each row is the list of its column values"
        else:
            samples = [{c: str(v) for c, v in zip(cols, row)} for row in df[cols].itertuples(index=False)]
            how = "each row is the dict {column: value} (feature 'column=value')"
        h = FeatureHasher(n_features=n_features, input_type=input_type, alternate_sign=alternate_sign)
        Y = h.transform(samples).toarray()
        step = {"name": "hash", "columns": cols, "n_features": n_features, "input_type": input_type}
        if not alternate_sign:
            step["alternate_sign"] = False
        case(name, ds, f"sklearn.feature_extraction.FeatureHasher(n_features={n_features}, input_type={input_type!r}, "
             f"alternate_sign={alternate_sign}); {how}",
             step, [column(c, "string", df[c].tolist()) for c in cols],
             [f"{'_'.join(cols)}_hash_{i}" for i in range(n_features)], Y)

    hashed("seattle_weather_hash", "seattle-weather.csv", cat, ["weather", "month"], 16, True, "string")
    hashed("seattle_weather_hash_dict", "seattle-weather.csv", cat, ["weather", "month"], 16, True, "dict")
    hashed("seattle_weather_hash_unsigned", "seattle-weather.csv", cat, ["weather"], 8, False, "string")
    dates = pd.DataFrame({"date": sw.date.astype(str)})
    hashed("seattle_weather_hash_dates", "seattle-weather.csv", dates, ["date"], 32, True, "dict")

    # --- binning -------------------------------------------------------------------
    def kbins(name, ds, df, cols, params, explicit=None):
        X = df[cols].to_numpy(dtype=float)
        encode = params.get("encode", "ordinal")
        kb = KBinsDiscretizer(n_bins=params.get("n_bins", 5), strategy=params.get("strategy", "quantile")
                              if explicit is None else "uniform", encode=encode, subsample=None)
        kb.fit(X)
        if explicit is not None:
            kb.bin_edges_ = np.array([np.asarray(e, dtype=float) for e in explicit], dtype=object)
            kb.n_bins_ = np.array([len(e) - 1 for e in explicit])
            if encode != "ordinal":
                kb._encoder = OneHotEncoder(categories=[np.arange(i) for i in kb.n_bins_], sparse_output=False)
                kb._encoder.fit(np.zeros((1, len(kb.n_bins_))))
        Y = kb.transform(X)
        if encode == "ordinal":
            names = list(cols)
        else:
            names = [f"{c}_{b}" for c, n in zip(cols, kb.n_bins_) for b in range(n)]
        step = {"name": "kbins", "columns": cols}
        step.update(params)
        step["encode"] = encode  # explicit: scikit-learn's default is "onehot"
        if explicit is not None:
            step["strategy"] = "explicit"
            step["bin_edges"] = explicit
        ref = f"sklearn.preprocessing.KBinsDiscretizer({', '.join(f'{k}={v!r}' for k, v in params.items())}, subsample=None)"
        if explicit is not None:
            ref += " with bin_edges_ set to the explicit edges"
        case(name, ds, ref, step, [column(c, "float64", df[c].tolist()) for c in cols], names, Y)

    kbins("wine_kbins_uniform", "wine.csv", wine, wcols, {"n_bins": 5, "strategy": "uniform"})
    kbins("wine_kbins_quantile", "wine.csv", wine, wcols, {"n_bins": 4, "strategy": "quantile"})
    kbins("diabetes_kbins_quantile_onehot", "diabetes.csv", diab, ["bmi", "bp", "s5"],
          {"n_bins": 3, "strategy": "quantile", "encode": "onehot-dense"})
    kbins("breast_cancer_kbins_uniform_onehot", "breast_cancer.csv", bc, ["mean_radius", "mean_texture"],
          {"n_bins": 6, "strategy": "uniform", "encode": "onehot-dense"})
    kbins("seattle_weather_kbins_explicit", "seattle-weather.csv", sw, ["precipitation", "temp_max"],
          {"encode": "ordinal"}, explicit=[[0, 0.5, 5, 20, 60], [-5, 5, 15, 25, 40]])

    # --- date-time parts -------------------------------------------------------------------
    # A timestamp column with times of day: the date plus (37 i) mod 1440
    # minutes and (13 i) mod 60 seconds.
    i = np.arange(len(sw))
    ts = pd.to_datetime(sw.date) + pd.to_timedelta((i * 37) % 1440, unit="m") + pd.to_timedelta((i * 13) % 60, unit="s")
    parts = ["year", "month", "day", "dayofweek", "dayofyear", "hour", "minute", "second"]
    dt = pd.Series(ts).dt
    Y = np.column_stack([dt.year, dt.month, dt.day, dt.dayofweek, dt.dayofyear, dt.hour, dt.minute, dt.second]).astype(float)
    case("seattle_weather_datetime", "seattle-weather.csv",
         "pandas .dt.year/.month/.day/.dayofweek (Monday=0)/.dayofyear/.hour/.minute/.second of "
         "date + (37*i mod 1440) minutes + (13*i mod 60) seconds",
         {"name": "datetime", "columns": ["time"], "parts": parts}, [column("time", "timestamp", list(ts))],
         [f"time_{p}" for p in parts], Y)
    d = pd.to_datetime(sw.date)
    dparts = ["year", "month", "day", "dayofweek"]
    Y = np.column_stack([d.dt.year, d.dt.month, d.dt.day, d.dt.dayofweek]).astype(float)
    case("seattle_weather_datetime_date", "seattle-weather.csv",
         "pandas .dt.year/.month/.day/.dayofweek (Monday=0) of the date column, as a timestamp",
         {"name": "datetime", "columns": ["date"], "parts": dparts},
         [column("date", "timestamp", list(d))], [f"date_{p}" for p in dparts], Y)
    case("seattle_weather_datetime_string", "seattle-weather.csv",
         "pandas .dt.year/.month/.day/.dayofweek (Monday=0) of the date column, as the CSV's strings YYYY-MM-DD",
         {"name": "datetime", "columns": ["date"], "parts": dparts},
         [column("date", "string", sw.date.tolist())], [f"date_{p}" for p in dparts], Y)
    cyc = ["month_sin", "month_cos", "dow_sin", "dow_cos", "hour_sin", "hour_cos"]
    Y = np.column_stack([
        np.sin(2 * np.pi * (dt.month - 1) / 12), np.cos(2 * np.pi * (dt.month - 1) / 12),
        np.sin(2 * np.pi * dt.dayofweek / 7), np.cos(2 * np.pi * dt.dayofweek / 7),
        np.sin(2 * np.pi * dt.hour / 24), np.cos(2 * np.pi * dt.hour / 24),
    ])
    case("seattle_weather_datetime_cyclic", "seattle-weather.csv",
         "numpy sin/cos of 2*pi*(month-1)/12, 2*pi*dayofweek/7, 2*pi*hour/24 from pandas .dt (Kiln's documented periods)",
         {"name": "datetime", "columns": ["time"], "parts": cyc}, [column("time", "timestamp", list(ts))],
         [f"time_{p}" for p in cyc], Y)

    # --- feature crosses (hashed) -----------------------------------------------------------
    def crossed(name, ds, df, cols, n_features, alternate_sign):
        feats = ["^".join(f"{c}={v}" for c, v in zip(cols, row)) for row in df[cols].itertuples(index=False)]
        h = FeatureHasher(n_features=n_features, input_type="string", alternate_sign=alternate_sign)
        Y = h.transform([[f] for f in feats]).toarray()
        step = {"name": "cross", "columns": cols, "n_features": n_features}
        if alternate_sign:
            step["alternate_sign"] = True
        case(name, ds, f"sklearn.feature_extraction.FeatureHasher(n_features={n_features}, input_type='string', "
             f"alternate_sign={alternate_sign}) of the one feature '<col1>=<value1>^<col2>=<value2>...' per row",
             step, [column(c, "string", df[c].tolist()) for c in cols],
             [f"{'_x_'.join(cols)}_{i}" for i in range(n_features)], Y)

    crossed("seattle_weather_cross", "seattle-weather.csv", cat, ["weather", "month"], 32, False)
    crossed("wine_cross_signed", "wine.csv", wcat, ["cultivar", "alcohol_band"], 8, True)

    # --- target encoding --------------------------------------------------------------------
    def target(name, ds, df, cols, y, target_name, target_type, smooth, cv=5):
        Xc = df[cols].to_numpy(dtype=object)
        yv = np.asarray(y, dtype=float)
        enc = [target_fit(Xc[:, j], yv, smooth) for j in range(len(cols))]
        Y = np.column_stack([target_apply(e, Xc[:, j]) for j, e in enumerate(enc)])
        if target_type == "continuous":
            folds = KFold(n_splits=cv, shuffle=False).split(Xc, yv)
        else:
            folds = StratifiedKFold(n_splits=cv, shuffle=False).split(Xc, yv)
        FA = np.empty((len(yv), len(cols)))
        for tr, te in folds:
            for j in range(len(cols)):
                e = target_fit(Xc[tr, j], yv[tr], smooth)
                FA[te, j] = target_apply(e, Xc[te, j])
        step = {"name": "target", "columns": cols, "target": target_name, "target_type": target_type, "smooth": smooth, "cv": cv}
        inputs = [column(c, "string", df[c].tolist()) for c in cols]
        inputs.append(column(target_name, "float64", list(yv)))
        case(name, ds, "scikit-learn 1.3 TargetEncoder(target_type=%r, smooth=%r, cv=%d, shuffle=False) computed in NumPy "
             "(scikit-learn 1.2 has no TargetEncoder): 'expected' is transform() after fit on all rows, "
             "'expected_fit_apply' is fit_transform() (cross-fitting: %s(n_splits=%d, shuffle=False))"
             % (target_type, smooth, cv, "KFold" if target_type == "continuous" else "StratifiedKFold", cv),
             step, inputs, list(cols), Y, fit_apply=FA)

    tw = pd.DataFrame({"weather": sw.weather, "month": cat.month})
    target("seattle_weather_target_continuous", "seattle-weather.csv", tw, ["weather", "month"], sw.temp_max,
           "temp_max", "continuous", "auto")
    target("seattle_weather_target_binary", "seattle-weather.csv", tw, ["month"], (sw.precipitation > 0).astype(float),
           "rained", "binary", "auto")
    target("seattle_weather_target_smooth", "seattle-weather.csv", tw, ["weather", "month"], sw.wind,
           "wind", "continuous", 10.0)
    target("wine_target_continuous", "wine.csv", wcat, ["cultivar", "alcohol_band"], wine.proline,
           "proline", "continuous", "auto")

    # --- write ----------------------------------------------------------------------------
    names = set()
    for doc in CASES:
        assert doc["case"] not in names, doc["case"]
        names.add(doc["case"])
        with open(os.path.join(HERE, doc["case"] + ".json"), "w") as f:
            json.dump(doc, f, separators=(",", ":"), allow_nan=False)
            f.write("\n")
    print(f"wrote {len(CASES)} golden files to {HERE}", file=sys.stderr)


def name_prefix(cols):
    return "_".join(cols)


def target_fit(x, y, smooth):
    """scikit-learn 1.3 TargetEncoder's encodings for one column: a dict
    category -> encoding, and the target mean for unknown categories."""
    y_mean = float(np.mean(y))
    cats = {}
    for c, v in zip(x, y):
        cats.setdefault(c, []).append(v)
    enc = {}
    if smooth == "auto":
        y_var = float(np.var(y))
        for c, vs in cats.items():
            vs = np.asarray(vs)
            n = len(vs)
            m = float(np.mean(vs))
            ssd = float(np.sum((vs - m) ** 2))
            # _fit_encoding_fast_auto_smooth: lambda = var*n / (var*n + ssd/n)
            lam = y_var * n / (y_var * n + ssd / n)
            enc[c] = lam * m + (1 - lam) * y_mean
    else:
        for c, vs in cats.items():
            enc[c] = (float(np.sum(vs)) + smooth * y_mean) / (len(vs) + smooth)
    return enc, y_mean


def target_apply(e, x):
    enc, y_mean = e
    return np.array([enc.get(c, y_mean) for c in x], dtype=float)


if __name__ == "__main__":
    main()
