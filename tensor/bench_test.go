package tensor_test

import (
	"fmt"
	"testing"

	"github.com/kilnml/kiln/tensor"
)

func randTensor(b *testing.B, shape ...int) *tensor.Tensor {
	x, err := tensor.Zeros(shape...)
	if err != nil {
		b.Fatal(err)
	}
	if err := tensor.NewRNG(3).Normal(x, 0, 1); err != nil {
		b.Fatal(err)
	}
	return x
}

func BenchmarkMatMul(b *testing.B) {
	for _, n := range []int{64, 256, 1024} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			x, y := randTensor(b, n, n), randTensor(b, n, n)
			dst, _ := tensor.Zeros(n, n)
			for b.Loop() {
				if err := tensor.Gemm(dst, x, y, tensor.GemmOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(2*float64(n*n*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func BenchmarkAdd(b *testing.B) {
	x, y := randTensor(b, 1<<20), randTensor(b, 1<<20)
	dst, _ := tensor.Zeros(1 << 20)
	b.SetBytes(3 * 4 << 20)
	for b.Loop() {
		if err := tensor.Binary(tensor.OpAdd, dst, x, y); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAddRowBroadcast(b *testing.B) {
	x, bias := randTensor(b, 1024, 1024), randTensor(b, 1024)
	dst, _ := tensor.Zeros(1024, 1024)
	b.SetBytes(2 * 4 << 20)
	for b.Loop() {
		if err := tensor.Binary(tensor.OpAdd, dst, x, bias); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSum(b *testing.B) {
	x := randTensor(b, 1<<20)
	b.SetBytes(4 << 20)
	for b.Loop() {
		if _, err := tensor.Sum(x, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSumAxis0(b *testing.B) {
	x := randTensor(b, 1024, 1024)
	b.SetBytes(4 << 20)
	for b.Loop() {
		if _, err := tensor.Sum(x, false, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSoftmax(b *testing.B) {
	x := randTensor(b, 1024, 1000)
	dst, _ := tensor.Zeros(1024, 1000)
	b.SetBytes(2 * 4 * 1024 * 1000)
	for b.Loop() {
		if err := tensor.SoftmaxInto(dst, x, 1, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTransposeCopy(b *testing.B) {
	x := randTensor(b, 1024, 1024)
	xt, _ := x.T()
	dst, _ := tensor.Zeros(1024, 1024)
	b.SetBytes(2 * 4 << 20)
	for b.Loop() {
		if err := tensor.Copy(dst, xt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNormal(b *testing.B) {
	x, _ := tensor.Zeros(1 << 20)
	r := tensor.NewRNG(1)
	b.SetBytes(4 << 20)
	for b.Loop() {
		if err := r.Normal(x, 0, 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUniform(b *testing.B) {
	x, _ := tensor.Zeros(1 << 20)
	r := tensor.NewRNG(1)
	b.SetBytes(4 << 20)
	for b.Loop() {
		if err := r.Uniform(x, 0, 1); err != nil {
			b.Fatal(err)
		}
	}
}
