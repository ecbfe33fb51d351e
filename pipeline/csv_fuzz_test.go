package pipeline

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzCSV checks that the CSV reader never panics, fails only with the
// package's errors, and reads the same rows whatever the chunking.
func FuzzCSV(f *testing.F) {
	for _, s := range []string{
		"a,b\n1,x\n2,y\n",
		"a,b\r\n\"q,\"\"\n\",2\r\n",
		"\xef\xbb\xbfa\n\n1\n",
		"a,b\n1\n",
		"a\n\"open",
		"t\n2021-03-04T05:06:07Z\n2021-03-04 05:06:07\n",
		"x,y,z\n1.5,true,2020-02-29\n,,\n",
		"a\n\"x\"y\n",
	} {
		f.Add([]byte(s), uint8(3), uint8(2), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, block, batch uint8, noHeader bool) {
		opts := CSVOptions{NoHeader: noHeader, InferRows: 4, NullValues: []string{"NA"}}
		whole := CSVReader(strings.NewReader(string(data)), "fuzz", withAlloc(t, opts))
		whole.in.block = 1 << 20 // larger than any input the fuzzer makes, cheaper than the default
		_, want, werr := readAll(t, whole)
		checkFuzzErr(t, werr)

		opts.BatchRows = int(batch%7) + 1
		opts.Parallelism = 3
		chunked := CSVReader(strings.NewReader(string(data)), "fuzz", withAlloc(t, opts))
		chunked.in.block = int(block%31) + 1
		_, got, gerr := readAll(t, chunked)
		checkFuzzErr(t, gerr)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("whole read err %v, chunked read err %v", werr, gerr)
		}
		if werr == nil {
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("chunked read differs (-whole +chunked):\n%s", diff)
			}
		}
	})
}

func withAlloc(t *testing.T, o CSVOptions) CSVOptions {
	o.Allocator = checkedAlloc(t)
	return o
}

func checkFuzzErr(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var pe *ParseError
	if !errors.As(err, &pe) && !errors.Is(err, ErrSchema) && !errors.Is(err, ErrTooLarge) {
		t.Fatalf("unexpected error type %T: %v", err, err)
	}
}
