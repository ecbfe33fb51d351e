package train

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"math/bits"
	"slices"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/kilnml/kiln/pipeline"
	"github.com/kilnml/kiln/tensor"
)

// ErrData is wrapped by every error caused by the data given to the
// package: by NewDataset, ReadDataset and the Dataset methods (an unknown
// column, a column of the wrong type, a null value, a bad option, a row
// index out of range), by Standardizer, and by the linear models
// (FitLinear, FitLogistic and their Predict methods: a NaN or infinite
// value, fewer rows than a fit needs, a target with a single class). The
// message names the column and, for values, the row. Shape mismatches of
// tensors wrap [tensor.ErrShape] instead.
var ErrData = errors.New("train: unusable data")

// A Dataset is a table of examples held in memory, ready for training:
// numeric features as one float32 matrix, categorical features as integer
// codes, and a target that is either a float32 value per row (regression)
// or a class index per row (classification).
//
// A Dataset is built by NewDataset from a record batch or by ReadDataset
// from a pipeline.Source. Subset, Split and StratifiedSplit return datasets
// that keep the encoding of the original (the same categorical levels and
// classes), so a model trained on one part reads the other. Batches cuts it
// into minibatches.
//
// A Dataset is not modified by its methods and is safe for concurrent use
// by readers; its fields are exported for reading, and a caller that
// changes them must keep them consistent.
type Dataset struct {
	// Features are the names of X's columns, in order.
	Features []string
	// X is the rows×len(Features) float32 matrix of numeric features on
	// the CPU, contiguous and row-major. It has zero columns when the
	// dataset has no numeric feature.
	X *tensor.Tensor

	// Categorical are the names of the categorical columns.
	Categorical []string
	// Codes[j][i] is the code of row i in categorical column j, in
	// [0, Cardinality[j]).
	Codes [][]int32
	// Cardinality[j] is the number of codes of categorical column j.
	Cardinality []int
	// Levels[j] maps the codes of categorical column j back to its values
	// for a string or dictionary column (Levels[j][c] is the value of code
	// c; the values are sorted, so codes follow byte order). It is nil for
	// an integer column, whose values are the codes themselves.
	Levels [][]string

	// Label is the name of the target column; empty when the dataset has no
	// target.
	Label string
	// Y holds the regression target: a 1-D float32 tensor of one value per
	// row. It is nil for a classification dataset and when there is no
	// label.
	Y *tensor.Tensor
	// Labels holds the classification target: Labels[i] is the class index
	// of row i, in [0, len(ClassNames)). It is nil for a regression dataset
	// and when there is no label.
	Labels []int32
	// ClassValues are the original values of the classes, sorted, for a
	// numeric (integer, boolean or integral float) label column: class c
	// is the label value ClassValues[c]. Nil for a string label column.
	ClassValues []int64
	// ClassNames are the classes as text, sorted in class index order:
	// the values of a string label column, or the decimal form of
	// ClassValues. Its length is the number of classes.
	ClassNames []string
}

// DatasetOptions configure NewDataset and ReadDataset. The zero value takes
// every numeric column as a feature and no target.
type DatasetOptions struct {
	// Features are the numeric columns that make up X, in order. Integer,
	// float and boolean columns are accepted (booleans become 0 and 1).
	// Nil means every integer, float and boolean column of the input
	// except the label and the categorical columns, in schema order (or
	// Like's features when Like is set). An empty non-nil slice means no
	// numeric feature.
	Features []string
	// Categorical are the categorical columns. An integer column holds the
	// codes themselves (0 or more; the cardinality is the largest code plus
	// one); a string or dictionary-of-strings column is coded by sorted
	// value, and the values are kept in Dataset.Levels. Nil means none (or
	// Like's when Like is set).
	Categorical []string
	// Label is the target column. Empty means no target (or Like's label
	// when Like is set).
	Label string
	// Classification makes the label a class: its distinct values, sorted,
	// become the classes 0..k-1 (Dataset.Labels), and the values are kept
	// in ClassValues and ClassNames. The label column must then be an
	// integer, boolean, string or dictionary column, or a float column
	// holding whole numbers. When false the label must be numeric and goes
	// to Dataset.Y as float32. Ignored when Like is set: Like decides.
	Classification bool
	// MaxRows is the largest number of rows read; the first MaxRows rows of
	// the input are kept. Zero means no limit.
	MaxRows int
	// Like, when not nil, is a dataset whose encoding is reused, so a test
	// set read on its own is coded like the training set: the categorical
	// levels and cardinalities, the classes, and (where the fields above
	// are left at their zero value) the features, categorical columns,
	// label and task. A categorical value or class that Like does not know
	// is an error.
	Like *Dataset
}

