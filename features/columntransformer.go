package features

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/kilnml/kiln/pipeline"
)

// Saved state format.
const (
	stateFormat  = "kiln.features"
	stateVersion = 1
)

// Spec declares a column transformer: an ordered list of transforms.
type Spec struct {
	Transforms []StepSpec `json:"transforms"`
}

// StepSpec is one transform of a Spec. In JSON it is one object:
// {"name": KIND, "columns": [...], PARAM: VALUE, ...}, with the parameters
// inline and named as scikit-learn names them.
type StepSpec struct {
	Name    string          // transform kind: "standard", "onehot", ...
	Columns []string        // input columns
	Params  json.RawMessage // a JSON object of the parameters, or nil
}

// MarshalJSON writes the step as one object, parameters inline.
func (s StepSpec) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	name, _ := json.Marshal(s.Name)
	cols, err := json.Marshal(s.Columns)
	if err != nil {
		return nil, err
	}
	b.WriteString(`{"name":`)
	b.Write(name)
	b.WriteString(`,"columns":`)
	b.Write(cols)
	p := bytes.TrimSpace(s.Params)
	if len(p) > 0 && !bytes.Equal(p, []byte("null")) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(p, &m); err != nil {
			return nil, fmt.Errorf("%w: step %q: params are not a JSON object", ErrSpec, s.Name)
		}
		inner := bytes.TrimSpace(p[1 : len(p)-1])
		if len(inner) > 0 {
			b.WriteByte(',')
			b.Write(inner)
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads a step object: "name" and "columns" are required, and
// every other key is a parameter.
func (s *StepSpec) UnmarshalJSON(data []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("%w: transform is not a JSON object: %v", ErrSpec, err)
	}
	raw, ok := m["name"]
	if !ok {
		return fmt.Errorf("%w: transform without \"name\"", ErrSpec)
	}
	if err := json.Unmarshal(raw, &s.Name); err != nil {
		return fmt.Errorf("%w: \"name\" is not a string", ErrSpec)
	}
	raw, ok = m["columns"]
	if !ok {
		return fmt.Errorf("%w: %s: no \"columns\"", ErrSpec, s.Name)
	}
	if err := json.Unmarshal(raw, &s.Columns); err != nil {
		return fmt.Errorf("%w: %s: \"columns\" is not a list of strings", ErrSpec, s.Name)
	}
	delete(m, "name")
	delete(m, "columns")
	s.Params = nil
	if len(m) > 0 {
		p, err := json.Marshal(m) // keys sorted: a canonical form
		if err != nil {
			return err
		}
		s.Params = p
	}
	return nil
}

// ParseSpec parses a JSON spec, {"transforms": [STEP, ...]}, and checks
// every step: a known name, columns, known and valid parameters. Errors
// wrap ErrSpec.
func ParseSpec(data []byte) (Spec, error) {
	var spec Spec
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		if errors.Is(err, ErrSpec) {
			return Spec{}, err
		}
		return Spec{}, fmt.Errorf("%w: %v", ErrSpec, err)
	}
	if dec.More() {
		return Spec{}, fmt.Errorf("%w: data after the spec object", ErrSpec)
	}
	if _, err := New(spec); err != nil {
		return Spec{}, err
	}
	return spec, nil
}

// ColumnTransformer is a named, ordered set of transforms over the columns
// of Arrow batches. Fit it once (Fit, or FitSink in a pipeline), then apply
// it to batches (Apply, Matrix, Stage) or single rows (ApplyRow,
// ApplyRowInto): both paths run the same code and give bit-identical
// outputs. Save it with MarshalJSON and restore it with Load.
//
// Outputs are float64 columns in spec order, each transform's outputs in
// its own order; missing values come out as NaN (never null), as in
// scikit-learn. Two transforms producing the same output name is an error.
//
// A fitted ColumnTransformer is safe for concurrent use by Apply, Matrix,
// ApplyRow, ApplyRowInto and stages; Fit must not run concurrently with
// anything else on the same value.
type ColumnTransformer struct {
	spec  Spec
	steps []Transform

	inputs  []string // apply inputs, in order of first appearance
	stepIn  [][]int  // per step: index into inputs of each step input
	stepLo  []int    // per step: start in inputs if its inputs are contiguous, else -1
	fitCols []string // fit inputs (apply inputs plus extra fit columns)
	stepFit [][]int  // per step: index into fitCols of each fit input

	fitted  bool
	outputs []string
	outOff  []int // per step: first output index; len(steps)+1

	rowPool sync.Pool // *[]Value scratch for non-contiguous step inputs
}

