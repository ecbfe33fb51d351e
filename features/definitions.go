package features

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/kilnml/kiln/features/online"
	"github.com/kilnml/kiln/store"
	"github.com/kilnml/kiln/version"
)

// A ValueType is the type of a feature or join key, as the feature store
// sees it: each maps to a family of Arrow types (see [ValueType.Accepts]).
type ValueType string

// The value types.
const (
	TypeInt64     ValueType = "int64"     // Arrow int8 to int64, uint8 to uint32
	TypeFloat64   ValueType = "float64"   // Arrow float16, float32, float64
	TypeBool      ValueType = "bool"      // Arrow boolean
	TypeString    ValueType = "string"    // Arrow string, large_string, string_view
	TypeBytes     ValueType = "bytes"     // Arrow binary, large_binary, binary_view, fixed_size_binary
	TypeTimestamp ValueType = "timestamp" // Arrow timestamp (any unit or zone), date32, date64
)

// ValueTypes lists the value types, in a fixed order.
func ValueTypes() []ValueType {
	return []ValueType{TypeInt64, TypeFloat64, TypeBool, TypeString, TypeBytes, TypeTimestamp}
}

// Valid reports whether t is one of the value types.
func (t ValueType) Valid() bool {
	return slices.Contains(ValueTypes(), t)
}

// Accepts reports whether a column of Arrow type dt can hold values of
// type t. A dictionary-encoded column is judged by its value type. Integers
// are not accepted as float64, nor uint64 as int64 (it may overflow).
func (t ValueType) Accepts(dt arrow.DataType) bool {
	if d, ok := dt.(*arrow.DictionaryType); ok {
		dt = d.ValueType
	}
	switch t {
	case TypeInt64:
		switch dt.ID() {
		case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32:
			return true
		}
	case TypeFloat64:
		switch dt.ID() {
		case arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64:
			return true
		}
	case TypeBool:
		return dt.ID() == arrow.BOOL
	case TypeString:
		switch dt.ID() {
		case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW:
			return true
		}
	case TypeBytes:
		switch dt.ID() {
		case arrow.BINARY, arrow.LARGE_BINARY, arrow.BINARY_VIEW, arrow.FIXED_SIZE_BINARY:
			return true
		}
	case TypeTimestamp:
		switch dt.ID() {
		case arrow.TIMESTAMP, arrow.DATE32, arrow.DATE64:
			return true
		}
	}
	return false
}

// Kind returns the kind of online value that holds values of type t
// (online.KindNull for an unknown type).
func (t ValueType) Kind() online.Kind {
	switch t {
	case TypeInt64:
		return online.KindInt
	case TypeFloat64:
		return online.KindFloat
	case TypeBool:
		return online.KindBool
	case TypeString:
		return online.KindString
	case TypeBytes:
		return online.KindBytes
	case TypeTimestamp:
		return online.KindTime
	}
	return online.KindNull
}

// keyType reports whether t may type a join key: float64 and timestamp keys
// are refused (equality on them is fragile).
func (t ValueType) keyType() bool {
	switch t {
	case TypeInt64, TypeString, TypeBytes, TypeBool:
		return true
	}
	return false
}

// A Field is a named, typed column: a join key, a feature, an on-demand
// input or output.
type Field struct {
	Name string    `json:"name"`
	Type ValueType `json:"type"`
}

// An Entity is what features describe (a driver, an airport, a customer):
// a name and the join keys that identify one of them in feature sources and
// entity rows.
type Entity struct {
	// Name identifies the entity in the registry (see [version.ValidName]).
	Name string `json:"name"`
	// JoinKeys are the columns that identify one entity, at least one.
	// Their types are int64, string, bytes or bool.
	JoinKeys    []Field `json:"join_keys"`
	Description string  `json:"description,omitempty"`
}