// Batch is one minibatch of a Dataset, as yielded by Dataset.Batches.
// Its tensors may share memory with the dataset: do not write into them.
type Batch struct {
	// X is the len(Rows)×len(Features) float32 matrix of the batch's rows.
	X *tensor.Tensor
	// Codes[j][i] is the code of the batch's row i in categorical column j.
	Codes [][]int32
	// Y is the regression target of the batch's rows; nil unless the
	// dataset has Y.
	Y *tensor.Tensor
	// Labels are the class indices of the batch's rows; nil unless the
	// dataset has Labels.
	Labels []int32
	// Rows are the indices in the dataset of the batch's rows.
	Rows []int
}

// BatchOptions configure Dataset.Batches. The zero value yields the rows in
// order, the last batch possibly short.
type BatchOptions struct {
	// Shuffle visits the rows in a random order that is a function of Seed
	// and Epoch only (see Dataset.Batches), so a run resumed at an epoch
	// sees the same batches as an uninterrupted one.
	Shuffle bool
	// Seed seeds the shuffle.
	Seed uint64
	// Epoch selects the epoch's permutation; pass the epoch number, from 0.
	Epoch int
	// DropLast drops the last batch when it has fewer than size rows.
	DropLast bool
}

// NewDataset builds a Dataset from the rows of b (the first o.MaxRows when
// set). Numeric columns are converted to float32; a null in any column used
// is an error naming the column and row. b is not retained: the dataset
// holds copies. Errors wrap ErrData.
func NewDataset(b arrow.RecordBatch, o DatasetOptions) (*Dataset, error) {
	if b == nil {
		return nil, fmt.Errorf("train: new dataset: nil record batch: %w", ErrData)
	}
	bl, err := newDatasetBuilder(b.Schema(), o)
	if err != nil {
		return nil, err
	}
	if err := bl.add(b); err != nil {
		return nil, err
	}
	return bl.finish()
}

