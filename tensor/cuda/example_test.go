package cuda_test

import (
	"fmt"
	"log"

	"github.com/kilnml/kiln/tensor"
	"github.com/kilnml/kiln/tensor/cuda"
)

// A program that uses the GPU where there is one and the CPU elsewhere.
func ExampleOpenOrCPU() {
	dev, why := cuda.OpenOrCPU(cuda.Options{TF32: true})
	if why != nil {
		log.Printf("running on the CPU: %v", why)
	}
	if d, ok := dev.(*cuda.Device); ok {
		defer d.Close()
	}
	a, err := tensor.NewOn(dev, tensor.Float32, 256, 512)
	if err != nil {
		log.Fatal(err)
	}
	if err := tensor.NewRNG(1).Normal(a, 0, 1); err != nil {
		log.Fatal(err)
	}
	at, err := a.T()
	if err != nil {
		log.Fatal(err)
	}
	c, err := tensor.MatMul(a, at)
	if err != nil {
		log.Fatal(err)
	}
	s, err := tensor.Sum(c, false)
	if err != nil {
		log.Fatal(err)
	}
	v, err := s.At()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("sum of a·aᵀ on %s: %.1f\n", dev.Name(), v)
}
