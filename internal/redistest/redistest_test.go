package redistest

import (
	"testing"
)

func TestStartPingKill(t *testing.T) {
	s := Start(t)
	if err := ping(s.Addr()); err != nil {
		t.Fatalf("PING %s: %v", s.Addr(), err)
	}
	s.Kill()
	if err := ping(s.Addr()); err == nil {
		t.Fatalf("PING after Kill succeeded")
	}
	s.Kill() // a second Kill does nothing
}