// ReadDataset reads every batch of src into one Dataset (stopping after
// o.MaxRows rows when set), as NewDataset does for one batch; it releases
// the batches it reads. Rows are numbered from 0 across batches in error
// messages. It returns ctx's error if ctx is cancelled.
func ReadDataset(ctx context.Context, src pipeline.Source, o DatasetOptions) (*Dataset, error) {
	if src == nil {
		return nil, fmt.Errorf("train: read dataset: nil source: %w", ErrData)
	}
	sc, err := src.Schema(ctx)
	if err != nil {
		return nil, fmt.Errorf("train: read dataset: %w", err)
	}
	bl, err := newDatasetBuilder(sc, o)
	if err != nil {
		return nil, err
	}
	for b, err := range src.Batches(ctx) {
		if err != nil {
			return nil, fmt.Errorf("train: read dataset: %w", err)
		}
		err = bl.add(b)
		b.Release()
		if err != nil {
			return nil, err
		}
		if bl.full() {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return bl.finish()
}

// Len returns the number of rows.
func (d *Dataset) Len() int {
	if d == nil || d.X == nil {
		return 0
	}
	return d.X.Shape()[0]
}

// NumClasses returns the number of classes of a classification dataset,
// 0 otherwise.
func (d *Dataset) NumClasses() int { return len(d.ClassNames) }

// Subset returns the dataset of the given rows, in the given order; a row
// may be repeated (as in a bootstrap sample). The result keeps d's encoding
// (features, levels, cardinalities, classes). An index out of range is an
// error.
func (d *Dataset) Subset(rows []int) (*Dataset, error) {
	n := d.Len()
	idx := make([]int32, len(rows))
	for i, r := range rows {
		if r < 0 || r >= n {
			return nil, fmt.Errorf("train: dataset subset: row %d (position %d) out of range [0, %d): %w", r, i, n, ErrData)
		}
		idx[i] = int32(r)
	}
	x, err := gatherRows(d.X, idx)
	if err != nil {
		return nil, fmt.Errorf("train: dataset subset: %w", err)
	}
	s := &Dataset{
		Features:    d.Features,
		X:           x,
		Categorical: d.Categorical,
		Cardinality: d.Cardinality,
		Levels:      d.Levels,
		Label:       d.Label,
		ClassValues: d.ClassValues,
		ClassNames:  d.ClassNames,
	}
	if d.Codes != nil {
		s.Codes = make([][]int32, len(d.Codes))
		for j, col := range d.Codes {
			s.Codes[j] = gatherInt32(col, idx)
		}
	}
	if d.Y != nil {
		if s.Y, err = gatherRows(d.Y, idx); err != nil {
			return nil, fmt.Errorf("train: dataset subset: %w", err)
		}
	}
	if d.Labels != nil {
		s.Labels = gatherInt32(d.Labels, idx)
	}
	return s, nil
}

// Split shuffles the rows with seed (see Batches for the generator) and
// returns ceil(valFraction·Len()) of them as val and the rest as train, as
// scikit-learn's train_test_split counts them; each part keeps the rows in
// their original order. valFraction must be in (0, 1) and leave at least
// one row on each side. The result is a function of (Len(), valFraction,
// seed) only.
func (d *Dataset) Split(valFraction float64, seed uint64) (train, val *Dataset, err error) {
	n := d.Len()
	nVal, err := valCount(n, valFraction)
	if err != nil {
		return nil, nil, err
	}
	perm := permutation(n, newShuffleRNG(seed, streamSplit, 0))
	return d.splitAt(perm[nVal:], perm[:nVal])
}

// StratifiedSplit is Split keeping the proportion of every class in both
// parts, for a classification dataset. Val gets ceil(valFraction·Len())
// rows in all, shared out among the classes in proportion to their sizes
// (floors first, then the remaining rows to the classes with the largest
// remainders, ties to the lower class index), each class's rows chosen by
// its own shuffle. Like scikit-learn's StratifiedShuffleSplit it requires
// every class to have at least 2 rows and each part at least one row per
// class (no class gives all its rows to val); the rows chosen are not
// scikit-learn's.
func (d *Dataset) StratifiedSplit(valFraction float64, seed uint64) (train, val *Dataset, err error) {
	if d.Labels == nil {
		return nil, nil, fmt.Errorf("train: stratified split: dataset has no class labels: %w", ErrData)
	}
	n := d.Len()
	nVal, err := valCount(n, valFraction)
	if err != nil {
		return nil, nil, err
	}
	k := len(d.ClassNames)
	members := make([][]int, k)
	for i, c := range d.Labels {
		members[c] = append(members[c], i)
	}
	present := 0
	for c, m := range members {
		if len(m) == 1 {
			return nil, nil, fmt.Errorf("train: stratified split: class %s has only 1 row, at least 2 are needed: %w", d.ClassNames[c], ErrData)
		}
		if len(m) > 0 {
			present++
		}
	}
	if nVal < present || n-nVal < present {
		return nil, nil, fmt.Errorf("train: stratified split: %d validation and %d training rows cannot hold all %d classes: %w", nVal, n-nVal, present, ErrData)
	}
	// Largest remainder allocation of nVal rows among the classes.
	alloc := make([]int, k)
	type rem struct {
		frac  float64
		class int
	}
	rems := make([]rem, 0, k)
	given := 0
	for c, m := range members {
		exact := float64(nVal) * float64(len(m)) / float64(n)
		alloc[c] = int(math.Floor(exact))
		given += alloc[c]
		rems = append(rems, rem{exact - float64(alloc[c]), c})
	}
	slices.SortStableFunc(rems, func(a, b rem) int {
		switch {
		case a.frac > b.frac:
			return -1
		case a.frac < b.frac:
			return 1
		}
		return a.class - b.class
	})
	for i := 0; given < nVal; i = (i + 1) % k {
		c := rems[i].class
		if alloc[c] < len(members[c])-1 {
			alloc[c]++
			given++
		}
	}
	var trainRows, valRows []int
	for c, m := range members {
		if len(m) == 0 {
			continue
		}
		perm := permutation(len(m), newShuffleRNG(seed, streamStratified, uint64(c)))
		for i, p := range perm {
			if i < alloc[c] {
				valRows = append(valRows, m[p])
			} else {
				trainRows = append(trainRows, m[p])
			}
		}
	}
	return d.splitAt(trainRows, valRows)
}

// Batches yields the dataset in minibatches of size rows (the last one
// shorter unless o.DropLast). Without o.Shuffle the rows come in order;
// with it, in the order of a Fisher–Yates shuffle (for i from Len()-1 down
// to 1, swap i with a uniform j in [0, i]) driven by a SplitMix64 generator
// whose state starts at mix(mix(o.Seed) ^ mix(uint64(o.Epoch)) ^ stream),
// with Lemire's unbiased multiply-shift method for the bounded draws. The
// order is therefore a function of (Len(), Seed, Epoch) only and never
// changes with the Go version or the machine: a training run resumed at an
// epoch sees exactly the batches it would have seen.
//
// Batch tensors are fresh copies gathered with tensor.Gather, except for
// unshuffled batches, whose X and Y are views of the dataset's tensors.
// A size below 1 yields one error.
func (d *Dataset) Batches(size int, o BatchOptions) iter.Seq2[*Batch, error] {
	return func(yield func(*Batch, error) bool) {
		if size < 1 {
			yield(nil, fmt.Errorf("train: batches: batch size %d, want at least 1: %w", size, ErrData))
			return
		}
		n := d.Len()
		var order []int
		if o.Shuffle {
			order = permutation(n, newShuffleRNG(o.Seed, streamBatches, uint64(o.Epoch)))
		}
		for start := 0; start < n; start += size {
			end := min(start+size, n)
			if o.DropLast && end-start < size {
				return
			}
			b, err := d.batch(order, start, end)
			if !yield(b, err) || err != nil {
				return
			}
		}
	}
}

// batch assembles rows order[start:end] (rows start..end-1 when order is
// nil).
func (d *Dataset) batch(order []int, start, end int) (*Batch, error) {
	b := &Batch{Rows: make([]int, end-start)}
	if order == nil {
		for i := range b.Rows {
			b.Rows[i] = start + i
		}
		var err error
		if b.X, err = d.X.Slice(0, start, end); err != nil {
			return nil, fmt.Errorf("train: batches: %w", err)
		}
		if d.Y != nil {
			if b.Y, err = d.Y.Slice(0, start, end); err != nil {
				return nil, fmt.Errorf("train: batches: %w", err)
			}
		}
		if d.Codes != nil {
			b.Codes = make([][]int32, len(d.Codes))
			for j, col := range d.Codes {
				b.Codes[j] = col[start:end:end]
			}
		}
		if d.Labels != nil {
			b.Labels = d.Labels[start:end:end]
		}
		return b, nil
	}
	copy(b.Rows, order[start:end])
	idx := make([]int32, len(b.Rows))
	for i, r := range b.Rows {
		idx[i] = int32(r)
	}
	var err error
	if b.X, err = gatherRows(d.X, idx); err != nil {
		return nil, fmt.Errorf("train: batches: %w", err)
	}
	if d.Y != nil {
		if b.Y, err = gatherRows(d.Y, idx); err != nil {
			return nil, fmt.Errorf("train: batches: %w", err)
		}
	}
	if d.Codes != nil {
		b.Codes = make([][]int32, len(d.Codes))
		for j, col := range d.Codes {
			b.Codes[j] = gatherInt32(col, idx)
		}
	}
	if d.Labels != nil {
		b.Labels = gatherInt32(d.Labels, idx)
	}
	return b, nil
}

func (d *Dataset) splitAt(trainRows, valRows []int) (train, val *Dataset, err error) {
	slices.Sort(trainRows)
	slices.Sort(valRows)
	if train, err = d.Subset(trainRows); err != nil {
		return nil, nil, err
	}
	if val, err = d.Subset(valRows); err != nil {
		return nil, nil, err
	}
	return train, val, nil
}

func valCount(n int, valFraction float64) (int, error) {
	if !(valFraction > 0 && valFraction < 1) {
		return 0, fmt.Errorf("train: split: validation fraction %v, want a value in (0, 1): %w", valFraction, ErrData)
	}
	nVal := int(math.Ceil(valFraction * float64(n)))
	if nVal < 1 || nVal > n-1 {
		return 0, fmt.Errorf("train: split: validation fraction %v of %d rows leaves %d validation and %d training rows, want at least 1 each: %w", valFraction, n, nVal, n-nVal, ErrData)
	}
	return nVal, nil
}

// gatherRows returns rows idx of t (1-D or 2-D) as a new contiguous tensor.
func gatherRows(t *tensor.Tensor, idx []int32) (*tensor.Tensor, error) {
	shape := t.Shape()
	if len(idx) == 0 || (len(shape) == 2 && shape[1] == 0) {
		shape[0] = len(idx)
		return tensor.New(t.DType(), shape...)
	}
	return tensor.Gather(t, idx)
}

func gatherInt32(col []int32, idx []int32) []int32 {
	out := make([]int32, len(idx))
	for i, r := range idx {
		out[i] = col[r]
	}
	return out
}

// Streams separate the random sequences of the different uses of one seed.
const (
	streamBatches    uint64 = 0x6261746368657321 // "batches!"
	streamSplit      uint64 = 0x73706c6974746572 // "splitter"
	streamStratified uint64 = 0x7374726174696679 // "stratify"
)

// shuffleRNG is SplitMix64 (Steele, Lea and Flood 2014; Vigna's reference
// splitmix64.c): the state advances by the golden gamma and each output is
// the state through mix.
type shuffleRNG struct{ state uint64 }

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func newShuffleRNG(seed, stream, sub uint64) *shuffleRNG {
	return &shuffleRNG{state: mix64(mix64(seed) ^ mix64(sub) ^ stream)}
}

func (r *shuffleRNG) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	return mix64(r.state)
}

// bounded returns a uniform integer in [0, n) by Lemire's method (2019).
func (r *shuffleRNG) bounded(n uint64) uint64 {
	hi, lo := bits.Mul64(r.next(), n)
	if lo < n {
		t := -n % n
		for lo < t {
			hi, lo = bits.Mul64(r.next(), n)
		}
	}
	return hi
}

// permutation returns a Fisher–Yates shuffle of 0..n-1.
func permutation(n int, r *shuffleRNG) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := int(r.bounded(uint64(i + 1)))
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// ---- building a Dataset from batches ----

type colKind uint8

const (
	kindNumeric colKind = iota // integer, float or boolean
	kindString                 // string, large string, string view
	kindDict                   // dictionary of strings
	kindOther
)

func kindOf(dt arrow.DataType) colKind {
	switch dt.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT32, arrow.FLOAT64, arrow.BOOL:
		return kindNumeric
	case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW:
		return kindString
	case arrow.DICTIONARY:
		if kindOf(dt.(*arrow.DictionaryType).ValueType) == kindString {
			return kindDict
		}
	}
	return kindOther
}

