package server

import (
	"encoding/json"
	"unicode/utf8"
)

// parseGetOnlineFeatures decodes the usual /get-online-features request
// without reflection: known keys, each once, strings without escapes, and
// entity values that are scalars. It reports false for anything else, valid
// or not; the caller then decodes with encoding/json, which gives the same
// result for a valid request and the error for an invalid one.
func parseGetOnlineFeatures(b []byte, req *getOnlineFeaturesRequest) bool {
	s := scanner{b: b}
	if !s.byte('{') {
		return false
	}
	var seen [5]bool
	for first := true; !s.byte('}'); first = false {
		if !first && !s.byte(',') {
			return false
		}
		key, ok := s.str()
		if !ok || !s.byte(':') {
			return false
		}
		var k int
		switch key {
		case "features":
			k = 0
			if s.null() {
				break
			}
			if !s.byte('[') {
				return false
			}
			req.Features = make([]string, 0, 16)
			for j := 0; !s.byte(']'); j++ {
				if j > 0 && !s.byte(',') {
					return false
				}
				f, ok := s.str()
				if !ok {
					return false
				}
				req.Features = append(req.Features, f)
			}
		case "feature_service":
			k = 1
			if s.null() {
				break
			}
			f, ok := s.str()
			if !ok {
				return false
			}
			req.FeatureService = &f
		case "entities", "request_context":
			k = 2
			m := &req.Entities
			if key == "request_context" {
				k, m = 3, &req.RequestContext
			}
			if s.null() {
				break
			}
			if !s.columns(m) {
				return false
			}
		case "full_feature_names":
			k = 4
			switch {
			case s.lit("true"):
				req.FullFeatureNames = true
			case s.lit("false"):
				req.FullFeatureNames = false
			default:
				return false
			}
		default:
			return false
		}
		if seen[k] {
			return false
		}
		seen[k] = true
	}
	s.ws()
	return s.i == len(s.b)
}

type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// byte consumes c after white space, if it is next.
func (s *scanner) byte(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) lit(l string) bool {
	s.ws()
	if len(s.b)-s.i >= len(l) && string(s.b[s.i:s.i+len(l)]) == l {
		s.i += len(l)
		return true
	}
	return false
}

func (s *scanner) null() bool { return s.lit("null") }

// str consumes a string without escapes or control characters, of valid
// UTF-8.
func (s *scanner) str() (string, bool) {
	if !s.byte('"') {
		return "", false
	}
	start := s.i
	ascii := true
	for ; s.i < len(s.b); s.i++ {
		c := s.b[s.i]
		switch {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			if !ascii && !utf8.Valid(v) {
				return "", false
			}
			return string(v), true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// number consumes a JSON number.
func (s *scanner) number() (json.Number, bool) {
	s.ws()
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.digits() == 0:
		return "", false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return "", false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return "", false
		}
	}
	return json.Number(s.b[start:s.i]), true
}

func (s *scanner) digits() int {
	n := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

// columns consumes an object of arrays of scalars.
func (s *scanner) columns(m *map[string][]any) bool {
	if !s.byte('{') {
		return false
	}
	*m = make(map[string][]any, 2)
	for first := true; !s.byte('}'); first = false {
		if !first && !s.byte(',') {
			return false
		}
		name, ok := s.str()
		if !ok || !s.byte(':') || !s.byte('[') {
			return false
		}
		if _, dup := (*m)[name]; dup {
			return false
		}
		col := make([]any, 0, 4)
		for j := 0; !s.byte(']'); j++ {
			if j > 0 && !s.byte(',') {
				return false
			}
			s.ws()
			if s.i == len(s.b) {
				return false
			}
			switch c := s.b[s.i]; {
			case c == '"':
				v, ok := s.str()
				if !ok {
					return false
				}
				col = append(col, v)
			case c == '-' || c >= '0' && c <= '9':
				v, ok := s.number()
				if !ok {
					return false
				}
				col = append(col, v)
			case s.lit("true"):
				col = append(col, true)
			case s.lit("false"):
				col = append(col, false)
			case s.lit("null"):
				col = append(col, nil)
			default:
				return false
			}
		}
		(*m)[name] = col
	}
	return true
}
