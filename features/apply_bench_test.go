package features

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/kilnml/kiln/pipeline"
)

// bench20 fits a 20-column transformer (standard ×6, minmax ×3, robust ×3,
// median impute with indicators ×3, log1p ×2, clip ×1, maxabs ×2) on rows
// random rows and returns it with the batch.
func bench20(b *testing.B, rows int) (*ColumnTransformer, arrow.RecordBatch) {
	b.Helper()
	const k = 20
	names := make([]string, k)
	fields := make([]arrow.Field, k)
	arrs := make([]arrow.Array, k)
	r := rand.New(rand.NewPCG(1, 1))
	for j := range k {
		names[j] = fmt.Sprintf("c%02d", j)
		fields[j] = arrow.Field{Name: names[j], Type: arrow.PrimitiveTypes.Float64, Nullable: true}
		bld := array.NewFloat64Builder(memory.DefaultAllocator)
		for i := range rows {
			if i%17 == j {
				bld.AppendNull()
			} else {
				bld.Append(r.Float64() * 100)
			}
		}
		arrs[j] = bld.NewArray()
		bld.Release()
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, int64(rows))
	for _, a := range arrs {
		a.Release()
	}
	cols := func(lo, hi int) string { return `["` + strings.Join(names[lo:hi], `","`) + `"]` }
	spec, err := ParseSpec([]byte(`{"transforms":[
		{"name":"standard","columns":` + cols(0, 6) + `},
		{"name":"minmax","columns":` + cols(6, 9) + `},
		{"name":"robust","columns":` + cols(9, 12) + `},
		{"name":"impute","columns":` + cols(12, 15) + `,"strategy":"median","add_indicator":true},
		{"name":"log1p","columns":` + cols(15, 17) + `},
		{"name":"clip","columns":` + cols(17, 18) + `,"min":10,"max":90},
		{"name":"maxabs","columns":` + cols(18, 20) + `}]}`))
	if err != nil {
		b.Fatal(err)
	}
	ct, err := New(spec)
	if err != nil {
		b.Fatal(err)
	}
	src := pipeline.FromBatches(rec.Schema(), rec)
	defer src.Release()
	if err := ct.Fit(context.Background(), src, FitOptions{}); err != nil {
		b.Fatal(err)
	}
	return ct, rec
}

// BenchmarkApplyRow20 is single-row apply of a 20-column transformer: the
// serving path (target: under 2 µs per row).
func BenchmarkApplyRow20(b *testing.B) {
	ct, rec := bench20(b, 1000)
	defer rec.Release()
	in := make([]Value, len(ct.Inputs()))
	for j := range in {
		in[j] = Float(float64(j) * 3.5)
	}
	in[13] = Null()
	out := make([]float64, len(ct.Outputs()))
	b.ReportAllocs()
	for b.Loop() {
		if err := ct.ApplyRowInto(in, out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyBatch20 is batch apply of the same transformer to 64Ki rows.
func BenchmarkApplyBatch20(b *testing.B) {
	ct, rec := bench20(b, 1<<16)
	defer rec.Release()
	ctx := context.Background()
	b.SetBytes(rec.NumRows() * 8 * rec.NumCols())
	for b.Loop() {
		out, err := ct.Apply(ctx, rec)
		if err != nil {
			b.Fatal(err)
		}
		out.Release()
	}
}

// BenchmarkFit20 fits the transformer on 64Ki rows (exact quantiles).
func BenchmarkFit20(b *testing.B) {
	ct, rec := bench20(b, 1<<16)
	defer rec.Release()
	src := pipeline.FromBatches(rec.Schema(), rec)
	defer src.Release()
	ctx := context.Background()
	b.SetBytes(rec.NumRows() * 8 * rec.NumCols())
	for b.Loop() {
		if err := ct.Fit(ctx, src, FitOptions{Workers: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyRowMixed20 is single-row apply of a 20-column transformer
// with strings: 16 numeric columns (standard, median impute with
// indicators) and one-hot encodings of 4 string columns of 50 categories,
// through ApplyRowInto and through the map form ApplyRow.
func BenchmarkApplyRowMixed20(b *testing.B) {
	const rows, num, str = 2000, 16, 4
	var fields []arrow.Field
	var arrs []arrow.Array
	var names []string
	for j := range num + str {
		name := fmt.Sprintf("c%02d", j)
		names = append(names, name)
		if j < num {
			bld := array.NewFloat64Builder(memory.DefaultAllocator)
			for i := range rows {
				bld.Append(float64(i*(j+1)%997) / 7)
			}
			arrs = append(arrs, bld.NewArray())
			bld.Release()
			fields = append(fields, arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Float64, Nullable: true})
			continue
		}
		bld := array.NewStringBuilder(memory.DefaultAllocator)
		for i := range rows {
			bld.Append(fmt.Sprintf("city-%02d", (i*(j+3))%50))
		}
		arrs = append(arrs, bld.NewArray())
		bld.Release()
		fields = append(fields, arrow.Field{Name: name, Type: arrow.BinaryTypes.String})
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, rows)
	defer rec.Release()
	for _, a := range arrs {
		a.Release()
	}
	cols := func(lo, hi int) string { return `["` + strings.Join(names[lo:hi], `","`) + `"]` }
	spec, err := ParseSpec([]byte(`{"transforms":[
		{"name":"standard","columns":` + cols(0, 12) + `},
		{"name":"impute","columns":` + cols(12, 16) + `,"strategy":"median","add_indicator":true},
		{"name":"onehot","columns":` + cols(16, 20) + `,"handle_unknown":"ignore"}]}`))
	if err != nil {
		b.Fatal(err)
	}
	ct, err := New(spec)
	if err != nil {
		b.Fatal(err)
	}
	src := pipeline.FromBatches(rec.Schema(), rec)
	defer src.Release()
	if err := ct.Fit(context.Background(), src, FitOptions{}); err != nil {
		b.Fatal(err)
	}
	in := make([]Value, len(ct.Inputs()))
	m := make(map[string]Value, len(in))
	for j, c := range ct.Inputs() {
		if j < num {
			in[j] = Float(float64(j) * 3.5)
		} else {
			in[j] = String(fmt.Sprintf("city-%02d", j))
		}
		m[c] = in[j]
	}
	out := make([]float64, len(ct.Outputs()))
	b.Run("into", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := ct.ApplyRowInto(in, out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("map", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ct.ApplyRow(m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
