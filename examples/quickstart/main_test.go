package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestQuickstart(t *testing.T) {
	out := t.TempDir()
	var buf bytes.Buffer
	if err := run(context.Background(), filepath.Join("..", "..", "testdata"), out, &buf); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	for _, want := range []string{
		"validated 20000 flights: 19990 passed, 10 set aside",
		"wrote 19990 rows with a derived \"late\" column",
		"5859 of 19990 flights left more than 15 minutes late",
		"wrote 1461 days of Seattle weather",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	for _, f := range []string{"flights.parquet", "flights-rejected.csv", "seattle-weather.parquet"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	rejected, _ := os.ReadFile(filepath.Join(out, "flights-rejected.csv"))
	if n := strings.Count(string(rejected), "\n"); n != 11 {
		t.Errorf("rejected file has %d lines, want a header and 10 rows", n)
	}
}

func TestQuickstartMissingData(t *testing.T) {
	err := run(context.Background(), t.TempDir(), t.TempDir(), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "flights-20k.csv") {
		t.Errorf("err = %v, want one naming the missing file", err)
	}
}