// A BatchSource is where the rows of a feature view come from: Parquet
// files on disk, or a table of a version dataset, with an event-time column.
type BatchSource struct {
	// Path names a Parquet file, a glob of files (with *, ? or [ and "**"
	// for any folders, see [pipeline.Glob]) or a folder read recursively
	// (see [pipeline.Dir]). A relative path is relative to the working
	// folder of the process that reads it. Exactly one of Path and Dataset
	// is set.
	Path string `json:"path,omitempty"`
	// Dataset is a version spec ("flights", "flights@v3", "flights@main~1";
	// see [version.Repository.Resolve]) whose Parquet entries are read.
	Dataset string `json:"dataset,omitempty"`
	// Commit is set by [Registry.Apply] for a Dataset source: the commit the
	// spec resolved to when the view was applied, whose schema was checked.
	// Read "<dataset>@<Commit>" to get the very rows of that time. Ignored
	// in what is applied.
	Commit store.Digest `json:"commit,omitzero"`
	// Timestamp is the event-time column (timestamp, date32 or date64).
	Timestamp string `json:"timestamp"`
	// Created is an optional created-time column that breaks ties between
	// rows of the same event time (the latest created wins).
	Created string `json:"created,omitempty"`
}

// A FeatureView is a set of typed features of one or more entities, read
// from a batch source and, when Online, materialized to the online store.
type FeatureView struct {
	// Name identifies the view (see [version.ValidName]). Output columns of
	// retrieval are named "<Name>__<feature>".
	Name string `json:"name"`
	// Entities are the names of the entities the view's rows are keyed by,
	// at least one; their join keys are columns of the source.
	Entities []string `json:"entities"`
	// Features are the feature columns, at least one, with their types.
	Features []Field `json:"features"`
	// TTL bounds how old a feature value may be: a value whose event time
	// is more than TTL before the time asked for is not used (one exactly
	// TTL old is, as in Feast). Zero means no limit.
	TTL    time.Duration `json:"-"`
	Source BatchSource   `json:"source"`
	// Online marks the view for materialization to the online store.
	Online      bool              `json:"online,omitempty"`
	Description string            `json:"description,omitempty"`
	Owner       string            `json:"owner,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
}

// Feature returns the view's feature named name.
func (v FeatureView) Feature(name string) (Field, bool) {
	for _, f := range v.Features {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// A FeatureService is a named set of features, typically those one model
// reads, so that training and serving ask for the same ones.
type FeatureService struct {
	// Name identifies the service (see [version.ValidName]).
	Name string `json:"name"`
	// Features are references: "view:feature" names one feature, "view"
	// all features of a view, and "ondemand:output" an output of an
	// on-demand feature registered with [Registry.RegisterOnDemand].
	Features    []string `json:"features"`
	Description string   `json:"description,omitempty"`
}

// An OnDemandFeature computes features at request time with a Go function
// of request data and fetched features (a distance from the request's
// coordinates, a ratio of two features). It is not stored in the registry:
// a program registers it on its [Registry] with [Registry.RegisterOnDemand]
// each time it opens one. Its outputs are referred to as "name:output".
type OnDemandFeature struct {
	// Name identifies the on-demand feature; it may not be the name of a
	// feature view.
	Name string
	// Request are the fields the request itself carries that Fn reads.
	Request []Field
	// Inputs lists, in the order Fn receives them, the values Fn reads:
	// "view:feature" for a feature of a view, or the name of a field of
	// Request.
	Inputs []string
	// Outputs are the features Fn computes, at least one.
	Outputs []Field
	// Fn computes the outputs of one entity row: in[i] is the value of
	// Inputs[i] (null when missing), and out, of len(Outputs) and all nulls
	// on entry, receives the value of Outputs[j] in out[j], of that output's
	// type or null. Fn must not keep in or out after it returns; it may be
	// called from many goroutines at once. Call it through
	// [OnDemandFeature.Eval], which checks what it returns.
	Fn func(in, out []online.Value) error
}

// Eval runs o.Fn on one row: in holds len(o.Inputs) values, out receives
// len(o.Outputs) values (it is cleared to nulls first). A panic in Fn is
// returned as an error, and an output of another type than declared is an
// error wrapping [ErrType]; on error out is left all nulls.
func (o *OnDemandFeature) Eval(in, out []online.Value) (err error) {
	if len(in) != len(o.Inputs) || len(out) != len(o.Outputs) {
		return fmt.Errorf("features: on-demand feature %q: got %d inputs and %d outputs, want %d and %d: %w",
			o.Name, len(in), len(out), len(o.Inputs), len(o.Outputs), ErrSpec)
	}
	clear(out)
	defer func() {
		if p := recover(); p != nil {
			clear(out)
			err = fmt.Errorf("features: on-demand feature %q panicked: %v", o.Name, p)
		}
	}()
	if err := o.Fn(in, out); err != nil {
		clear(out)
		return fmt.Errorf("features: on-demand feature %q: %w", o.Name, err)
	}
	for j, v := range out {
		if k := v.Kind(); k != online.KindNull && k != o.Outputs[j].Type.Kind() {
			clear(out)
			return fmt.Errorf("features: on-demand feature %q: output %q is %s, want %s: %w",
				o.Name, o.Outputs[j].Name, k, o.Outputs[j].Type, ErrType)
		}
	}
	return nil
}

// validateOnDemand checks an on-demand feature against the views it reads.
func (p *problems) validateOnDemand(o OnDemandFeature, views map[string]FeatureView) {
	p.checkName(kindOnDemand, o.Name)
	if _, ok := views[o.Name]; ok {
		p.add(kindOnDemand, o.Name, nil, "a feature view has that name")
	}
	if o.Fn == nil {
		p.add(kindOnDemand, o.Name, nil, "no function")
	}
	if len(o.Outputs) == 0 {
		p.add(kindOnDemand, o.Name, nil, "no outputs")
	}
	p.checkFields(kindOnDemand, o.Name, "request field", o.Request, false)
	p.checkFields(kindOnDemand, o.Name, "output", o.Outputs, false)
	if len(o.Inputs) == 0 {
		p.add(kindOnDemand, o.Name, nil, "no inputs")
	}
	req := map[string]bool{}
	for _, f := range o.Request {
		req[f.Name] = true
	}
	seen := map[string]bool{}
	for _, in := range o.Inputs {
		if seen[in] {
			p.add(kindOnDemand, o.Name, nil, "input %q appears twice", in)
		}
		seen[in] = true
		vn, fn, ok := strings.Cut(in, ":")
		if !ok {
			if !req[in] {
				p.add(kindOnDemand, o.Name, ErrNotFound, "input %q is neither \"view:feature\" nor a request field", in)
			}
			continue
		}
		v, ok := views[vn]
		if !ok {
			p.add(kindOnDemand, o.Name, ErrNotFound, "input %q: no feature view %q", in, vn)
			continue
		}
		if _, ok := v.Feature(fn); !ok {
			p.add(kindOnDemand, o.Name, ErrNotFound, "input %q: view %q has no feature %q", in, vn, fn)
		}
	}
}

// ErrDefinition is wrapped by the errors of definitions that [Registry.Apply]
// and [Registry.RegisterOnDemand] refuse (see [*DefinitionError]).
// ErrNotFound is wrapped by lookups of definitions that do not exist, and of
// registry versions that do not exist yet.
var (
	ErrDefinition = errors.New("features: bad definition")
	ErrNotFound   = errors.New("features: not found")
)

// A DefinitionError says what is wrong with one definition. It matches
// [ErrDefinition] with [errors.Is] and unwraps to its cause, which may be
// [ErrMissingColumn] (a column the source lacks), [ErrType] (a type that does
// not fit), [version.ErrBadName] (a refused name) or [ErrNotFound] (a
// reference to an entity, view or feature that does not exist).
type DefinitionError struct {
	Kind   string // "entity", "feature view", "feature service" or "on-demand feature"
	Name   string // the definition's name
	Detail string // what is wrong, for people
	Err    error  // the cause, nil if none beyond Detail
}

func (e *DefinitionError) Error() string {
	var b strings.Builder
	b.WriteString("features: ")
	b.WriteString(e.Kind)
	b.WriteByte(' ')
	b.WriteString(strconv.Quote(e.Name))
	b.WriteString(": ")
	b.WriteString(e.Detail)
	if e.Err != nil && !strings.Contains(e.Detail, strings.TrimPrefix(e.Err.Error(), "features: ")) {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "features: "))
	}
	return b.String()
}

func (e *DefinitionError) Unwrap() error { return e.Err }

// Is makes every DefinitionError match [ErrDefinition].
func (e *DefinitionError) Is(target error) bool { return target == ErrDefinition }

const (
	kindEntity   = "entity"
	kindView     = "feature view"
	kindService  = "feature service"
	kindOnDemand = "on-demand feature"
)

// problems collects the errors found while validating definitions.
type problems struct{ errs []error }

func (p *problems) add(kind, name string, err error, format string, args ...any) {
	p.errs = append(p.errs, &DefinitionError{Kind: kind, Name: name, Detail: fmt.Sprintf(format, args...), Err: err})
}

func (p *problems) err() error { return errors.Join(p.errs...) }

// checkName validates a definition's own name.
func (p *problems) checkName(kind, name string) bool {
	if err := ValidDefinitionName(name); err != nil {
		p.add(kind, name, err, "bad name")
		return false
	}
	return true
}

// ValidDefinitionName reports whether name may name an entity, feature
// view, feature service or on-demand feature: a name [version.ValidName]
// accepts, without '/' (so that it also names a view in an online store,
// see [online.ValidViewName]). The error wraps [version.ErrBadName].
func ValidDefinitionName(name string) error {
	if err := version.ValidName(name); err != nil {
		return err
	}
	if strings.Contains(name, "/") {
		return fmt.Errorf("%q: '/' is not allowed in a definition name: %w", name, version.ErrBadName)
	}
	return nil
}

// checkFields validates a list of fields: valid names, known types, unique
// names. what names the list ("join key", "feature").
func (p *problems) checkFields(kind, name, what string, fields []Field, keys bool) {
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		if err := version.ValidName(f.Name); err != nil {
			p.add(kind, name, err, "%s %q: bad name", what, f.Name)
			continue
		}
		if seen[f.Name] {
			p.add(kind, name, nil, "%s %q appears twice", what, f.Name)
		}
		seen[f.Name] = true
		switch {
		case !f.Type.Valid():
			p.add(kind, name, ErrType, "%s %q: unknown type %q (want one of %v)", what, f.Name, f.Type, ValueTypes())
		case keys && !f.Type.keyType():
			p.add(kind, name, ErrType, "%s %q: type %s cannot be a join key (want int64, string, bytes or bool)", what, f.Name, f.Type)
		}
	}
}

// validateEntity checks an entity on its own.
func (p *problems) validateEntity(e Entity) {
	p.checkName(kindEntity, e.Name)
	if len(e.JoinKeys) == 0 {
		p.add(kindEntity, e.Name, nil, "no join keys")
	}
	p.checkFields(kindEntity, e.Name, "join key", e.JoinKeys, true)
}

// validateView checks a view against the entities it names (from the
// registry state it will be part of), without reading its source.
func (p *problems) validateView(v FeatureView, entities map[string]Entity) {
	p.checkName(kindView, v.Name)
	if len(v.Entities) == 0 {
		p.add(kindView, v.Name, nil, "no entities")
	}
	keyOwner := map[string]string{}
	seenEnt := map[string]bool{}
	for _, en := range v.Entities {
		if seenEnt[en] {
			p.add(kindView, v.Name, nil, "entity %q appears twice", en)
			continue
		}
		seenEnt[en] = true
		e, ok := entities[en]
		if !ok {
			p.add(kindView, v.Name, ErrNotFound, "entity %q is not defined", en)
			continue
		}
		for _, k := range e.JoinKeys {
			if o, dup := keyOwner[k.Name]; dup {
				p.add(kindView, v.Name, nil, "join key %q of entity %q is also a join key of entity %q", k.Name, en, o)
			}
			keyOwner[k.Name] = en
		}
	}
	if len(v.Features) == 0 {
		p.add(kindView, v.Name, nil, "no features")
	}
	p.checkFields(kindView, v.Name, "feature", v.Features, false)
	for _, f := range v.Features {
		if o, ok := keyOwner[f.Name]; ok {
			p.add(kindView, v.Name, nil, "feature %q is a join key of entity %q", f.Name, o)
		}
		if f.Name == v.Source.Timestamp || (v.Source.Created != "" && f.Name == v.Source.Created) {
			p.add(kindView, v.Name, nil, "feature %q is the source's time column", f.Name)
		}
	}
	if v.TTL < 0 {
		p.add(kindView, v.Name, nil, "negative TTL %v", v.TTL)
	}
	s := v.Source
	switch {
	case s.Path == "" && s.Dataset == "":
		p.add(kindView, v.Name, nil, "source has neither a path nor a dataset")
	case s.Path != "" && s.Dataset != "":
		p.add(kindView, v.Name, nil, "source has both a path and a dataset")
	}
	if s.Timestamp == "" {
		p.add(kindView, v.Name, nil, "source has no timestamp column")
	}
	if s.Created != "" && s.Created == s.Timestamp {
		p.add(kindView, v.Name, nil, "source's created column %q is its timestamp column", s.Created)
	}
	if _, ok := keyOwner[s.Timestamp]; ok && s.Timestamp != "" {
		p.add(kindView, v.Name, nil, "timestamp column %q is a join key", s.Timestamp)
	}
	for k := range v.Tags {
		if k == "" {
			p.add(kindView, v.Name, nil, "empty tag key")
		}
	}
}

// validateSchema checks that the source schema sc has the view's join keys,
// time columns and features, with compatible types.
func (p *problems) validateSchema(v FeatureView, entities map[string]Entity, sc *arrow.Schema) {
	col := func(what, name string, ok func(arrow.DataType) bool, want string) {
		idx := sc.FieldIndices(name)
		if len(idx) == 0 {
			p.add(kindView, v.Name, ErrMissingColumn, "%s %q is not a column of the source (it has %s)", what, name, columnList(sc))
			return
		}
		if dt := sc.Field(idx[0]).Type; !ok(dt) {
			p.add(kindView, v.Name, ErrType, "%s %q is %s in the source, want %s", what, name, dt, want)
		}
	}
	for _, en := range v.Entities {
		for _, k := range entities[en].JoinKeys {
			col("join key", k.Name, k.Type.Accepts, string(k.Type))
		}
	}
	col("timestamp column", v.Source.Timestamp, TypeTimestamp.Accepts, "timestamp or date")
	if v.Source.Created != "" {
		col("created column", v.Source.Created, TypeTimestamp.Accepts, "timestamp or date")
	}
	for _, f := range v.Features {
		if f.Type.Valid() {
			col("feature", f.Name, f.Type.Accepts, string(f.Type))
		}
	}
}

// columnList names the columns of sc with their types, for errors.
func columnList(sc *arrow.Schema) string {
	var b strings.Builder
	for i, f := range sc.Fields() {
		if i > 0 {
			b.WriteString(", ")
		}
		if i == 12 {
			fmt.Fprintf(&b, "and %d more", sc.NumFields()-i)
			break
		}
		fmt.Fprintf(&b, "%s %s", f.Name, f.Type)
	}
	return b.String()
}

// validateService checks a service's references against the views of the
// registry state it will be part of, and the on-demand features.
func (p *problems) validateService(s FeatureService, views map[string]FeatureView, onDemand map[string]OnDemandFeature) {
	p.checkName(kindService, s.Name)
	if len(s.Features) == 0 {
		p.add(kindService, s.Name, nil, "no features")
	}
	seen := map[string]bool{}
	for _, ref := range s.Features {
		if seen[ref] {
			p.add(kindService, s.Name, nil, "reference %q appears twice", ref)
		}
		seen[ref] = true
		if why := checkRef(ref, views, onDemand); why != "" {
			p.add(kindService, s.Name, ErrNotFound, "reference %q: %s", ref, why)
		}
	}
}

// checkRef checks one feature reference: "view", "view:feature" or
// "ondemand:output". It returns what is wrong, or "".
func checkRef(ref string, views map[string]FeatureView, onDemand map[string]OnDemandFeature) string {
	vn, fn, hasFeature := strings.Cut(ref, ":")
	if v, ok := views[vn]; ok {
		if _, ok := v.Feature(fn); hasFeature && !ok {
			return fmt.Sprintf("view %q has no feature %q", vn, fn)
		}
		return ""
	}
	if od, ok := onDemand[vn]; ok {
		if hasFeature && !slices.ContainsFunc(od.Outputs, func(o Field) bool { return o.Name == fn }) {
			return fmt.Sprintf("on-demand feature %q has no output %q", vn, fn)
		}
		return ""
	}
	return fmt.Sprintf("no view or on-demand feature %q", vn)
}

// cloneView returns a deep copy of v, so that callers cannot change the
// registry's state through shared slices and maps.
func cloneView(v FeatureView) FeatureView {
	v.Entities = slices.Clone(v.Entities)
	v.Features = slices.Clone(v.Features)
	v.Tags = maps.Clone(v.Tags)
	return v
}

func cloneEntity(e Entity) Entity {
	e.JoinKeys = slices.Clone(e.JoinKeys)
	return e
}

func cloneService(s FeatureService) FeatureService {
	s.Features = slices.Clone(s.Features)
	return s
}

func cloneOnDemand(o OnDemandFeature) OnDemandFeature {
	o.Request = slices.Clone(o.Request)
	o.Inputs = slices.Clone(o.Inputs)
	o.Outputs = slices.Clone(o.Outputs)
	return o
}
