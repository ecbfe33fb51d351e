package safetensors_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/kilnml/kiln/tensor"
	"github.com/kilnml/kiln/train/safetensors"
)

// Write tensors and metadata, then read them back.
func Example() {
	w, err := tensor.FromFloat32s([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	if err != nil {
		log.Fatal(err)
	}
	b, err := tensor.FromFloat64s([]float64{0.5, -0.5, 0})
	if err != nil {
		log.Fatal(err)
	}

	// WriteFile(path, ...) does the same to a file, atomically.
	var buf bytes.Buffer
	err = safetensors.Write(&buf, map[string]*tensor.Tensor{"layer.weight": w, "layer.bias": b},
		map[string]string{"epoch": "3"})
	if err != nil {
		log.Fatal(err)
	}

	f, err := safetensors.Read(&buf, safetensors.ReadOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("metadata:", f.Metadata)
	for _, name := range f.Names {
		t := f.Tensors[name]
		v, _ := t.Float64s()
		fmt.Println(name, t.DType(), t.Shape(), v)
	}
	// Output:
	// metadata: map[epoch:3]
	// layer.bias float64 [3] [0.5 -0.5 0]
	// layer.weight float32 [2 3] [1 2 3 4 5 6]
}