func isInteger(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64, arrow.BOOL:
		return true
	}
	return false
}

type catCol struct {
	name   string
	col    int
	str    bool             // string or dictionary column (else integer codes)
	index  map[string]int32 // value → provisional code (or Like's final code)
	values []string         // provisional code → value
	fixed  bool             // codes come from Like
	card   int              // Like's cardinality
	levels []string         // Like's levels
	codes  []int32
	max    int32
}

type datasetBuilder struct {
	o        DatasetOptions
	features []string
	featCols []int
	feat     [][]float32 // column-major while reading
	cats     []*catCol
	label    string
	labelCol int
	classify bool
	strLabel bool
	y        []float32
	// classification
	classIdx  map[string]int32 // string labels: value → provisional (or fixed) index
	classStr  []string
	classNum  map[int64]int32
	classVals []int64
	fixed     bool
	labels    []int32
	rows      int
}

func newDatasetBuilder(sc *arrow.Schema, o DatasetOptions) (*datasetBuilder, error) {
	if o.MaxRows < 0 {
		return nil, fmt.Errorf("train: dataset: MaxRows %d is negative: %w", o.MaxRows, ErrData)
	}
	like := o.Like
	features, categorical, label, classify := o.Features, o.Categorical, o.Label, o.Classification
	if like != nil {
		if features == nil {
			features = like.Features
		}
		if categorical == nil {
			categorical = like.Categorical
		}
		if label == "" {
			label = like.Label
		}
		classify = like.Labels != nil
		if label != like.Label {
			return nil, fmt.Errorf("train: dataset: label %q differs from Like's %q: %w", label, like.Label, ErrData)
		}
		if !slices.Equal(categorical, like.Categorical) {
			return nil, fmt.Errorf("train: dataset: categorical columns %q differ from Like's %q: %w", categorical, like.Categorical, ErrData)
		}
	}
	bl := &datasetBuilder{o: o, label: label, labelCol: -1, classify: classify}
	lookup := func(name, role string) (int, error) {
		idx := sc.FieldIndices(name)
		switch len(idx) {
		case 0:
			return 0, fmt.Errorf("train: dataset: %s column %q not in the input (columns %q): %w", role, name, fieldNames(sc), ErrData)
		case 1:
			return idx[0], nil
		}
		return 0, fmt.Errorf("train: dataset: %s column %q appears %d times in the input: %w", role, name, len(idx), ErrData)
	}
	used := map[string]string{}
	use := func(name, role string) error {
		if prev, ok := used[name]; ok {
			return fmt.Errorf("train: dataset: column %q is both %s and %s: %w", name, prev, role, ErrData)
		}
		used[name] = role
		return nil
	}

	if label != "" {
		if err := use(label, "label"); err != nil {
			return nil, err
		}
		c, err := lookup(label, "label")
		if err != nil {
			return nil, err
		}
		bl.labelCol = c
		dt := sc.Field(c).Type
		switch k := kindOf(dt); {
		case classify && (k == kindString || k == kindDict):
			bl.strLabel = true
		case k == kindNumeric:
		default:
			task := "regression"
			if classify {
				task = "classification"
			}
			return nil, fmt.Errorf("train: dataset: label column %q has type %s, not usable for %s: %w", label, dt, task, ErrData)
		}
		if classify {
			if like != nil {
				bl.fixed = true
				if bl.strLabel != (like.ClassValues == nil) {
					return nil, fmt.Errorf("train: dataset: label column %q has type %s but Like's classes are %s: %w", label, dt, map[bool]string{true: "numeric", false: "strings"}[like.ClassValues != nil], ErrData)
				}
			}
			if bl.strLabel {
				bl.classIdx = map[string]int32{}
				if bl.fixed {
					for i, v := range like.ClassNames {
						bl.classIdx[v] = int32(i)
					}
				}
			} else {
				bl.classNum = map[int64]int32{}
				if bl.fixed {
					for i, v := range like.ClassValues {
						bl.classNum[v] = int32(i)
					}
				}
			}
		}
	}

	for j, name := range categorical {
		if err := use(name, "categorical"); err != nil {
			return nil, err
		}
		c, err := lookup(name, "categorical")
		if err != nil {
			return nil, err
		}
		dt := sc.Field(c).Type
		cc := &catCol{name: name, col: c, max: -1}
		switch k := kindOf(dt); {
		case k == kindString || k == kindDict:
			cc.str = true
			cc.index = map[string]int32{}
		case isInteger(dt) && dt.ID() != arrow.BOOL:
		default:
			return nil, fmt.Errorf("train: dataset: categorical column %q has type %s, want an integer, string or dictionary column: %w", name, dt, ErrData)
		}
		if like != nil {
			cc.fixed = true
			cc.card = like.Cardinality[j]
			cc.levels = like.Levels[j]
			if cc.str != (like.Levels[j] != nil) {
				return nil, fmt.Errorf("train: dataset: categorical column %q has type %s, unlike Like's: %w", name, dt, ErrData)
			}
			for i, v := range like.Levels[j] {
				cc.index[v] = int32(i)
			}
		}
		bl.cats = append(bl.cats, cc)
	}

	if features == nil {
		features = []string{}
		for i, f := range sc.Fields() {
			if _, ok := used[f.Name]; ok || kindOf(f.Type) != kindNumeric {
				continue
			}
			if len(sc.FieldIndices(f.Name)) > 1 {
				return nil, fmt.Errorf("train: dataset: column %q appears more than once in the input: %w", f.Name, ErrData)
			}
			features = append(features, f.Name)
			bl.featCols = append(bl.featCols, i)
		}
	} else {
		for _, name := range features {
			if err := use(name, "feature"); err != nil {
				return nil, err
			}
			c, err := lookup(name, "feature")
			if err != nil {
				return nil, err
			}
			if dt := sc.Field(c).Type; kindOf(dt) != kindNumeric {
				hint := ""
				if k := kindOf(dt); k == kindString || k == kindDict {
					hint = " (list it in Categorical)"
				}
				return nil, fmt.Errorf("train: dataset: feature column %q has type %s, want an integer, float or boolean column%s: %w", name, dt, hint, ErrData)
			}
			bl.featCols = append(bl.featCols, c)
		}
	}
	if like != nil && !slices.Equal(features, like.Features) {
		return nil, fmt.Errorf("train: dataset: features %q differ from Like's %q: %w", features, like.Features, ErrData)
	}
	bl.features = slices.Clone(features)
	bl.feat = make([][]float32, len(features))
	return bl, nil
}