// New makes an unfitted column transformer from spec. A transformer whose
// transforms are all stateless is fitted already.
func New(spec Spec) (*ColumnTransformer, error) {
	if len(spec.Transforms) == 0 {
		return nil, fmt.Errorf("%w: no transforms", ErrSpec)
	}
	steps := make([]Transform, len(spec.Transforms))
	for i, s := range spec.Transforms {
		k, ok := kinds[s.Name]
		if !ok {
			return nil, fmt.Errorf("%w: transform %d: unknown name %q (known: %s)", ErrSpec, i, s.Name, strings.Join(Kinds(), ", "))
		}
		t, err := k.New(slices.Clone(s.Columns), s.Params)
		if err != nil {
			return nil, fmt.Errorf("transform %d (%s): %w", i, s.Name, err)
		}
		steps[i] = t
	}
	ct := &ColumnTransformer{spec: cloneSpec(spec), steps: steps}
	ct.layoutInputs()
	if err := ct.layoutOutputs(); err != nil {
		return nil, err
	}
	return ct, nil
}

func cloneSpec(s Spec) Spec {
	out := Spec{Transforms: make([]StepSpec, len(s.Transforms))}
	for i, st := range s.Transforms {
		out.Transforms[i] = StepSpec{Name: st.Name, Columns: slices.Clone(st.Columns), Params: slices.Clone(st.Params)}
	}
	return out
}

// layoutInputs computes the input lists and each step's positions in them.
func (ct *ColumnTransformer) layoutInputs() {
	ct.inputs, ct.fitCols = nil, nil
	ct.stepIn = make([][]int, len(ct.steps))
	ct.stepLo = make([]int, len(ct.steps))
	ct.stepFit = make([][]int, len(ct.steps))
	pos := map[string]int{}
	fpos := map[string]int{}
	for i, t := range ct.steps {
		for _, c := range t.Inputs() {
			p, ok := pos[c]
			if !ok {
				p = len(ct.inputs)
				pos[c] = p
				ct.inputs = append(ct.inputs, c)
			}
			ct.stepIn[i] = append(ct.stepIn[i], p)
		}
		ct.stepLo[i] = -1
		if idx := ct.stepIn[i]; len(idx) > 0 {
			ok := true
			for k := range idx {
				if idx[k] != idx[0]+k {
					ok = false
					break
				}
			}
			if ok {
				ct.stepLo[i] = idx[0]
			}
		}
		fit := t.Inputs()
		if fi, ok := t.(FitInputser); ok {
			fit = fi.FitInputs()
		}
		for _, c := range fit {
			p, ok := fpos[c]
			if !ok {
				p = len(ct.fitCols)
				fpos[c] = p
				ct.fitCols = append(ct.fitCols, c)
			}
			ct.stepFit[i] = append(ct.stepFit[i], p)
		}
	}
}

// layoutOutputs computes the outputs once every step is fitted.
func (ct *ColumnTransformer) layoutOutputs() error {
	for _, t := range ct.steps {
		if !t.Fitted() {
			ct.fitted, ct.outputs, ct.outOff = false, nil, nil
			return nil
		}
	}
	var outs []string
	off := make([]int, len(ct.steps)+1)
	seen := map[string]int{}
	for i, t := range ct.steps {
		off[i] = len(outs)
		for _, o := range t.Outputs() {
			if j, dup := seen[o]; dup {
				return fmt.Errorf("%w: output %q is produced by transform %d (%s) and transform %d (%s)",
					ErrSpec, o, j, ct.steps[j].Kind(), i, t.Kind())
			}
			seen[o] = i
			outs = append(outs, o)
		}
	}
	off[len(ct.steps)] = len(outs)
	ct.outputs, ct.outOff, ct.fitted = outs, off, true
	return nil
}

// Spec returns the spec the transformer was made from.
func (ct *ColumnTransformer) Spec() Spec { return cloneSpec(ct.spec) }

// Fitted reports whether the transformer can be applied.
func (ct *ColumnTransformer) Fitted() bool { return ct.fitted }

// Inputs returns the columns read at apply time, in order of first
// appearance in the spec: the order ApplyRowInto expects.
func (ct *ColumnTransformer) Inputs() []string { return slices.Clone(ct.inputs) }

