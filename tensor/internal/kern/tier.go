package kern

import (
	"fmt"
	"sync/atomic"

	"golang.org/x/sys/cpu"
)

// A Tier is a family of kernel implementations.
type Tier uint8

const (
	// TierGo is portable Go, used where no assembly applies and under the
	// purego build tag.
	TierGo Tier = iota
	// TierAVX2 is amd64 assembly for AVX2 with FMA3.
	TierAVX2
	// TierAVX512 is amd64 assembly for AVX-512 F.
	TierAVX512
)

func (t Tier) String() string {
	switch t {
	case TierGo:
		return "go"
	case TierAVX2:
		return "avx2"
	case TierAVX512:
		return "avx512"
	}
	return fmt.Sprintf("Tier(%d)", uint8(t))
}

// Tiers lists every tier, slowest first.
var Tiers = []Tier{TierGo, TierAVX2, TierAVX512}

// Supported reports whether this build on this CPU can run tier t.
func Supported(t Tier) bool {
	switch t {
	case TierGo:
		return true
	case TierAVX2:
		return haveAsm && cpu.X86.HasAVX2 && cpu.X86.HasFMA
	case TierAVX512:
		return haveAsm && haveAVX512Kernels && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL
	}
	return false
}

// Best returns the fastest supported tier.
func Best() Tier {
	for i := len(Tiers) - 1; i > 0; i-- {
		if Supported(Tiers[i]) {
			return Tiers[i]
		}
	}
	return TierGo
}

var current atomic.Uint32

func init() { current.Store(uint32(Best())) }

// Current returns the tier the kernels use now.
func Current() Tier { return Tier(current.Load()) }

// SetTier makes the kernels use tier t until restore is called; it is for
// tests and benchmarks, and must not be called while kernels run.
func SetTier(t Tier) (restore func(), err error) {
	if !Supported(t) {
		return nil, fmt.Errorf("kern: tier %v is not supported by this build or CPU", t)
	}
	old := current.Swap(uint32(t))
	return func() { current.Store(old) }, nil
}
