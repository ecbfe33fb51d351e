package version

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidName(t *testing.T) {
	good := []string{
		"flights", "a", "A-1_b.c", "team/flights", "a/b/c", "v1.2.3", "x-", "x.",
		strings.Repeat("a", 200), "deadbeefdeadbeef",
	}
	for _, n := range good {
		if err := ValidName(n); err != nil {
			t.Errorf("ValidName(%q) = %v, want nil", n, err)
		}
	}
	bad := map[string]string{
		"":                       "empty",
		strings.Repeat("a", 201): "longer than 200",
		"/abs":                   "empty segment",
		"trailing/":              "empty segment",
		"a//b":                   "empty segment",
		".":                      `segment "."`,
		"..":                     `segment ".."`,
		"a/../b":                 `segment ".."`,
		".hidden":                "starts with",
		"-flag":                  "starts with",
		"a/-b":                   "starts with",
		"a b":                    "byte ' '",
		"a@b":                    "byte '@'",
		"a~1":                    "byte '~'",
		"a\x00b":                 `byte '\x00'`,
		"a\nb":                   `byte '\n'`,
		"a\\b":                   `byte '\\'`,
		"é":                      "byte",
		"a:b":                    "byte ':'",
	}
	for n, want := range bad {
		err := ValidName(n)
		if !errors.Is(err, ErrBadName) {
			t.Errorf("ValidName(%q) = %v, want ErrBadName", n, err)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ValidName(%q) = %q, want it to say %q", n, err, want)
		}
	}
}

func TestValidPath(t *testing.T) {
	good := []string{
		"a", "data.parquet", "dir/sub/file.csv", ".hidden", "a/.b/c", "-dash", "spaces are fine",
		"ünïcödé/名前.txt", "a..b", "...", strings.Repeat("x/", 2047) + "yy",
	}
	for _, p := range good {
		if err := ValidPath(p); err != nil {
			t.Errorf("ValidPath(%q) = %v, want nil", p, err)
		}
	}
	bad := map[string]string{
		"":                               "empty",
		"/etc/passwd":                    "absolute",
		"a/":                             "empty segment",
		"a//b":                           "empty segment",
		".":                              `segment "."`,
		"./a":                            `segment "."`,
		"..":                             `segment ".."`,
		"a/../../etc":                    `segment ".."`,
		"a\\b":                           "backslash",
		"a\x00b":                         "control byte 0x00",
		"a\tb":                           "control byte 0x09",
		"a\x7fb":                         "control byte 0x7f",
		"bad\xffutf8":                    "UTF-8",
		strings.Repeat("x", 4097):        "longer than 4096",
		strings.Repeat("x/", 2048) + "y": "longer than 4096",
	}
	for p, want := range bad {
		err := ValidPath(p)
		if !errors.Is(err, ErrBadName) {
			t.Errorf("ValidPath(%.20q) = %v, want ErrBadName", p, err)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ValidPath(%.20q) = %q, want it to say %q", p, err, want)
		}
	}
}

func TestParseSpec(t *testing.T) {
	good := map[string]spec{
		"flights":                 {dataset: "flights"},
		"flights@main":            {dataset: "flights", ref: "main"},
		"team/flights@v1.0":       {dataset: "team/flights", ref: "v1.0"},
		"flights~":                {dataset: "flights", back: 1},
		"flights~0":               {dataset: "flights"},
		"flights@dev~12":          {dataset: "flights", ref: "dev", back: 12},
		"flights@deadbeef":        {dataset: "flights", ref: "deadbeef"},
		"f@blake3:" + hex64("ab"): {dataset: "f", ref: "blake3:" + hex64("ab")},
	}
	for s, want := range good {
		got, err := parseSpec(s)
		if err != nil {
			t.Errorf("parseSpec(%q): %v", s, err)
			continue
		}
		if diff := cmp.Diff(want, got, cmp.AllowUnexported(spec{})); diff != "" {
			t.Errorf("parseSpec(%q) (-want +got):\n%s", s, diff)
		}
	}
	for _, s := range []string{
		"", "@main", "flights@", "flights@@x", "flights~x", "flights~-1", "flights~+1",
		"flights~99999999999", "../etc@main", "flights@a b", "flights@../x", "fl ights",
		"flights@main@dev", "flights@.hidden",
	} {
		if _, err := parseSpec(s); !errors.Is(err, ErrBadName) {
			t.Errorf("parseSpec(%q) = %v, want ErrBadName", s, err)
		}
	}
}

// hex64 repeats s to 64 hex digits.
func hex64(s string) string {
	return strings.Repeat(s, 64/len(s))
}
