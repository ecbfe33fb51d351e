package tensor_test

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/kilnml/kiln/tensor"
)

// A dense layer with a fused bias and ReLU, a softmax over its outputs,
// and a round trip through Arrow.
func Example() {
	x, _ := tensor.FromFloat32s([]float32{1, 2, 3, 4}, 2, 2)          // 2 samples × 2 inputs
	w, _ := tensor.FromFloat32s([]float32{1, -1, 0.5, 2, 0, 1}, 2, 3) // 2 inputs × 3 outputs
	bias, _ := tensor.FromFloat32s([]float32{0, 5, -3})

	h, _ := tensor.Zeros(2, 3)
	if err := tensor.Gemm(h, x, w, tensor.GemmOptions{Bias: bias, Act: tensor.ActReLU}); err != nil {
		fmt.Println(err)
		return
	}
	hv, _ := h.Float32s()
	fmt.Println("relu(x·w + b):", hv)

	p, _ := tensor.Softmax(h, 1)
	pv, _ := p.Float32s()
	fmt.Printf("softmax row 0: %.4f\n", pv[:3])

	mem := memory.NewGoAllocator()
	col, _ := h.Slice(1, 1, 2) // the second output, 2×1
	col, _ = col.Squeeze(1)    // 1-D view
	arr, _ := col.ToArrow(mem) // a new Arrow array: the caller releases it
	defer arr.Release()
	back, _ := tensor.FromArrow(arr)
	bv, _ := back.Float32s()
	fmt.Println("via arrow:", arr, bv)

	// Output:
	// relu(x·w + b): [5 4 0 11 2 2.5]
	// softmax row 0: [0.7275 0.2676 0.0049]
	// via arrow: [4 2] [4 2]
}