func fieldNames(sc *arrow.Schema) []string {
	names := make([]string, sc.NumFields())
	for i, f := range sc.Fields() {
		names[i] = f.Name
	}
	return names
}

func (bl *datasetBuilder) full() bool { return bl.o.MaxRows > 0 && bl.rows >= bl.o.MaxRows }

func (bl *datasetBuilder) add(b arrow.RecordBatch) error {
	n := int(b.NumRows())
	if bl.o.MaxRows > 0 {
		n = min(n, bl.o.MaxRows-bl.rows)
	}
	if n <= 0 {
		return nil
	}
	base := bl.rows
	for j, c := range bl.featCols {
		var err error
		if bl.feat[j], err = appendFloats(bl.feat[j], b.Column(c), n, bl.features[j], base); err != nil {
			return err
		}
	}
	for _, cc := range bl.cats {
		if err := cc.add(b.Column(cc.col), n, base); err != nil {
			return err
		}
	}
	if bl.labelCol >= 0 {
		if err := bl.addLabel(b.Column(bl.labelCol), n, base); err != nil {
			return err
		}
	}
	bl.rows += n
	return nil
}

func nullErr(role, name string, row int) error {
	return fmt.Errorf("train: dataset: %s column %q row %d is null: %w", role, name, row, ErrData)
}