// FitInputs returns the columns read when fitting: Inputs plus columns only
// fitting reads (a target encoder's target).
func (ct *ColumnTransformer) FitInputs() []string { return slices.Clone(ct.fitCols) }

// Outputs returns the output column names in spec order, or nil before the
// transformer is fitted. One-hot outputs are named "<column>_<category>",
// date parts "<column>_<part>", missing indicators "<column>_missing".
func (ct *ColumnTransformer) Outputs() []string { return slices.Clone(ct.outputs) }

// Transforms returns the transformer's transforms, fitted once it is.
func (ct *ColumnTransformer) Transforms() []Transform { return slices.Clone(ct.steps) }

// columnIndex finds each name in schema.
func columnIndex(schema *arrow.Schema, names []string, what string) ([]int, error) {
	idx := make([]int, len(names))
	for i, n := range names {
		f := schema.FieldIndices(n)
		if len(f) == 0 {
			return nil, fmt.Errorf("%w: %q (needed for %s)", ErrMissingColumn, n, what)
		}
		idx[i] = f[0]
	}
	return idx, nil
}

// Fit fits every transform on the batches of src, replacing any earlier
// fit. Batches are fitted by FitOptions.Workers goroutines, each with its
// own partial fit, and the partial fits are merged at the end; with exact
// statistics the result does not depend on the number of workers.
func (ct *ColumnTransformer) Fit(ctx context.Context, src pipeline.Source, opts FitOptions) error {
	schema, err := src.Schema(ctx)
	if err != nil {
		return err
	}
	run, err := ct.startFit(ctx, schema, opts)
	if err != nil {
		return err
	}
	for b, err := range src.Batches(ctx) {
		if err != nil {
			run.abort()
			return err
		}
		err = run.write(b)
		b.Release()
		if err != nil {
			run.abort()
			return err
		}
	}
	return run.finish()
}

// fitRun is one fit in progress: batches are handed to workers, each
// owning one Fitter per transform.
type fitRun struct {
	ct      *ColumnTransformer
	opts    FitOptions
	ctx     context.Context
	cancel  context.CancelFunc
	colIdx  []int
	work    chan arrow.RecordBatch
	wg      sync.WaitGroup
	fitters [][]Fitter // per worker, per step
	errOnce sync.Once
	err     error
	mu      sync.Mutex
	rows    int64
	closed  bool
}

func (ct *ColumnTransformer) startFit(ctx context.Context, schema *arrow.Schema, opts FitOptions) (*fitRun, error) {
	if opts.Quantiles != "" && opts.Quantiles != QuantilesExact && opts.Quantiles != QuantilesSketch {
		return nil, fmt.Errorf("%w: FitOptions.Quantiles %q (want %q or %q)", ErrSpec, opts.Quantiles, QuantilesExact, QuantilesSketch)
	}
	idx, err := columnIndex(schema, ct.fitCols, "fitting")
	if err != nil {
		return nil, err
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	r := &fitRun{ct: ct, opts: opts, colIdx: idx, work: make(chan arrow.RecordBatch, workers)}
	r.fitters = make([][]Fitter, workers)
	for w := range workers {
		r.fitters[w] = make([]Fitter, len(ct.steps))
		for i, t := range ct.steps {
			types := make([]arrow.DataType, len(ct.stepFit[i]))
			for k, p := range ct.stepFit[i] {
				types[k] = schema.Field(idx[p]).Type
			}
			f, err := newFitter(t, types)
			if err != nil {
				return nil, fmt.Errorf("transform %d (%s): %w", i, t.Kind(), err)
			}
			if s, ok := f.(fitOptionSetter); ok {
				s.setFitOptions(opts)
			}
			r.fitters[w][i] = f
		}
	}
	r.ctx, r.cancel = context.WithCancel(ctx)
	for w := range workers {
		r.wg.Add(1)
		go r.worker(w)
	}
	return r, nil
}

func newFitter(t Transform, types []arrow.DataType) (f Fitter, err error) {
	defer func() {
		if p := recover(); p != nil {
			f, err = nil, fmt.Errorf("features: panic in %s fitter: %v\n%s", t.Kind(), p, debug.Stack())
		}
	}()
	return t.NewFitter(types)
}

func (r *fitRun) fail(err error) {
	r.errOnce.Do(func() {
		r.err = err
		r.cancel()
	})
}

func (r *fitRun) worker(w int) {
	defer r.wg.Done()
	cols := make([]arrow.Array, 0, 8)
	for b := range r.work {
		if r.ctx.Err() == nil {
			if err := r.addBatch(w, b, &cols); err != nil {
				r.fail(err)
			}
		}
		b.Release()
	}
}

func (r *fitRun) addBatch(w int, b arrow.RecordBatch, cols *[]arrow.Array) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("features: panic while fitting: %v\n%s", p, debug.Stack())
		}
	}()
	for i, f := range r.fitters[w] {
		*cols = (*cols)[:0]
		for _, p := range r.ct.stepFit[i] {
			*cols = append(*cols, b.Column(r.colIdx[p]))
		}
		if err := f.Add(*cols); err != nil {
			return fmt.Errorf("fit transform %d (%s): %w", i, r.ct.steps[i].Kind(), err)
		}
	}
	if r.opts.Progress != nil {
		r.mu.Lock()
		r.rows += b.NumRows()
		r.opts.Progress(r.rows)
		r.mu.Unlock()
	}
	return nil
}

