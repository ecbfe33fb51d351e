#!/usr/bin/env bash
# The GPU acceptance run of tensor/cuda, for a machine with an NVIDIA GPU,
# its driver, cuBLAS and PyTorch (Go is not needed there).
#
# Here (any machine with Go):
#   CGO_ENABLED=0 go test -c -o .gpu/cuda.test ./tensor/cuda
# There, from the repository root:
#   bash tensor/cuda/gpucheck.sh .gpu/cuda.test
#
# It runs the conformance suite and the other GPU tests with
# KILN_REQUIRE_GPU=1 (a missing GPU fails instead of skipping), Kiln's
# benchmarks (GEMM 8192³ FP32 and TF32, add and copy of 256M floats, one
# Adam step of the MLP 784→2048→2048→10 on a batch of 1024), then the
# same measurements with PyTorch (internal/bench/peers/gpu.py).
set -uo pipefail
bin=${1:-.gpu/cuda.test}
if [ ! -x "$bin" ]; then
  echo "gpucheck: no test binary at $bin; build it with: CGO_ENABLED=0 go test -c -o $bin ./tensor/cuda" >&2
  exit 2
fi
rc=0
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>/dev/null || true
echo "== tests"
KILN_REQUIRE_GPU=1 "$bin" -test.v -test.count 1 2>&1 | grep -E -v '^(=== RUN|=== PAUSE|=== CONT)' || rc=1
echo "== Kiln benchmarks"
KILN_REQUIRE_GPU=1 "$bin" -test.run '^$' -test.bench . -test.benchtime 20x -test.count 3 || rc=1
echo "== PyTorch"
python3 internal/bench/peers/gpu.py || rc=1
exit $rc