func appendFloats(dst []float32, a arrow.Array, n int, name string, base int) ([]float32, error) {
	if a.NullN() > 0 {
		for i := range n {
			if a.IsNull(i) {
				return nil, nullErr("feature", name, base+i)
			}
		}
	}
	switch a := a.(type) {
	case *array.Float32:
		dst = append(dst, a.Float32Values()[:n]...)
	case *array.Float64:
		for _, v := range a.Float64Values()[:n] {
			dst = append(dst, float32(v))
		}
	case *array.Int8:
		dst = appendConv(dst, a.Int8Values()[:n])
	case *array.Int16:
		dst = appendConv(dst, a.Int16Values()[:n])
	case *array.Int32:
		dst = appendConv(dst, a.Int32Values()[:n])
	case *array.Int64:
		dst = appendConv(dst, a.Int64Values()[:n])
	case *array.Uint8:
		dst = appendConv(dst, a.Uint8Values()[:n])
	case *array.Uint16:
		dst = appendConv(dst, a.Uint16Values()[:n])
	case *array.Uint32:
		dst = appendConv(dst, a.Uint32Values()[:n])
	case *array.Uint64:
		dst = appendConv(dst, a.Uint64Values()[:n])
	case *array.Boolean:
		for i := range n {
			v := float32(0)
			if a.Value(i) {
				v = 1
			}
			dst = append(dst, v)
		}
	default:
		return nil, fmt.Errorf("train: dataset: column %q has type %s, want an integer, float or boolean column: %w", name, a.DataType(), ErrData)
	}
	return dst, nil
}