// write hands one batch to the workers; the caller keeps its reference.
func (r *fitRun) write(b arrow.RecordBatch) error {
	if err := r.ctx.Err(); err != nil {
		if r.err != nil {
			return r.err
		}
		return err
	}
	b.Retain()
	select {
	case r.work <- b:
		return nil
	case <-r.ctx.Done():
		b.Release()
		if r.err != nil { // set before cancel when a worker failed
			return r.err
		}
		return r.ctx.Err()
	}
}

func (r *fitRun) stop() {
	if !r.closed {
		r.closed = true
		close(r.work)
		r.wg.Wait()
	}
}

func (r *fitRun) abort() {
	r.cancel()
	r.stop()
}

// finish waits for the workers, merges their fits in worker order and
// installs the fitted transforms.
func (r *fitRun) finish() error {
	r.stop()
	defer r.cancel()
	if r.err != nil {
		return r.err
	}
	if err := r.ctx.Err(); err != nil {
		return err
	}
	ct := r.ct
	fitted := make([]Transform, len(ct.steps))
	for i := range ct.steps {
		f := r.fitters[0][i]
		for w := 1; w < len(r.fitters); w++ {
			if err := f.Merge(r.fitters[w][i]); err != nil {
				return fmt.Errorf("transform %d (%s): merge: %w", i, ct.steps[i].Kind(), err)
			}
		}
		t, err := f.Finish()
		if err != nil {
			return fmt.Errorf("transform %d (%s): %w", i, ct.steps[i].Kind(), err)
		}
		fitted[i] = t
	}
	old := ct.steps
	ct.steps = fitted
	if err := ct.layoutOutputs(); err != nil {
		ct.steps = old
		_ = ct.layoutOutputs()
		return err
	}
	return nil
}

// FitSink returns a pipeline sink that fits the transformer on the batches
// a run writes to it, with the zero FitOptions; Commit finishes the fit.
func (ct *ColumnTransformer) FitSink() pipeline.Sink { return ct.FitSinkWith(FitOptions{}) }

// FitSinkWith is FitSink with options.
func (ct *ColumnTransformer) FitSinkWith(opts FitOptions) pipeline.Sink {
	return &fitSink{ct: ct, opts: opts}
}

type fitSink struct {
	ct   *ColumnTransformer
	opts FitOptions
	run  *fitRun
	done bool
}

func (s *fitSink) Open(ctx context.Context, schema *arrow.Schema) error {
	if s.run != nil || s.done {
		return pipeline.ErrClosed
	}
	run, err := s.ct.startFit(context.WithoutCancel(ctx), schema, s.opts)
	if err != nil {
		return fmt.Errorf("%w: %w", pipeline.ErrSchema, err)
	}
	s.run = run
	return nil
}

