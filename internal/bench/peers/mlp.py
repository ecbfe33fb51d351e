#!/usr/bin/python3
"""PyTorch peer of the bench suite for multilayer perceptrons (package train).

    /usr/bin/python3 mlp.py TRAIN.csv TEST.csv TARGET HIDDEN EPOCHS BATCH LR SEED THREADS

It reads both CSV files with pandas (not timed): every column except TARGET
is a numeric feature, TARGET holds the classes (the sorted distinct values
of the training set's TARGET become classes 0..k-1; a test class absent from
the training set is an error). The features are standardized with
scikit-learn's StandardScaler fitted on the training set (not timed) and
converted to float32.

A TRAIN or TEST path ending in ".npy" is read with numpy instead: the file
holds the features as a 2-D array (rows × features, any numeric dtype) and
the file of the same name with ".npy" replaced by ".target.npy" holds the
target as a 1-D array; TARGET is then not used (the bench harness writes
large synthetic sets this way, as CSV text would be slow to write and parse).

The model is torch.nn.Sequential of Linear+ReLU layers, one per width in
HIDDEN (comma-separated, e.g. "128,64"; "0" or "" means none, i.e.
multinomial logistic regression), then a Linear layer to the k classes, with
PyTorch's default initialization after torch.manual_seed(SEED). It is
trained for EPOCHS epochs with torch.optim.Adam(lr=LR) (other arguments at
their defaults) on nn.CrossEntropyLoss (mean over the batch), in batches of
BATCH rows visited in the order of torch.randperm with a torch.Generator
seeded with SEED (a new permutation every epoch; the last batch of an epoch
may be short). torch.set_num_threads(THREADS) is called first.

Only the training loop is timed (batch slicing, forward, backward, step).
It prints one JSON line

    {"train_seconds": T, "epoch_seconds": [...], "final_train_loss": L0,
     "accuracy": A, "log_loss": L, "classes": K, "train_rows": N,
     "test_rows": M, "features": D, "parameters": P, "threads": THREADS,
     "torch": VERSION}

where final_train_loss is the mean batch loss of the last epoch and
accuracy and log_loss (scikit-learn's definition) are measured on TEST.
"""

import json
import sys
import time

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import log_loss
from sklearn.preprocessing import StandardScaler


def load(path, target):
    if path.endswith(".npy"):
        x = np.load(path).astype(np.float64)
        y = np.load(path[:-len(".npy")] + ".target.npy")
        if x.ndim != 2 or y.shape != (x.shape[0],):
            sys.exit(f"mlp.py: {path}: features {x.shape} and target {y.shape} do not match")
        return x, y
    df = pd.read_csv(path)
    if target not in df.columns:
        sys.exit(f"mlp.py: {path}: no column {target!r} (columns {list(df.columns)})")
    y = df[target].to_numpy()
    x = df.drop(columns=[target]).to_numpy(dtype=np.float64)
    return x, y


def main():
    if len(sys.argv) != 10:
        sys.exit(__doc__)
    train_path, test_path, target = sys.argv[1], sys.argv[2], sys.argv[3]
    hidden = [int(h) for h in sys.argv[4].split(",") if h.strip() not in ("", "0")]
    epochs, batch, lr = int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
    seed, threads = int(sys.argv[8]), int(sys.argv[9])
    if epochs < 1 or batch < 1 or threads < 1 or lr <= 0 or any(h < 1 for h in hidden):
        sys.exit("mlp.py: EPOCHS, BATCH, THREADS and the HIDDEN widths must be at least 1, LR positive")
    torch.set_num_threads(threads)

    x_train, y_train = load(train_path, target)
    x_test, y_test = load(test_path, target)
    classes = np.unique(y_train)
    unknown = np.setdiff1d(np.unique(y_test), classes)
    if unknown.size:
        sys.exit(f"mlp.py: test classes {unknown.tolist()} not in the training set")
    scaler = StandardScaler().fit(x_train)
    xt = torch.from_numpy(scaler.transform(x_train).astype(np.float32))
    xv = torch.from_numpy(scaler.transform(x_test).astype(np.float32))
    yt = torch.from_numpy(np.searchsorted(classes, y_train).astype(np.int64))
    yv = np.searchsorted(classes, y_test)

    torch.manual_seed(seed)
    layers = []
    width = xt.shape[1]
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        width = h
    layers.append(torch.nn.Linear(width, len(classes)))
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    n = xt.shape[0]

    epoch_seconds = []
    last_loss = float("nan")
    model.train()
    for _ in range(epochs):
        start = time.perf_counter()
        perm = torch.randperm(n, generator=gen)
        total, count = 0.0, 0
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            xb, yb = xt[idx], yt[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item()
            count += 1
        epoch_seconds.append(time.perf_counter() - start)
        last_loss = total / count

    model.eval()
    with torch.no_grad():
        proba = torch.softmax(model(xv), dim=1).double().numpy()
    pred = np.argmax(proba, axis=1)
    print(json.dumps({
        "train_seconds": float(sum(epoch_seconds)),
        "epoch_seconds": epoch_seconds,
        "final_train_loss": last_loss,
        "accuracy": float(np.mean(pred == yv)),
        "log_loss": float(log_loss(yv, proba, labels=np.arange(len(classes)))),
        "classes": int(len(classes)),
        "train_rows": int(n),
        "test_rows": int(xv.shape[0]),
        "features": int(xt.shape[1]),
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "threads": threads,
        "torch": torch.__version__,
    }), flush=True)


if __name__ == "__main__":
    main()