type number interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

func appendConv[T number](dst []float32, src []T) []float32 {
	for _, v := range src {
		dst = append(dst, float32(v))
	}
	return dst
}

// intValue returns element i of an integer or boolean array as int64; ok is
// false for a uint64 above MaxInt64.
func intValue(a arrow.Array, i int) (v int64, ok bool) {
	switch a := a.(type) {
	case *array.Int8:
		return int64(a.Value(i)), true
	case *array.Int16:
		return int64(a.Value(i)), true
	case *array.Int32:
		return int64(a.Value(i)), true
	case *array.Int64:
		return a.Value(i), true
	case *array.Uint8:
		return int64(a.Value(i)), true
	case *array.Uint16:
		return int64(a.Value(i)), true
	case *array.Uint32:
		return int64(a.Value(i)), true
	case *array.Uint64:
		u := a.Value(i)
		return int64(u), u <= math.MaxInt64
	case *array.Boolean:
		if a.Value(i) {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

type stringer interface{ Value(int) string }

// stringValue returns element i of a string or dictionary-of-strings array.
func stringValue(a arrow.Array, i int) string {
	if d, ok := a.(*array.Dictionary); ok {
		return d.Dictionary().(stringer).Value(d.GetValueIndex(i))
	}
	return a.(stringer).Value(i)
}

func (cc *catCol) add(a arrow.Array, n, base int) error {
	for i := range n {
		if a.IsNull(i) {
			return nullErr("categorical", cc.name, base+i)
		}
		if cc.str {
			v := stringValue(a, i)
			code, ok := cc.index[v]
			if !ok {
				if cc.fixed {
					return fmt.Errorf("train: dataset: categorical column %q row %d: value %q unknown to Like: %w", cc.name, base+i, v, ErrData)
				}
				code = int32(len(cc.values))
				cc.index[v] = code
				cc.values = append(cc.values, v)
			}
			cc.codes = append(cc.codes, code)
			continue
		}
		v, ok := intValue(a, i)
		if !ok || v < 0 || v > math.MaxInt32-1 {
			return fmt.Errorf("train: dataset: categorical column %q row %d: code %s out of range [0, %d): %w", cc.name, base+i, a.ValueStr(i), math.MaxInt32, ErrData)
		}
		if cc.fixed && v >= int64(cc.card) {
			return fmt.Errorf("train: dataset: categorical column %q row %d: code %d beyond Like's cardinality %d: %w", cc.name, base+i, v, cc.card, ErrData)
		}
		cc.codes = append(cc.codes, int32(v))
		cc.max = max(cc.max, int32(v))
	}
	return nil
}

// finish returns the codes, the cardinality and the levels (nil for integer
// columns), remapping string codes to sorted order.
func (cc *catCol) finish() ([]int32, int, []string) {
	if cc.codes == nil {
		cc.codes = []int32{}
	}
	if !cc.str {
		if cc.fixed {
			return cc.codes, cc.card, nil
		}
		return cc.codes, int(cc.max) + 1, nil
	}
	if cc.fixed {
		return cc.codes, cc.card, cc.levels
	}
	levels, remap := sortedCodes(cc.values)
	for i, c := range cc.codes {
		cc.codes[i] = remap[c]
	}
	return cc.codes, len(levels), levels
}

// sortedCodes sorts values and returns them with the map from their
// position in values to their position in the sorted slice.
func sortedCodes[T string | int64](values []T) ([]T, []int32) {
	order := make([]int32, len(values))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		switch {
		case values[a] < values[b]:
			return -1
		case values[a] > values[b]:
			return 1
		}
		return 0
	})
	sorted := make([]T, len(values))
	remap := make([]int32, len(values))
	for newCode, old := range order {
		sorted[newCode] = values[old]
		remap[old] = int32(newCode)
	}
	return sorted, remap
}

func (bl *datasetBuilder) addLabel(a arrow.Array, n, base int) error {
	if a.NullN() > 0 {
		for i := range n {
			if a.IsNull(i) {
				return nullErr("label", bl.label, base+i)
			}
		}
	}
	if !bl.classify {
		var err error
		bl.y, err = appendFloats(bl.y, a, n, bl.label, base)
		return err
	}
	for i := range n {
		if bl.strLabel {
			v := stringValue(a, i)
			c, ok := bl.classIdx[v]
			if !ok {
				if bl.fixed {
					return fmt.Errorf("train: dataset: label column %q row %d: class %q unknown to Like: %w", bl.label, base+i, v, ErrData)
				}
				c = int32(len(bl.classStr))
				bl.classIdx[v] = c
				bl.classStr = append(bl.classStr, v)
			}
			bl.labels = append(bl.labels, c)
			continue
		}
		var v int64
		switch a := a.(type) {
		case *array.Float32, *array.Float64:
			var f float64
			if a32, ok := a.(*array.Float32); ok {
				f = float64(a32.Value(i))
			} else {
				f = a.(*array.Float64).Value(i)
			}
			if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
				return fmt.Errorf("train: dataset: label column %q row %d: value %v is not a whole number, so not a class: %w", bl.label, base+i, f, ErrData)
			}
			v = int64(f)
		default:
			var ok bool
			if v, ok = intValue(a, i); !ok {
				return fmt.Errorf("train: dataset: label column %q row %d: value %s out of the int64 range: %w", bl.label, base+i, a.ValueStr(i), ErrData)
			}
		}
		c, ok := bl.classNum[v]
		if !ok {
			if bl.fixed {
				return fmt.Errorf("train: dataset: label column %q row %d: class %d unknown to Like: %w", bl.label, base+i, v, ErrData)
			}
			c = int32(len(bl.classVals))
			bl.classNum[v] = c
			bl.classVals = append(bl.classVals, v)
		}
		bl.labels = append(bl.labels, c)
	}
	return nil
}

