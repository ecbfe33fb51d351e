package online_test

import (
	"testing"

	"github.com/kilnml/kiln/features/online"
	"github.com/kilnml/kiln/internal/onlinetest"
)

func TestMemory(t *testing.T) {
	onlinetest.Run(t, func(t *testing.T) online.Store { return online.NewMemory() })
}
