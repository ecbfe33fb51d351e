package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestFSSwapWaitsForLock: a Swap waits while another holder has the
// object's lock, gives up when its context ends, and the abandoned wait
// does not keep the lock once the holder releases it.
func TestFSSwapWaitsForLock(t *testing.T) {
	f, err := NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := t.Context()
	tag, err := f.Swap(ctx, "ref", []byte("1"), "")
	if err != nil {
		t.Fatal(err)
	}

	held, err := f.lockObject(ctx, "test", "ref")
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := f.Swap(short, "ref", []byte("2"), tag); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Swap while the lock is held: error %v, want one wrapping context.DeadlineExceeded", err)
	}
	if err := f.SwapDelete(short, "ref", tag); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SwapDelete while the lock is held: error %v, want one wrapping context.DeadlineExceeded", err)
	}
	// Another name has another lock.
	if _, err := f.Swap(ctx, "other", []byte("x"), ""); err != nil {
		t.Fatalf("Swap of another object while ref's lock is held: %v", err)
	}

	// A Swap that waits proceeds once the lock is released.
	done := make(chan error, 1)
	go func() {
		_, err := f.Swap(ctx, "ref", []byte("3"), tag)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Swap returned %v while the lock was held", err)
	case <-time.After(50 * time.Millisecond):
	}
	unlockObject(held)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Swap after the lock was released: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Swap still waiting 10 s after the lock was released")
	}
	data, _, err := f.Load(ctx, "ref")
	if err != nil || string(data) != "3" {
		t.Fatalf("Load = %q, %v; want 3", data, err)
	}
	// The waits abandoned above end once the lock is free and let go of it
	// at once: soon a Swap gets it without waiting long.
	deadline := time.Now().Add(10 * time.Second)
	for {
		probe, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		_, err = f.Swap(probe, "ref", []byte("4"), Sum([]byte("3")).Hex())
		cancel()
		if err == nil {
			break
		}
		if !errors.Is(err, context.DeadlineExceeded) || time.Now().After(deadline) {
			t.Fatalf("Swap after all holders left: %v", err)
		}
	}
}