func (bl *datasetBuilder) finish() (*Dataset, error) {
	n, d := bl.rows, len(bl.features)
	xs := make([]float32, n*d)
	for j, col := range bl.feat {
		for i, v := range col {
			xs[i*d+j] = v
		}
	}
	x, err := tensor.FromFloat32s(xs, n, d)
	if err != nil {
		return nil, fmt.Errorf("train: dataset: %w", err)
	}
	ds := &Dataset{Features: bl.features, X: x, Label: bl.label}
	if len(bl.cats) > 0 {
		ds.Categorical = make([]string, len(bl.cats))
		ds.Codes = make([][]int32, len(bl.cats))
		ds.Cardinality = make([]int, len(bl.cats))
		ds.Levels = make([][]string, len(bl.cats))
		for j, cc := range bl.cats {
			ds.Categorical[j] = cc.name
			ds.Codes[j], ds.Cardinality[j], ds.Levels[j] = cc.finish()
		}
	}
	if bl.labelCol < 0 {
		return ds, nil
	}
	if !bl.classify {
		if bl.y == nil {
			bl.y = []float32{}
		}
		if ds.Y, err = tensor.FromFloat32s(bl.y, n); err != nil {
			return nil, fmt.Errorf("train: dataset: %w", err)
		}
		return ds, nil
	}
	ds.Labels = bl.labels
	if ds.Labels == nil {
		ds.Labels = []int32{}
	}
	like := bl.o.Like
	switch {
	case bl.fixed:
		ds.ClassValues, ds.ClassNames = like.ClassValues, like.ClassNames
		return ds, nil
	case bl.strLabel:
		var remap []int32
		ds.ClassNames, remap = sortedCodes(bl.classStr)
		for i, c := range ds.Labels {
			ds.Labels[i] = remap[c]
		}
	default:
		var remap []int32
		ds.ClassValues, remap = sortedCodes(bl.classVals)
		for i, c := range ds.Labels {
			ds.Labels[i] = remap[c]
		}
		ds.ClassNames = make([]string, len(ds.ClassValues))
		for i, v := range ds.ClassValues {
			ds.ClassNames[i] = strconv.FormatInt(v, 10)
		}
	}
	return ds, nil
}