func (s *fitSink) Write(ctx context.Context, b arrow.RecordBatch) error {
	if s.run == nil || s.done {
		return pipeline.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.run.write(b)
}

func (s *fitSink) Commit(ctx context.Context) error {
	if s.run == nil || s.done {
		return pipeline.ErrClosed
	}
	s.done = true
	if err := ctx.Err(); err != nil {
		s.run.abort()
		return err
	}
	return s.run.finish()
}

func (s *fitSink) Abort() error {
	if s.run != nil && !s.done {
		s.run.abort()
	}
	s.done = true
	return nil
}

// applyColumns computes the outputs of rec, whose input columns are at
// colIdx (by Inputs position), as float64 arrays allocated from mem.
func (ct *ColumnTransformer) applyColumns(mem memory.Allocator, rec arrow.RecordBatch, colIdx []int) ([]arrow.Array, error) {
	if !ct.fitted {
		return nil, ErrNotFitted
	}
	n := int(rec.NumRows())
	bufs := make([]*memory.Buffer, len(ct.outputs))
	outs := make([][]float64, len(ct.outputs))
	release := func() {
		for _, b := range bufs {
			if b != nil {
				b.Release()
			}
		}
	}
	for j := range bufs {
		b := memory.NewResizableBuffer(mem)
		b.Resize(n * 8)
		bufs[j] = b
		outs[j] = arrow.Float64Traits.CastFromBytes(b.Bytes())[:n]
	}
	if err := ct.applyInto(rec, colIdx, outs); err != nil {
		release()
		return nil, err
	}
	arrs := make([]arrow.Array, len(bufs))
	for j, b := range bufs {
		d := array.NewData(arrow.PrimitiveTypes.Float64, n, []*memory.Buffer{nil, b}, nil, 0, 0)
		arrs[j] = array.MakeFromData(d)
		d.Release()
	}
	release()
	return arrs, nil
}

// applyInto runs every step over rec into outs (one slice per output).
func (ct *ColumnTransformer) applyInto(rec arrow.RecordBatch, colIdx []int, outs [][]float64) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("features: panic while applying: %v\n%s", p, debug.Stack())
		}
	}()
	cols := make([]arrow.Array, 0, 8)
	for i, t := range ct.steps {
		cols = cols[:0]
		for _, p := range ct.stepIn[i] {
			cols = append(cols, rec.Column(colIdx[p]))
		}
		if err := t.Apply(cols, outs[ct.outOff[i]:ct.outOff[i+1]]); err != nil {
			return fmt.Errorf("transform %d (%s): %w", i, t.Kind(), err)
		}
	}
	return nil
}

// Apply returns a batch of rec's outputs: float64 columns named Outputs(),
// allocated from memory.DefaultAllocator. The caller releases it. Every
// input column must be present (extra columns are ignored); a missing one
// is an error wrapping ErrMissingColumn.
func (ct *ColumnTransformer) Apply(ctx context.Context, rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !ct.fitted {
		return nil, ErrNotFitted
	}
	idx, err := columnIndex(rec.Schema(), ct.inputs, "apply")
	if err != nil {
		return nil, err
	}
	arrs, err := ct.applyColumns(memory.DefaultAllocator, rec, idx)
	if err != nil {
		return nil, err
	}
	return buildRecord(ct.outputSchema(nil), arrs, rec.NumRows()), nil
}

func buildRecord(schema *arrow.Schema, arrs []arrow.Array, rows int64) arrow.RecordBatch {
	r := array.NewRecordBatch(schema, arrs, rows)
	for _, a := range arrs {
		a.Release()
	}
	return r
}

// outputSchema is keep followed by the outputs as non-nullable float64.
func (ct *ColumnTransformer) outputSchema(keep []arrow.Field) *arrow.Schema {
	fields := slices.Clone(keep)
	for _, o := range ct.outputs {
		fields = append(fields, arrow.Field{Name: o, Type: arrow.PrimitiveTypes.Float64})
	}
	return arrow.NewSchema(fields, nil)
}

// Matrix writes rec's outputs as a dense row-major float32 matrix of
// rec.NumRows() rows and len(Outputs()) columns into dst (reused when it is
// large enough) and returns it: row i, output j is at i*len(Outputs())+j.
// Values are computed in float64 and rounded to float32.
func (ct *ColumnTransformer) Matrix(rec arrow.RecordBatch, dst []float32) ([]float32, error) {
	if !ct.fitted {
		return dst, ErrNotFitted
	}
	idx, err := columnIndex(rec.Schema(), ct.inputs, "apply")
	if err != nil {
		return dst, err
	}
	n, k := int(rec.NumRows()), len(ct.outputs)
	buf := make([]float64, n*k)
	outs := make([][]float64, k)
	for j := range outs {
		outs[j] = buf[j*n : (j+1)*n : (j+1)*n]
	}
	if err := ct.applyInto(rec, idx, outs); err != nil {
		return dst, err
	}
	if cap(dst) < n*k {
		dst = make([]float32, n*k)
	}
	dst = dst[:n*k]
	// Transpose in blocks of rows to stay in cache.
	const block = 256
	for r0 := 0; r0 < n; r0 += block {
		r1 := min(r0+block, n)
		for j, col := range outs {
			for r := r0; r < r1; r++ {
				dst[r*k+j] = float32(col[r])
			}
		}
	}
	return dst, nil
}

