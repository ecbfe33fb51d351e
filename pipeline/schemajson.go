package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// SchemaJSON is the JSON form of a schema that command-line tools and
// configuration files use:
//
//	{"fields":[{"name":"delay","type":"int64","nullable":true}, ...]}
//
// Types are int8, int16, int32, int64, uint8, uint16, uint32, uint64,
// float32, float64, bool, string, large_string, date32 and timestamp, which
// may carry a unit and a zone: "timestamp[ms]", "timestamp[us, UTC]".
// A bare "timestamp" is microseconds without a zone.
type SchemaJSON struct {
	Fields []FieldJSON `json:"fields"`
}

// FieldJSON is one field of a SchemaJSON.
type FieldJSON struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Nullable bool   `json:"nullable"`
}

// ParseSchemaJSON reads a schema in the SchemaJSON form. Unknown keys, an
// unknown type, an empty or repeated field name are errors wrapping ErrSchema.
func ParseSchemaJSON(data []byte) (*arrow.Schema, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var sj SchemaJSON
	if err := dec.Decode(&sj); err != nil {
		return nil, fmt.Errorf("%w: schema JSON: %v", ErrSchema, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: schema JSON: text after the schema object", ErrSchema)
	}
	if len(sj.Fields) == 0 {
		return nil, fmt.Errorf("%w: schema JSON: no fields", ErrSchema)
	}
	seen := map[string]bool{}
	fields := make([]arrow.Field, len(sj.Fields))
	for i, f := range sj.Fields {
		if f.Name == "" {
			return nil, fmt.Errorf("%w: schema JSON: field %d has no name", ErrSchema, i+1)
		}
		if seen[f.Name] {
			return nil, fmt.Errorf("%w: schema JSON: field %q appears twice", ErrSchema, f.Name)
		}
		seen[f.Name] = true
		t, err := parseTypeName(f.Type)
		if err != nil {
			return nil, fmt.Errorf("%w: schema JSON: field %q: %v", ErrSchema, f.Name, err)
		}
		fields[i] = arrow.Field{Name: f.Name, Type: t, Nullable: f.Nullable}
	}
	return arrow.NewSchema(fields, nil), nil
}

var typeNames = map[string]arrow.DataType{
	"int8": arrow.PrimitiveTypes.Int8, "int16": arrow.PrimitiveTypes.Int16,
	"int32": arrow.PrimitiveTypes.Int32, "int64": arrow.PrimitiveTypes.Int64,
	"uint8": arrow.PrimitiveTypes.Uint8, "uint16": arrow.PrimitiveTypes.Uint16,
	"uint32": arrow.PrimitiveTypes.Uint32, "uint64": arrow.PrimitiveTypes.Uint64,
	"float32": arrow.PrimitiveTypes.Float32, "float64": arrow.PrimitiveTypes.Float64,
	"bool": arrow.FixedWidthTypes.Boolean, "string": arrow.BinaryTypes.String,
	"large_string": arrow.BinaryTypes.LargeString, "date32": arrow.FixedWidthTypes.Date32,
}

func parseTypeName(s string) (arrow.DataType, error) {
	s = strings.TrimSpace(s)
	if t, ok := typeNames[s]; ok {
		return t, nil
	}
	if s == "timestamp" {
		return &arrow.TimestampType{Unit: arrow.Microsecond}, nil
	}
	if rest, ok := strings.CutPrefix(s, "timestamp["); ok && strings.HasSuffix(rest, "]") {
		unit, zone, _ := strings.Cut(strings.TrimSuffix(rest, "]"), ",")
		t := &arrow.TimestampType{TimeZone: strings.TrimSpace(zone)}
		switch strings.TrimSpace(unit) {
		case "s":
			t.Unit = arrow.Second
		case "ms":
			t.Unit = arrow.Millisecond
		case "us":
			t.Unit = arrow.Microsecond
		case "ns":
			t.Unit = arrow.Nanosecond
		default:
			return nil, fmt.Errorf("timestamp unit %q: want s, ms, us or ns", unit)
		}
		return t, nil
	}
	return nil, fmt.Errorf("unknown type %q (want int8..int64, uint8..uint64, float32, float64, bool, string, large_string, date32 or timestamp[unit, zone])", s)
}

// MarshalSchemaJSON writes sc in the SchemaJSON form. Types outside that
// form are an error wrapping ErrSchema.
func MarshalSchemaJSON(sc *arrow.Schema) ([]byte, error) {
	var sj SchemaJSON
	for _, f := range sc.Fields() {
		name, err := typeName(f.Type)
		if err != nil {
			return nil, fmt.Errorf("%w: field %q: %v", ErrSchema, f.Name, err)
		}
		sj.Fields = append(sj.Fields, FieldJSON{Name: f.Name, Type: name, Nullable: f.Nullable})
	}
	return json.Marshal(sj)
}

func typeName(t arrow.DataType) (string, error) {
	if ts, ok := t.(*arrow.TimestampType); ok {
		if ts.TimeZone == "" {
			return "timestamp[" + ts.Unit.String() + "]", nil
		}
		return "timestamp[" + ts.Unit.String() + ", " + ts.TimeZone + "]", nil
	}
	for name, dt := range typeNames {
		if arrow.TypeEqual(dt, t) {
			return name, nil
		}
	}
	return "", fmt.Errorf("type %s has no SchemaJSON name", t)
}
