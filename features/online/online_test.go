package online

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestValidFeatures(t *testing.T) {
	many := func(n int) []string {
		fs := make([]string, n)
		for i := range fs {
			fs[i] = "f" + strconv.Itoa(i)
		}
		return fs
	}
	dupMany := many(50)
	dupMany[40] = dupMany[3]
	cases := []struct {
		name     string
		features []string
		ok       bool
	}{
		{"two", []string{"a", "b"}, true},
		{"two again", []string{"a", "b"}, true},
		{"same length, duplicate", []string{"a", "a"}, false},
		{"fifty", many(50), true},
		{"fifty, duplicate", dupMany, false},
		{"fifty again", many(50), true},
		{"empty list", nil, false},
		{"empty name", []string{"a", ""}, false},
		{"long name", []string{"a", strings.Repeat("x", MaxFeatureNameLen+1)}, false},
		{"eight with duplicate", []string{"a", "b", "c", "d", "e", "f", "g", "a"}, false},
	}
	for _, c := range cases {
		// Twice: the second call may be answered from the cache of
		// validated lists, and must answer the same.
		for range 2 {
			err := ValidFeatures(c.features)
			if (err == nil) != c.ok {
				t.Fatalf("%s: ValidFeatures(%q) = %v, want ok %v", c.name, c.features, err, c.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidName) {
				t.Fatalf("%s: error %v is not ErrInvalidName", c.name, err)
			}
		}
	}
	// A list validated once and changed afterwards by its owner is
	// validated again.
	fs := []string{"x", "y", "z"}
	if err := ValidFeatures(fs); err != nil {
		t.Fatal(err)
	}
	fs[2] = "x"
	if err := ValidFeatures(fs); err == nil {
		t.Fatal("a list changed to hold a duplicate passed")
	}
}
