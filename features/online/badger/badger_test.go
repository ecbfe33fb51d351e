package badgerstore_test

import (
	"testing"
	"time"

	"github.com/kilnml/kiln/features/online"
	badgerstore "github.com/kilnml/kiln/features/online/badger"
	"github.com/kilnml/kiln/internal/onlinetest"
)

func TestStore(t *testing.T) {
	onlinetest.Run(t, func(t *testing.T) online.Store {
		s, err := badgerstore.Open(t.TempDir(), badgerstore.Options{MemTableSize: 4 << 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := badgerstore.Open(dir, badgerstore.Options{MemTableSize: 4 << 20, SyncWrites: true})
	if err != nil {
		t.Fatal(err)
	}
	et := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	k := online.EncodeKey(online.String("a"))
	if err := s.Write(t.Context(), "v", []string{"x"}, []online.Record{{Key: k, EventTime: et, Values: []online.Value{online.Float(1.5)}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(t.Context(), "v", []string{"x"}, [][]byte{k}, 0, et); err != online.ErrClosed {
		t.Errorf("Read after Close: %v, want ErrClosed", err)
	}
	s, err = badgerstore.Open(dir, badgerstore.Options{MemTableSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.Read(t.Context(), "v", []string{"x"}, [][]byte{k}, 0, et)
	if err != nil {
		t.Fatal(err)
	}
	if got := out[0][0]; got.Status != online.Present || !got.EventTime.Equal(et) || !got.Value.Equal(online.Float(1.5)) {
		t.Errorf("after reopen: %+v", got)
	}
}

func BenchmarkRead1x50(b *testing.B) {
	s, err := badgerstore.Open(b.TempDir(), badgerstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	features, recs := onlinetest.BenchRecords(10000, 50)
	if err := s.Write(b.Context(), "v", features, recs); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	i := 0
	for b.Loop() {
		i = (i + 7919) % len(recs)
		if _, err := s.Read(b.Context(), "v", features, [][]byte{recs[i].Key}, time.Hour, now); err != nil {
			b.Fatal(err)
		}
	}
}