// ApplyRow computes the outputs of one row given as a map from input
// column to value; a missing input column is an error wrapping
// ErrMissingColumn (use Null for a missing value).
func (ct *ColumnTransformer) ApplyRow(in map[string]Value) ([]float64, error) {
	if !ct.fitted {
		return nil, ErrNotFitted
	}
	row := make([]Value, len(ct.inputs))
	for i, c := range ct.inputs {
		v, ok := in[c]
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrMissingColumn, c)
		}
		row[i] = v
	}
	out := make([]float64, len(ct.outputs))
	if err := ct.ApplyRowInto(row, out); err != nil {
		return nil, err
	}
	return out, nil
}

// ApplyRowInto computes the outputs of one row: in holds the values of
// Inputs() in order, out receives len(Outputs()) values. It allocates
// nothing when each transform's columns are distinct from earlier ones'.
func (ct *ColumnTransformer) ApplyRowInto(in []Value, out []float64) (err error) {
	if !ct.fitted {
		return ErrNotFitted
	}
	if len(in) != len(ct.inputs) {
		return fmt.Errorf("%w: %d values for %d inputs", ErrMissingColumn, len(in), len(ct.inputs))
	}
	if len(out) != len(ct.outputs) {
		return fmt.Errorf("features: %d output slots for %d outputs", len(out), len(ct.outputs))
	}
	for i, t := range ct.steps {
		o := out[ct.outOff[i]:ct.outOff[i+1]]
		if lo := ct.stepLo[i]; lo >= 0 {
			err = t.ApplyRow(in[lo:lo+len(ct.stepIn[i])], o)
		} else {
			p, _ := ct.rowPool.Get().(*[]Value)
			if p == nil {
				p = new([]Value)
			}
			vals := (*p)[:0]
			for _, k := range ct.stepIn[i] {
				vals = append(vals, in[k])
			}
			err = t.ApplyRow(vals, o)
			clear(vals)
			*p = vals
			ct.rowPool.Put(p)
		}
		if err != nil {
			return fmt.Errorf("transform %d (%s): %w", i, t.Kind(), err)
		}
	}
	return nil
}

// Stage returns a pipeline stage that applies the fitted transformer: each
// output batch holds the StageOptions.Keep columns, then the outputs.
// Binding fails (wrapping pipeline.ErrSchema) when an input or kept column
// is missing or has a type a transform cannot read.
func (ct *ColumnTransformer) Stage(opts StageOptions) pipeline.Stage {
	return &ctStage{ct: ct, opts: opts}
}

type ctStage struct {
	ct   *ColumnTransformer
	opts StageOptions
}

func (s *ctStage) Name() string { return "features" }

func (s *ctStage) Bind(mem memory.Allocator, in *arrow.Schema) (pipeline.Step, error) {
	ct := s.ct
	if !ct.fitted {
		return nil, ErrNotFitted
	}
	idx, err := columnIndex(in, ct.inputs, "apply")
	if err != nil {
		return nil, fmt.Errorf("%w: features: %w", pipeline.ErrSchema, err)
	}
	keep, err := columnIndex(in, s.opts.Keep, "StageOptions.Keep")
	if err != nil {
		return nil, fmt.Errorf("%w: features: %w", pipeline.ErrSchema, err)
	}
	for i, t := range ct.steps {
		if _, ok := t.(FitInputser); ok {
			continue
		}
		types := make([]arrow.DataType, len(ct.stepIn[i]))
		for k, p := range ct.stepIn[i] {
			types[k] = in.Field(idx[p]).Type
		}
		if _, err := newFitter(t, types); err != nil {
			return nil, fmt.Errorf("%w: features: transform %d (%s): %w", pipeline.ErrSchema, i, t.Kind(), err)
		}
	}
	fields := make([]arrow.Field, len(keep))
	for i, k := range keep {
		fields[i] = in.Field(k)
	}
	if s.opts.Mem != nil {
		mem = s.opts.Mem
	}
	return &ctStep{ct: ct, mem: mem, idx: idx, keep: keep, schema: ct.outputSchema(fields)}, nil
}

