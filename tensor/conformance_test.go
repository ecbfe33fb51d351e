package tensor_test

import (
	"testing"

	"github.com/kilnml/kiln/tensor"
	"github.com/kilnml/kiln/tensor/internal/conformance"
	"github.com/kilnml/kiln/tensor/internal/kern"
)

// TestConformanceCPU runs the device conformance suite on the CPU for
// every kernel tier this build and processor support.
func TestConformanceCPU(t *testing.T) {
	for _, tier := range kern.Tiers {
		if !kern.Supported(tier) {
			continue
		}
		t.Run(tier.String(), func(t *testing.T) {
			restore, err := kern.SetTier(tier)
			if err != nil {
				t.Fatal(err)
			}
			defer restore()
			conformance.Run(t, tensor.CPU())
		})
	}
}
