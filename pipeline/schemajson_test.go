package pipeline

import (
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

func TestParseSchemaJSON(t *testing.T) {
	sc, err := ParseSchemaJSON([]byte(`{"fields":[
		{"name":"date","type":"timestamp","nullable":true},
		{"name":"delay","type":"int64"},
		{"name":"t2","type":"timestamp[ms, UTC]","nullable":true},
		{"name":"origin","type":"string","nullable":true}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := arrow.NewSchema([]arrow.Field{
		{Name: "date", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
		{Name: "delay", Type: arrow.PrimitiveTypes.Int64},
		{Name: "t2", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "origin", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	if !sc.Equal(want) {
		t.Errorf("schema\n%v\nwant\n%v", sc, want)
	}
}

func TestParseSchemaJSONErrors(t *testing.T) {
	for _, tt := range []struct{ in, msg string }{
		{``, "EOF"},
		{`{"fields":[]}`, "no fields"},
		{`{"fields":[{"name":"a","type":"decimal"}]}`, `unknown type "decimal"`},
		{`{"fields":[{"name":"a","type":"int64"},{"name":"a","type":"int64"}]}`, "appears twice"},
		{`{"fields":[{"type":"int64"}]}`, "no name"},
		{`{"fields":[{"name":"a","type":"int64","nulable":true}]}`, "unknown field"},
		{`{"fields":[{"name":"a","type":"timestamp[h]"}]}`, "unit"},
		{`{"fields":[{"name":"a","type":"int64"}]} {}`, "after the schema"},
	} {
		_, err := ParseSchemaJSON([]byte(tt.in))
		if err == nil || !errors.Is(err, ErrSchema) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: err = %v, want ErrSchema containing %q", tt.in, err, tt.msg)
		}
	}
}

func FuzzParseSchemaJSON(f *testing.F) {
	f.Add([]byte(`{"fields":[{"name":"a","type":"timestamp[us, UTC]","nullable":true}]}`))
	f.Add([]byte(`{"fields":[{"name":"b","type":"int64"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := ParseSchemaJSON(data)
		if err != nil {
			if !errors.Is(err, ErrSchema) {
				t.Fatalf("error %v does not wrap ErrSchema", err)
			}
			return
		}
		// What parses marshals and parses back to the same schema.
		out, err := MarshalSchemaJSON(sc)
		if err != nil {
			t.Fatalf("marshal %v: %v", sc, err)
		}
		back, err := ParseSchemaJSON(out)
		if err != nil {
			t.Fatalf("reparse %s: %v", out, err)
		}
		if !back.Equal(sc) {
			t.Fatalf("round trip changed the schema:\n%v\n%v", sc, back)
		}
	})
}