type ctStep struct {
	ct     *ColumnTransformer
	mem    memory.Allocator
	idx    []int
	keep   []int
	schema *arrow.Schema
}

func (s *ctStep) Schema() *arrow.Schema { return s.schema }

func (s *ctStep) Apply(ctx context.Context, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	outs, err := s.ct.applyColumns(s.mem, in, s.idx)
	if err != nil {
		return nil, err
	}
	arrs := make([]arrow.Array, 0, len(s.keep)+len(outs))
	for _, k := range s.keep {
		c := in.Column(k)
		c.Retain()
		arrs = append(arrs, c)
	}
	arrs = append(arrs, outs...)
	return buildRecord(s.schema, arrs, in.NumRows()), nil
}

type savedStep struct {
	Name    string          `json:"name"`
	Columns []string        `json:"columns"`
	Params  json.RawMessage `json:"params"`
	State   json.RawMessage `json:"state"`
}

type savedTransformer struct {
	Format     string      `json:"format"`
	Version    int         `json:"version"`
	Outputs    []string    `json:"outputs"`
	Transforms []savedStep `json:"transforms"`
}

// MarshalJSON saves the fitted transformer as
// {"format":"kiln.features","version":1,"outputs":[...],"transforms":[{"name","columns","params","state"},...]}.
// Parameters appear with every default filled in. Load restores it, and
// saving the loaded transformer gives the same bytes. An unfitted
// transformer is an error wrapping ErrNotFitted.
func (ct *ColumnTransformer) MarshalJSON() ([]byte, error) {
	if !ct.fitted {
		return nil, ErrNotFitted
	}
	s := savedTransformer{Format: stateFormat, Version: stateVersion, Outputs: ct.outputs}
	for i, t := range ct.steps {
		p, err := json.Marshal(t.Params())
		if err != nil {
			return nil, fmt.Errorf("features: transform %d (%s): params: %w", i, t.Kind(), err)
		}
		st, err := json.Marshal(t.State())
		if err != nil {
			return nil, fmt.Errorf("features: transform %d (%s): state: %w", i, t.Kind(), err)
		}
		s.Transforms = append(s.Transforms, savedStep{Name: t.Kind(), Columns: ct.spec.Transforms[i].Columns, Params: p, State: st})
	}
	return json.Marshal(s)
}

// Load restores a fitted transformer saved by MarshalJSON. Errors wrap
// ErrState (or ErrSpec for parameters that are no longer valid).
func Load(data []byte) (*ColumnTransformer, error) {
	var s savedTransformer
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrState, err)
	}
	if s.Format != stateFormat {
		return nil, fmt.Errorf("%w: format %q, want %q", ErrState, s.Format, stateFormat)
	}
	if s.Version != stateVersion {
		return nil, fmt.Errorf("%w: version %d, this version of kiln reads %d", ErrState, s.Version, stateVersion)
	}
	if len(s.Transforms) == 0 {
		return nil, fmt.Errorf("%w: no transforms", ErrState)
	}
	spec := Spec{Transforms: make([]StepSpec, len(s.Transforms))}
	steps := make([]Transform, len(s.Transforms))
	for i, st := range s.Transforms {
		k, ok := kinds[st.Name]
		if !ok {
			return nil, fmt.Errorf("%w: transform %d: unknown name %q", ErrState, i, st.Name)
		}
		t, err := k.Load(slices.Clone(st.Columns), st.Params, st.State)
		if err != nil {
			return nil, fmt.Errorf("transform %d (%s): %w", i, st.Name, err)
		}
		if !t.Fitted() {
			return nil, fmt.Errorf("%w: transform %d (%s) is not fitted", ErrState, i, st.Name)
		}
		steps[i] = t
		spec.Transforms[i] = StepSpec{Name: st.Name, Columns: st.Columns, Params: st.Params}
	}
	ct := &ColumnTransformer{spec: spec, steps: steps}
	ct.layoutInputs()
	if err := ct.layoutOutputs(); err != nil {
		return nil, err
	}
	if !slices.Equal(ct.outputs, s.Outputs) {
		return nil, fmt.Errorf("%w: saved outputs differ from the transforms' outputs", ErrState)
	}
	return ct, nil
}
