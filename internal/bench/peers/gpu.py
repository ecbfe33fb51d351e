#!/usr/bin/python3
"""PyTorch peer for the GPU acceptance figures of tensor/cuda.

    python3 gpu.py [--json] [--cpu-smoke]

Runs on a machine with CUDA and torch (no Go needed) and measures, in one
run, with CUDA events around each repeat (after warmup; the median is
reported):

  matmul    torch.matmul of two 8192x8192 float32 matrices, with
            torch.backends.cuda.matmul.allow_tf32 False (FP32) and True
            (TF32): ms and TFLOPS (2*n^3 flops).
  add       torch.add(a, b, out=c) over 256M float32 (2^28): ms and GB/s
            counting 3 GiB moved (read a and b, write c).
  copy      c.copy_(a), device to device, over 256M float32: ms and GB/s
            counting 2 GiB moved.
  mlp_step  one training step (zero_grad, forward, cross-entropy, backward,
            Adam step with the installed torch's default foreach behaviour)
            of an MLP 784->2048->2048->10 with ReLU, batch 1024, float32,
            inputs already on the GPU: ms, median of 50 after 10 warmups.

GB/s are 10^9 bytes per second. --json prints one JSON object instead of a
table. --cpu-smoke runs tiny sizes on the CPU (wall-clock timing) to check
the code paths on a machine without a GPU; its figures mean nothing.
"""
import argparse
import json
import statistics
import sys
import time


def timer(torch, cuda):
    """Returns time_ms(fn): the elapsed milliseconds of one call of fn."""
    if cuda:
        def time_ms(fn):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            return start.elapsed_time(end)
    else:
        def time_ms(fn):
            t = time.perf_counter()
            fn()
            return (time.perf_counter() - t) * 1e3
    return time_ms


def median_ms(time_ms, fn, warmup, repeats):
    for _ in range(warmup):
        fn()
    return statistics.median(time_ms(fn) for _ in range(repeats))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--cpu-smoke", action="store_true",
                    help="tiny sizes on the CPU, to check the code paths without a GPU")
    args = ap.parse_args()

    import torch

    cuda = not args.cpu_smoke
    if cuda and not torch.cuda.is_available():
        sys.exit("gpu.py: torch.cuda.is_available() is False (torch %s): this peer needs a "
                 "CUDA GPU; use --cpu-smoke to check the code paths on the CPU" % torch.__version__)
    dev = torch.device("cuda" if cuda else "cpu")
    if cuda:
        mm_n, elems, batch, hidden, warm, reps = 8192, 1 << 28, 1024, 2048, 3, 10
    else:
        mm_n, elems, batch, hidden, warm, reps = 256, 1 << 20, 64, 128, 1, 3
    time_ms = timer(torch, cuda)
    res = {"torch": torch.__version__, "device": torch.cuda.get_device_name() if cuda else "cpu"}

    # (a) matmul, FP32 then TF32.
    a = torch.randn(mm_n, mm_n, device=dev)
    b = torch.randn(mm_n, mm_n, device=dev)
    c = torch.empty(mm_n, mm_n, device=dev)
    for name, tf32 in (("matmul_fp32", False), ("matmul_tf32", True)):
        torch.backends.cuda.matmul.allow_tf32 = tf32
        ms = median_ms(time_ms, lambda: torch.matmul(a, b, out=c), warm, reps)
        res[name] = {"n": mm_n, "ms": ms, "tflops": 2 * mm_n ** 3 / (ms * 1e-3) / 1e12}
    torch.backends.cuda.matmul.allow_tf32 = False
    del a, b, c

    # (b) elementwise add and device-to-device copy.
    a = torch.rand(elems, device=dev)
    b = torch.rand(elems, device=dev)
    c = torch.empty(elems, device=dev)
    nbytes = elems * 4
    ms = median_ms(time_ms, lambda: torch.add(a, b, out=c), warm, reps)
    res["add"] = {"elements": elems, "ms": ms, "gb_per_s": 3 * nbytes / (ms * 1e-3) / 1e9}
    ms = median_ms(time_ms, lambda: c.copy_(a), warm, reps)
    res["copy"] = {"elements": elems, "ms": ms, "gb_per_s": 2 * nbytes / (ms * 1e-3) / 1e9}
    del a, b, c

    # (c) one MLP training step.
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, hidden), torch.nn.ReLU(),
        torch.nn.Linear(hidden, hidden), torch.nn.ReLU(),
        torch.nn.Linear(hidden, 10)).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    x = torch.randn(batch, 784, device=dev)
    y = torch.randint(0, 10, (batch,), device=dev)

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    ms = median_ms(time_ms, step, 10, 50 if cuda else 5)
    res["mlp_step"] = {"layers": [784, hidden, hidden, 10], "batch": batch, "ms": ms}

    if args.json:
        print(json.dumps(res))
        return
    print("torch %s on %s" % (res["torch"], res["device"]))
    for name in ("matmul_fp32", "matmul_tf32"):
        r = res[name]
        print("%-12s n=%-6d %9.3f ms %8.2f TFLOPS" % (name, r["n"], r["ms"], r["tflops"]))
    for name in ("add", "copy"):
        r = res[name]
        print("%-12s %d floats %9.3f ms %8.1f GB/s" % (name, r["elements"], r["ms"], r["gb_per_s"]))
    r = res["mlp_step"]
    print("%-12s %s batch %d %9.3f ms" % ("mlp_step", r["layers"], r["batch"], r["ms"]))


if __name__ == "__main__":
    main()
