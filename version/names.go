package version

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on names and paths.
const (
	maxNameLen = 200
	maxPathLen = 4096
)

// ValidName reports whether name may name a dataset, branch, tag, model,
// alias or experiment: 1 to 200 bytes of segments separated by "/", each
// made of ASCII letters, digits, '.', '_' and '-', neither "." nor "..", and
// not starting with '.' or '-'. A refused name gives an error wrapping
// ErrBadName that says why.
func ValidName(name string) error {
	if why := nameProblem(name); why != "" {
		return fmt.Errorf("%w %s: %s", ErrBadName, quoteShort(name), why)
	}
	return nil
}

func nameProblem(name string) string {
	switch {
	case name == "":
		return "empty"
	case len(name) > maxNameLen:
		return fmt.Sprintf("longer than %d bytes", maxNameLen)
	}
	off := 0
	for seg := range strings.SplitSeq(name, "/") {
		switch {
		case seg == "":
			return `empty segment (leading, trailing or doubled "/")`
		case seg == "." || seg == "..":
			return fmt.Sprintf("segment %q", seg)
		case seg[0] == '.' || seg[0] == '-':
			return fmt.Sprintf("segment %q starts with %q", seg, seg[0])
		}
		for i := 0; i < len(seg); i++ {
			if c := seg[i]; !nameByte(c) {
				return fmt.Sprintf("byte %q at %d (allowed: letters, digits, '.', '_', '-' and '/')", c, off+i)
			}
		}
		off += len(seg) + 1
	}
	return ""
}

func nameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

// ValidPath reports whether p may be the path of an entry in a commit's
// tree: a relative, slash-separated path of valid UTF-8 of at most 4096
// bytes, without empty, "." or ".." segments, backslashes, NUL or other
// control characters. A refused path gives an error wrapping ErrBadName
// that says why.
func ValidPath(p string) error {
	if why := pathProblem(p); why != "" {
		return fmt.Errorf("%w: path %s: %s", ErrBadName, quoteShort(p), why)
	}
	return nil
}

func pathProblem(p string) string {
	switch {
	case p == "":
		return "empty"
	case len(p) > maxPathLen:
		return fmt.Sprintf("longer than %d bytes", maxPathLen)
	case p[0] == '/':
		return "absolute"
	case !utf8.ValidString(p):
		return "not valid UTF-8"
	}
	start := 0
	for i := 0; i <= len(p); i++ {
		if i < len(p) {
			c := p[i]
			if c < 0x20 || c == 0x7f {
				return fmt.Sprintf("control byte %#02x at %d", c, i)
			}
			if c == '\\' {
				return fmt.Sprintf("backslash at %d", i)
			}
			if c != '/' {
				continue
			}
		}
		switch seg := p[start:i]; seg {
		case "":
			return `empty segment (trailing or doubled "/")`
		case ".", "..":
			return fmt.Sprintf("segment %q", seg)
		}
		start = i + 1
	}
	return ""
}

// quoteShort quotes s for an error message, cut to 100 bytes.
func quoteShort(s string) string {
	const max = 100
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}
