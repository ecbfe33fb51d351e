"""Writes the golden files of package safetensors' tests.

Run from anywhere with /usr/bin/python3 (numpy 1.24):

    /usr/bin/python3 train/safetensors/testdata/make_golden.py

It writes, next to itself:

  read_golden.safetensors   a file in the safetensors layout written by hand
                            (struct + json, as the format describes it): F32,
                            F64, F16 and BF16 tensors, a scalar, an empty
                            tensor, metadata, data stored in an order that is
                            not the name order, header padded with spaces.
  read_golden.json          the exact values the Go reader must return, as
                            bit patterns: float32 bits for F32/F16/BF16
                            tensors (converted to float32), float64 bits
                            for F64.
  write_golden.safetensors  the bytes Go's Write must produce for the fixed
                            input that TestWriteGolden builds (names sorted,
                            compact JSON, "__metadata__" first with sorted
                            keys, padding to a multiple of 8).
"""
import json
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def layout(header_obj, padded=True):
    h = json.dumps(header_obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if padded:
        h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h


def bf16_bits(a32):
    """Truncates float32 values to bfloat16 bit patterns (round toward zero)."""
    return (np.asarray(a32, dtype="<f4").view("<u4") >> 16).astype("<u2")


def make_read_golden():
    rng = np.random.default_rng(20240601)
    f32 = rng.standard_normal((2, 3)).astype("<f4")
    f64 = rng.standard_normal((3, 2)).astype("<f8")
    f16 = np.array([0.0, -0.0, 1.0, -2.5, 65504.0, 6.1035156e-05, 5.9604645e-08,
                    3.0e-07, np.inf, -np.inf, np.nan, 0.333251953125], dtype="<f2").reshape(3, 4)
    bf = bf16_bits(np.array([1.0, -3.140625, 1.0e30, 1.0e-30, np.inf, 0.1], dtype="<f4")).reshape(2, 3)
    scalar = np.array(7.25, dtype="<f4")
    empty = np.zeros((0, 3), dtype="<f4")

    # Data order deliberately differs from name order.
    order = [("h_f16", "F16", f16), ("a_f32", "F32", f32), ("empty", "F32", empty),
             ("s_scalar", "F32", scalar), ("d_f64", "F64", f64), ("b_bf16", "BF16", bf)]
    header = {"__metadata__": {"format": "pt", "note": "golden \u00e9"}}
    data = b""
    for name, dt, arr in order:
        raw = arr.tobytes()
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    with open(os.path.join(HERE, "read_golden.safetensors"), "wb") as f:
        f.write(layout(header) + data)

    def bits32(a):
        return [int(x) for x in np.asarray(a, dtype="<f4").reshape(-1).view("<u4")]

    bf32 = (bf.astype("<u4") << 16).view("<f4")
    want = {
        "metadata": header["__metadata__"],
        "tensors": {
            "a_f32": {"dtype": "float32", "shape": [2, 3], "bits": bits32(f32)},
            "d_f64": {"dtype": "float64", "shape": [3, 2],
                      "bits": [int(x) for x in f64.reshape(-1).view("<u8")]},
            "h_f16": {"dtype": "float32", "shape": [3, 4], "bits": bits32(f16.astype("<f4"))},
            "b_bf16": {"dtype": "float32", "shape": [2, 3], "bits": bits32(bf32)},
            "s_scalar": {"dtype": "float32", "shape": [], "bits": bits32(scalar)},
            "empty": {"dtype": "float32", "shape": [0, 3], "bits": []},
        },
    }
    with open(os.path.join(HERE, "read_golden.json"), "w") as f:
        json.dump(want, f, indent=1, sort_keys=True)
        f.write("\n")


def make_write_golden():
    # Must match writeGoldenInput in safetensors_test.go.
    tensors = {
        "weight": np.array([[0.5, -1.25, 3.0], [0.1, 2.0e-8, -7.0]], dtype="<f4"),
        "bias": np.array([1.0, -0.2, 1.0e300], dtype="<f8"),
        "step": np.array(42.0, dtype="<f4"),
        "empty": np.zeros((2, 0), dtype="<f4"),
        "layer.0/w": np.arange(4, dtype="<f4").reshape(2, 2, 1),
    }
    metadata = {"epoch": "3", "format": "kiln", "a\"quote": "<&>"}
    header = {"__metadata__": {k: metadata[k] for k in sorted(metadata)}}
    data = b""
    for name in sorted(tensors):
        arr = tensors[name]
        raw = arr.tobytes()
        header[name] = {"dtype": "F64" if arr.dtype == np.float64 else "F32", "shape": list(arr.shape),
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    with open(os.path.join(HERE, "write_golden.safetensors"), "wb") as f:
        f.write(layout(header) + data)


if __name__ == "__main__":
    make_read_golden()
    make_write_golden()
