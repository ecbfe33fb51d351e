package features

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/kilnml/kiln/pipeline"
	"github.com/kilnml/kiln/store"
	"github.com/kilnml/kiln/version"
)

// A Registry holds the definitions of a feature store — entities, feature
// views and feature services — in a dataset of a version repository. Each
// [Registry.Apply] validates what it is given against the rest of the
// definitions and the sources' schemas, and commits the whole set as one new
// registry version, numbered 1, 2, 3…: a view can be read as it is now
// ("driver_stats") or as it was in a version ("driver_stats@3"), so a model's
// training set can be rebuilt from the definitions it was built with.
//
// On-demand features are Go functions: they are not stored, but registered
// on the Registry value ([Registry.RegisterOnDemand]) by each program that
// opens it.
//
// A Registry is safe for concurrent use by many goroutines, and several
// Registry values (in one process, through one Repository) may apply to the
// same registry at once: each Apply commits on top of the latest version, and
// validates again against it when another Apply committed first.
//
// # Storage
//
// Registry version N is the commit of the dataset (named as the registry)
// on its branch "main" whose metadata "registry_version" is N, holding one
// entry "registry.json": the JSON document of every definition, sorted by
// name. Its history is the branch's history ([Registry.History]).
type Registry struct {
	repo *version.Repository
	name string

	applyMu sync.Mutex // one Apply at a time through this value

	mu       sync.Mutex
	byCommit map[store.Digest]*snapshot // loaded versions by commit ID
	byNum    map[int]*snapshot          // and by number
	onDemand map[string]OnDemandFeature
}

// registryFile is the path of the definitions in each registry commit.
const registryFile = "registry.json"

// metaVersion is the commit metadata key holding the registry version.
const metaVersion = "registry_version"

// registryFormat identifies the JSON document's format.
const registryFormat = "kiln.features.registry/1"

// maxApplyRetries bounds the retries of an Apply that lost a race to
// another Apply; each lost race means another Apply succeeded.
const maxApplyRetries = 100

// snapshot is one registry version, immutable once built.
type snapshot struct {
	num      int
	commit   version.Commit // zero for version 0 (empty registry)
	entities map[string]Entity
	views    map[string]FeatureView
	services map[string]FeatureService
}

func emptySnapshot() *snapshot {
	return &snapshot{entities: map[string]Entity{}, views: map[string]FeatureView{}, services: map[string]FeatureService{}}
}

// OpenRegistry opens the registry stored in the dataset name of repo (a
// name accepted by [ValidDefinitionName]). A registry never applied to is
// empty, at version 0; its dataset is created by the first Apply.
func OpenRegistry(ctx context.Context, repo *version.Repository, name string) (*Registry, error) {
	if repo == nil {
		return nil, fmt.Errorf("features: open registry: nil repository: %w", ErrSpec)
	}
	if err := ValidDefinitionName(name); err != nil {
		return nil, fmt.Errorf("features: open registry: %w", err)
	}
	r := &Registry{
		repo:     repo,
		name:     name,
		byCommit: map[store.Digest]*snapshot{},
		byNum:    map[int]*snapshot{},
		onDemand: map[string]OnDemandFeature{},
	}
	if _, err := r.head(ctx); err != nil {
		return nil, fmt.Errorf("features: open registry %q: %w", name, err)
	}
	return r, nil
}

// Name returns the registry's name: the name of its dataset.
func (r *Registry) Name() string { return r.name }

// head loads the latest registry version.
func (r *Registry) head(ctx context.Context) (*snapshot, error) {
	c, err := r.repo.Resolve(ctx, r.name)
	if errors.Is(err, version.ErrNotFound) {
		return emptySnapshot(), nil
	}
	if err != nil {
		return nil, err
	}
	return r.load(ctx, c)
}

// load returns the registry version of commit c, from the cache or read.
func (r *Registry) load(ctx context.Context, c version.Commit) (*snapshot, error) {
	r.mu.Lock()
	s, ok := r.byCommit[c.ID]
	r.mu.Unlock()
	if ok {
		return s, nil
	}
	num, err := strconv.Atoi(c.Meta[metaVersion])
	if err != nil || num < 1 {
		return nil, fmt.Errorf("commit %s of %q has no registry version: %w", c.ID, r.name, version.ErrCorrupt)
	}
	rd, err := r.repo.ReadFile(ctx, r.name+"@"+c.ID.String(), registryFile)
	if err != nil {
		return nil, fmt.Errorf("read registry version %d: %w", num, err)
	}
	var doc registryDoc
	dec := json.NewDecoder(rd)
	err = dec.Decode(&doc)
	rd.Close()
	if err != nil {
		return nil, fmt.Errorf("decode registry version %d: %v: %w", num, err, version.ErrCorrupt)
	}
	if doc.Format != registryFormat || doc.Version != num {
		return nil, fmt.Errorf("registry version %d: format %q version %d: %w", num, doc.Format, doc.Version, version.ErrCorrupt)
	}
	s = emptySnapshot()
	s.num, s.commit = num, c
	for _, e := range doc.Entities {
		s.entities[e.Name] = e
	}
	for _, vd := range doc.Views {
		v := vd.FeatureView
		if vd.TTL != "" {
			if v.TTL, err = time.ParseDuration(vd.TTL); err != nil {
				return nil, fmt.Errorf("registry version %d: view %q: ttl: %v: %w", num, v.Name, err, version.ErrCorrupt)
			}
		}
		s.views[v.Name] = v
	}
	for _, sv := range doc.Services {
		s.services[sv.Name] = sv
	}
	r.mu.Lock()
	r.byCommit[c.ID] = s
	r.byNum[num] = s
	r.mu.Unlock()
	return s, nil
}

// at returns registry version num (0: the latest).
func (r *Registry) at(ctx context.Context, num int) (*snapshot, error) {
	if num > 0 {
		r.mu.Lock()
		s, ok := r.byNum[num]
		r.mu.Unlock()
		if ok {
			return s, nil
		}
	}
	h, err := r.head(ctx)
	if err != nil || num == 0 || num == h.num {
		return h, err
	}
	if num > h.num {
		return nil, fmt.Errorf("registry %q has no version %d (the latest is %d): %w", r.name, num, h.num, ErrNotFound)
	}
	c, err := r.repo.Resolve(ctx, fmt.Sprintf("%s@%s~%d", r.name, h.commit.ID, h.num-num))
	if err != nil {
		return nil, err
	}
	s, err := r.load(ctx, c)
	if err != nil {
		return nil, err
	}
	if s.num != num {
		return nil, fmt.Errorf("registry %q: version %d found where %d was expected: %w", r.name, s.num, num, version.ErrCorrupt)
	}
	return s, nil
}

// parseRef splits "name" or "name@N".
func parseRef(ref string) (name string, num int, err error) {
	name, n, ok := strings.Cut(ref, "@")
	if !ok {
		return name, 0, nil
	}
	num, err = strconv.Atoi(n)
	if err != nil || num < 1 || strings.HasPrefix(n, "+") {
		return "", 0, fmt.Errorf("features: reference %q: want name or name@N with N a registry version ≥ 1: %w", ref, version.ErrBadName)
	}
	return name, num, nil
}

// lookup resolves ref in the map that pick selects from a version.
func lookup[T any](ctx context.Context, r *Registry, kind, ref string, pick func(*snapshot) map[string]T, clone func(T) T) (T, error) {
	var zero T
	name, num, err := parseRef(ref)
	if err != nil {
		return zero, err
	}
	s, err := r.at(ctx, num)
	if err != nil {
		return zero, fmt.Errorf("features: %s %q: %w", kind, ref, err)
	}
	v, ok := pick(s)[name]
	if !ok {
		return zero, fmt.Errorf("features: %s %q: not in registry %q version %d: %w", kind, name, r.name, s.num, ErrNotFound)
	}
	return clone(v), nil
}

// View returns the feature view that ref names: "name" as it is in the
// latest registry version, "name@N" as it was in version N. An unknown view
// or version gives an error wrapping [ErrNotFound]; a malformed ref one
// wrapping [version.ErrBadName].
func (r *Registry) View(ctx context.Context, ref string) (FeatureView, error) {
	return lookup(ctx, r, kindView, ref, func(s *snapshot) map[string]FeatureView { return s.views }, cloneView)
}

// Entity returns the entity that ref names ("name" or "name@N"), as View
// does for views.
func (r *Registry) Entity(ctx context.Context, ref string) (Entity, error) {
	return lookup(ctx, r, kindEntity, ref, func(s *snapshot) map[string]Entity { return s.entities }, cloneEntity)
}

// Service returns the feature service that ref names ("name" or "name@N"),
// as View does for views.
func (r *Registry) Service(ctx context.Context, ref string) (FeatureService, error) {
	return lookup(ctx, r, kindService, ref, func(s *snapshot) map[string]FeatureService { return s.services }, cloneService)
}

// sortedValues returns the values of m sorted by key, cloned.
func sortedValues[T any](m map[string]T, clone func(T) T) []T {
	out := make([]T, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, clone(m[k]))
	}
	return out
}

// Views returns the feature views of the latest registry version, sorted by
// name.
func (r *Registry) Views(ctx context.Context) ([]FeatureView, error) {
	d, err := r.Definitions(ctx, 0)
	return d.Views, err
}

// Entities returns the entities of the latest registry version, sorted by
// name.
func (r *Registry) Entities(ctx context.Context) ([]Entity, error) {
	d, err := r.Definitions(ctx, 0)
	return d.Entities, err
}

// Services returns the feature services of the latest registry version,
// sorted by name.
func (r *Registry) Services(ctx context.Context) ([]FeatureService, error) {
	d, err := r.Definitions(ctx, 0)
	return d.Services, err
}

// Definitions are the contents of one registry version.
type Definitions struct {
	Version  int
	Entities []Entity         // sorted by name
	Views    []FeatureView    // sorted by name
	Services []FeatureService // sorted by name
}

// Definitions returns every definition of registry version num, or of the
// latest version when num is 0. A version that does not exist yet gives an
// error wrapping [ErrNotFound].
func (r *Registry) Definitions(ctx context.Context, num int) (Definitions, error) {
	if num < 0 {
		return Definitions{}, fmt.Errorf("features: registry %q: negative version %d: %w", r.name, num, ErrNotFound)
	}
	s, err := r.at(ctx, num)
	if err != nil {
		return Definitions{}, fmt.Errorf("features: registry %q: %w", r.name, err)
	}
	return Definitions{
		Version:  s.num,
		Entities: sortedValues(s.entities, cloneEntity),
		Views:    sortedValues(s.views, cloneView),
		Services: sortedValues(s.services, cloneService),
	}, nil
}

// Version returns the latest registry version: 0 before the first Apply.
func (r *Registry) Version(ctx context.Context) (int, error) {
	s, err := r.head(ctx)
	if err != nil {
		return 0, fmt.Errorf("features: registry %q: %w", r.name, err)
	}
	return s.num, nil
}

// A RegistryVersion describes one Apply.
type RegistryVersion struct {
	Version int
	Commit  store.Digest // the commit of the registry's dataset holding it
	Time    time.Time
	Author  string
	// Message lists what was applied ("apply entity driver, feature view
	// driver_stats").
	Message string
}

// History returns the registry's versions, newest first.
func (r *Registry) History(ctx context.Context) ([]RegistryVersion, error) {
	h, err := r.head(ctx)
	if err != nil || h.num == 0 {
		if err != nil {
			err = fmt.Errorf("features: registry %q: %w", r.name, err)
		}
		return nil, err
	}
	var out []RegistryVersion
	for c, err := range r.repo.Log(ctx, r.name+"@"+h.commit.ID.String()) {
		if err != nil {
			return nil, fmt.Errorf("features: registry %q history: %w", r.name, err)
		}
		num, err := strconv.Atoi(c.Meta[metaVersion])
		if err != nil {
			return nil, fmt.Errorf("features: registry %q: commit %s has no registry version: %w", r.name, c.ID, version.ErrCorrupt)
		}
		out = append(out, RegistryVersion{Version: num, Commit: c.ID, Time: c.Time, Author: c.Author, Message: c.Message})
	}
	return out, nil
}

// RegisterOnDemand registers on-demand features on r, replacing any of the
// same names. They are checked against the latest registry version: names,
// types, and inputs naming features of existing views or request fields;
// on error nothing is registered. They live as long as r: a program
// registers them again each time it opens the registry. A later Apply that
// would remove a feature they read is refused.
func (r *Registry) RegisterOnDemand(ctx context.Context, fs ...OnDemandFeature) error {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	s, err := r.head(ctx)
	if err != nil {
		return fmt.Errorf("features: registry %q: %w", r.name, err)
	}
	var p problems
	seen := map[string]bool{}
	for _, o := range fs {
		if seen[o.Name] {
			p.add(kindOnDemand, o.Name, nil, "given twice")
		}
		seen[o.Name] = true
		p.validateOnDemand(o, s.views)
	}
	if err := p.err(); err != nil {
		return err
	}
	r.mu.Lock()
	for _, o := range fs {
		r.onDemand[o.Name] = cloneOnDemand(o)
	}
	r.mu.Unlock()
	return nil
}

// OnDemand returns the on-demand feature registered under name.
func (r *Registry) OnDemand(name string) (OnDemandFeature, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o, ok := r.onDemand[name]
	if ok {
		o = cloneOnDemand(o)
	}
	return o, ok
}

// onDemandCopy returns the registered on-demand features.
func (r *Registry) onDemandCopy() map[string]OnDemandFeature {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.onDemand)
}

// Apply validates objs — values or pointers of [Entity], [FeatureView] and
// [FeatureService] — and commits them, with the definitions already in the
// registry, as a new registry version, which it returns. A definition
// replaces the one of the same kind and name.
//
// Everything is checked before anything is written: names
// ([ValidDefinitionName]), types, join keys, the entities a view names and
// the features a service names (in the registry as it will be), and each
// new or changed view's source: its join keys, time columns and features
// must be columns of compatible types (see [ValueType.Accepts]); the Parquet
// footer or the dataset's schema is read, not the data. Views whose entities
// change are checked again against their sources. Every problem found is
// reported, joined, each a [*DefinitionError] (test with errors.Is(err,
// [ErrDefinition])), and the registry is left unchanged.
//
// For a Dataset source, Apply records the commit the spec resolves to in
// BatchSource.Commit.
func (r *Registry) Apply(ctx context.Context, objs ...any) (int, error) {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()

	var p problems
	ents, views, svcs := map[string]Entity{}, map[string]FeatureView{}, map[string]FeatureService{}
	var names []string
	for _, o := range objs {
		switch o := o.(type) {
		case Entity:
			addObj(&p, kindEntity, ents, o.Name, cloneEntity(o), &names)
		case *Entity:
			addObj(&p, kindEntity, ents, o.Name, cloneEntity(*o), &names)
		case FeatureView:
			addObj(&p, kindView, views, o.Name, normalizeView(o), &names)
		case *FeatureView:
			addObj(&p, kindView, views, o.Name, normalizeView(*o), &names)
		case FeatureService:
			addObj(&p, kindService, svcs, o.Name, cloneService(o), &names)
		case *FeatureService:
			addObj(&p, kindService, svcs, o.Name, cloneService(*o), &names)
		default:
			return 0, fmt.Errorf("features: apply: %T is not an Entity, FeatureView or FeatureService: %w", o, ErrDefinition)
		}
	}
	if len(objs) == 0 {
		return 0, fmt.Errorf("features: apply: nothing to apply: %w", ErrDefinition)
	}
	for _, e := range ents {
		p.validateEntity(e)
	}
	if err := p.err(); err != nil {
		return 0, err
	}
	// Source schemas, read at most once per source for all retries.
	schemas := map[BatchSource]schemaResult{}
	for attempt := 0; ; attempt++ {
		cur, err := r.head(ctx)
		if err != nil {
			return 0, fmt.Errorf("features: registry %q: %w", r.name, err)
		}
		next, err := r.merge(ctx, cur, ents, views, svcs, schemas)
		if err != nil {
			return 0, err
		}
		c, err := r.commit(ctx, cur, next, strings.Join(names, ", "))
		if errors.Is(err, version.ErrConflict) && attempt < maxApplyRetries {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("features: registry %q: apply: %w", r.name, err)
		}
		next.commit = c
		r.mu.Lock()
		r.byCommit[c.ID] = next
		r.byNum[next.num] = next
		r.mu.Unlock()
		return next.num, nil
	}
}

// addObj records one object to apply, refusing a second of the same kind
// and name.
func addObj[T any](p *problems, kind string, m map[string]T, name string, v T, names *[]string) {
	if _, dup := m[name]; dup {
		p.add(kind, name, nil, "given twice in one Apply")
		return
	}
	m[name] = v
	*names = append(*names, kind+" "+name)
}

// normalizeView copies v in the form it is stored and compared in.
func normalizeView(v FeatureView) FeatureView {
	v = cloneView(v)
	if len(v.Tags) == 0 {
		v.Tags = nil
	}
	v.Source.Commit = store.Digest{}
	return v
}

type schemaResult struct {
	schema *arrow.Schema
	commit store.Digest
	err    error
}

// merge builds the registry version that applying ents, views and svcs to
// cur gives, after checking it whole.
func (r *Registry) merge(ctx context.Context, cur *snapshot, ents map[string]Entity, views map[string]FeatureView, svcs map[string]FeatureService, schemas map[BatchSource]schemaResult) (*snapshot, error) {
	next := &snapshot{
		num:      cur.num + 1,
		entities: maps.Clone(cur.entities),
		views:    maps.Clone(cur.views),
		services: maps.Clone(cur.services),
	}
	changedEnt := map[string]bool{}
	for n, e := range ents {
		if old, ok := cur.entities[n]; !ok || !slices.Equal(old.JoinKeys, e.JoinKeys) {
			changedEnt[n] = true
		}
		next.entities[n] = e
	}
	maps.Copy(next.views, views)
	maps.Copy(next.services, svcs)

	var p problems
	onDemand := r.onDemandCopy()
	// Every view against the entities, every service against the views,
	// every on-demand feature against the views: cheap, in memory.
	for _, n := range slices.Sorted(maps.Keys(next.views)) {
		v := next.views[n]
		p.validateView(v, next.entities)
		if _, ok := onDemand[n]; ok {
			p.add(kindView, n, nil, "an on-demand feature has that name")
		}
	}
	for _, n := range slices.Sorted(maps.Keys(next.services)) {
		p.validateService(next.services[n], next.views, onDemand)
	}
	for _, n := range slices.Sorted(maps.Keys(onDemand)) {
		var q problems
		q.validateOnDemand(onDemand[n], next.views)
		for _, e := range q.errs {
			p.errs = append(p.errs, fmt.Errorf("registered %w", e))
		}
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	// Sources: of the views applied, and of those whose entities changed.
	for _, n := range slices.Sorted(maps.Keys(next.views)) {
		v := next.views[n]
		_, applied := views[n]
		touched := applied
		for _, en := range v.Entities {
			touched = touched || changedEnt[en]
		}
		if !touched {
			continue
		}
		key := v.Source
		key.Commit = store.Digest{}
		res, ok := schemas[key]
		if !ok {
			res.schema, res.commit, res.err = r.sourceSchema(ctx, key)
			schemas[key] = res
		}
		if res.err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			p.add(kindView, n, res.err, "cannot read the source's schema")
			continue
		}
		p.validateSchema(v, next.entities, res.schema)
		if applied {
			v.Source.Commit = res.commit
			next.views[n] = v
		}
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return next, nil
}

// sourceSchema reads the schema of a batch source and, for a dataset, the
// commit it resolves to.
func (r *Registry) sourceSchema(ctx context.Context, s BatchSource) (*arrow.Schema, store.Digest, error) {
	if s.Dataset != "" {
		c, err := r.repo.Resolve(ctx, s.Dataset)
		if err != nil {
			return nil, store.Digest{}, err
		}
		src, err := r.repo.Source(ctx, c.Dataset+"@"+c.ID.String(), version.SourceOptions{})
		if err != nil {
			return nil, store.Digest{}, err
		}
		sc, err := src.Schema(ctx)
		return sc, c.ID, err
	}
	src, err := r.OpenSource(ctx, s, pipeline.ParquetOptions{})
	if err != nil {
		return nil, store.Digest{}, err
	}
	sc, err := src.Schema(ctx)
	return sc, store.Digest{}, err
}

// OpenSource returns a pipeline source of the rows of a batch source: a
// Parquet file, a glob of files or a folder for Path (with opts for each
// Parquet file), or the Parquet entries of the dataset version for Dataset,
// read as the spec resolves now; use [BatchSource.Pinned] to read the
// version the view was applied with.
func (r *Registry) OpenSource(ctx context.Context, s BatchSource, opts pipeline.ParquetOptions) (pipeline.Source, error) {
	switch {
	case s.Dataset != "" && s.Path != "":
		return nil, fmt.Errorf("features: source has both a path and a dataset: %w", ErrSpec)
	case s.Dataset != "":
		return r.repo.Source(ctx, s.Dataset, version.SourceOptions{Parquet: opts})
	case s.Path == "":
		return nil, fmt.Errorf("features: source has neither a path nor a dataset: %w", ErrSpec)
	case strings.ContainsAny(s.Path, "*?["):
		return pipeline.Glob(s.Path, pipeline.GlobOptions{Parquet: opts, Allocator: opts.Allocator}), nil
	}
	fi, err := os.Stat(s.Path)
	if err != nil {
		return nil, fmt.Errorf("features: source: %w", err)
	}
	if fi.IsDir() {
		return pipeline.Dir(s.Path, pipeline.GlobOptions{Parquet: opts, Allocator: opts.Allocator}), nil
	}
	return pipeline.Parquet(s.Path, opts), nil
}

// Pinned returns s with its Dataset spec replaced by the commit recorded
// when its view was applied ("flights@blake3:…"), so that it reads the very
// rows of that version. A source without a recorded commit is returned as
// it is.
func (s BatchSource) Pinned() BatchSource {
	if s.Dataset == "" || s.Commit.IsZero() {
		return s
	}
	ds := s.Dataset
	if i := strings.IndexAny(ds, "@~"); i >= 0 {
		ds = ds[:i]
	}
	s.Dataset = ds + "@" + s.Commit.String()
	return s
}

// registryDoc is the stored form of a registry version.
type registryDoc struct {
	Format   string           `json:"format"`
	Version  int              `json:"version"`
	Entities []Entity         `json:"entities"`
	Views    []viewDoc        `json:"views"`
	Services []FeatureService `json:"services"`
}

// viewDoc stores a view with its TTL as Go duration text ("24h0m0s").
type viewDoc struct {
	FeatureView
	TTL string `json:"ttl,omitempty"`
}

// commit stores next as the version after cur, by compare-and-swap: an
// error wrapping version.ErrConflict means another Apply committed first.
func (r *Registry) commit(ctx context.Context, cur, next *snapshot, what string) (version.Commit, error) {
	doc := registryDoc{
		Format:   registryFormat,
		Version:  next.num,
		Entities: sortedValues(next.entities, cloneEntity),
		Services: sortedValues(next.services, cloneService),
		Views:    []viewDoc{},
	}
	for _, v := range sortedValues(next.views, cloneView) {
		vd := viewDoc{FeatureView: v}
		if v.TTL != 0 {
			vd.TTL = v.TTL.String()
		}
		doc.Views = append(doc.Views, vd)
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return version.Commit{}, err
	}
	d, err := r.repo.Store().Put(ctx, bytes.NewReader(data))
	if err != nil {
		return version.Commit{}, err
	}
	entries := []version.Entry{{Path: registryFile, Digest: d, Size: int64(len(data)), Mode: 0o644}}
	opts := version.CommitOptions{
		Message: "apply " + what,
		Meta:    map[string]string{metaVersion: strconv.Itoa(next.num)},
	}
	if cur.num > 0 {
		opts.Parent = cur.commit.ID
		return r.repo.CommitEntries(ctx, r.name, entries, opts)
	}
	// The first version: commit on a scratch branch, then create main only
	// if it still does not exist.
	var b [8]byte
	rand.Read(b[:])
	opts.Branch = "apply-" + hex.EncodeToString(b[:])
	c, err := r.repo.CommitEntries(ctx, r.name, entries, opts)
	if err != nil {
		return version.Commit{}, err
	}
	defer r.repo.SetBranch(context.WithoutCancel(ctx), r.name, opts.Branch, c.ID, store.Digest{})
	if err := r.repo.SetBranch(ctx, r.name, "main", store.Digest{}, c.ID); err != nil {
		return version.Commit{}, err
	}
	return c, nil
}

// ResolvedFeatures is what a list of feature references asks for, checked
// against one registry version: the views to read and the on-demand
// features to compute.
type ResolvedFeatures struct {
	Version int
	// Views are the views to read, in the order of their first reference.
	Views []ResolvedView
	// OnDemand are the on-demand features to compute, in the order of
	// their first reference.
	OnDemand []ResolvedOnDemand
}

// A ResolvedView is one view to read and which of its features.
type ResolvedView struct {
	View FeatureView
	// JoinKeys are the join keys of the view's entities, in the order of
	// View.Entities and of each entity's keys: the order of an online
	// store key (see online.EncodeKey) and of a point-in-time join's keys.
	JoinKeys []Field
	// Features are those asked for, in reference order ("view" alone asks
	// for all, in the view's order), each once.
	Features []Field
	// Inputs are features read only because an on-demand feature asked
	// for reads them, not asked for themselves.
	Inputs []Field
}

// A ResolvedOnDemand is one on-demand feature to compute and which of its
// outputs are asked for.
type ResolvedOnDemand struct {
	Feature OnDemandFeature
	Outputs []Field // in reference order, each once
}

// Resolve checks feature references against registry version num (0: the
// latest) and the registered on-demand features: "view:feature",
// "view" (all its features), "ondemand:output" or "ondemand" (all its
// outputs). The features on-demand features read are added to the views'
// Inputs unless asked for. A reference to nothing gives an error wrapping
// [ErrNotFound]; repeated references count once.
func (r *Registry) Resolve(ctx context.Context, num int, refs ...string) (ResolvedFeatures, error) {
	s, err := r.at(ctx, num)
	if err != nil {
		return ResolvedFeatures{}, fmt.Errorf("features: registry %q: %w", r.name, err)
	}
	return resolveRefs(s, r.onDemandCopy(), refs)
}

// ResolveService resolves the features of the service that ref names
// ("name" or "name@N"), against the registry version it is read from.
func (r *Registry) ResolveService(ctx context.Context, ref string) (ResolvedFeatures, error) {
	name, num, err := parseRef(ref)
	if err != nil {
		return ResolvedFeatures{}, err
	}
	s, err := r.at(ctx, num)
	if err != nil {
		return ResolvedFeatures{}, fmt.Errorf("features: feature service %q: %w", ref, err)
	}
	svc, ok := s.services[name]
	if !ok {
		return ResolvedFeatures{}, fmt.Errorf("features: feature service %q: not in registry %q version %d: %w", name, r.name, s.num, ErrNotFound)
	}
	return resolveRefs(s, r.onDemandCopy(), svc.Features)
}

func resolveRefs(s *snapshot, onDemand map[string]OnDemandFeature, refs []string) (ResolvedFeatures, error) {
	out := ResolvedFeatures{Version: s.num}
	viewIdx, odIdx := map[string]int{}, map[string]int{}
	asked := map[string]bool{} // "view:feature" and "ondemand:output" already added
	addView := func(name string) *ResolvedView {
		i, ok := viewIdx[name]
		if !ok {
			i = len(out.Views)
			viewIdx[name] = i
			v := cloneView(s.views[name])
			var keys []Field
			for _, en := range v.Entities {
				keys = append(keys, s.entities[en].JoinKeys...)
			}
			out.Views = append(out.Views, ResolvedView{View: v, JoinKeys: keys})
		}
		return &out.Views[i]
	}
	if len(refs) == 0 {
		return out, fmt.Errorf("features: no feature references: %w", ErrSpec)
	}
	for _, ref := range refs {
		if why := checkRef(ref, s.views, onDemand); why != "" {
			return ResolvedFeatures{}, fmt.Errorf("features: reference %q in registry version %d: %s: %w", ref, s.num, why, ErrNotFound)
		}
		name, fn, one := strings.Cut(ref, ":")
		if v, ok := s.views[name]; ok {
			rv := addView(name)
			for _, f := range v.Features {
				if (!one || f.Name == fn) && !asked[name+":"+f.Name] {
					asked[name+":"+f.Name] = true
					rv.Features = append(rv.Features, f)
				}
			}
			continue
		}
		o := onDemand[name]
		i, ok := odIdx[name]
		if !ok {
			i = len(out.OnDemand)
			odIdx[name] = i
			out.OnDemand = append(out.OnDemand, ResolvedOnDemand{Feature: cloneOnDemand(o)})
		}
		for _, f := range o.Outputs {
			if (!one || f.Name == fn) && !asked[name+":"+f.Name] {
				asked[name+":"+f.Name] = true
				out.OnDemand[i].Outputs = append(out.OnDemand[i].Outputs, f)
			}
		}
	}
	// The inputs of on-demand features, where not asked for.
	for _, od := range out.OnDemand {
		for _, in := range od.Feature.Inputs {
			vn, fn, ok := strings.Cut(in, ":")
			if !ok || asked[in] {
				continue
			}
			v, ok := s.views[vn]
			if !ok {
				return ResolvedFeatures{}, fmt.Errorf("features: on-demand feature %q: input %q not in registry version %d: %w", od.Feature.Name, in, s.num, ErrNotFound)
			}
			f, ok := v.Feature(fn)
			if !ok {
				return ResolvedFeatures{}, fmt.Errorf("features: on-demand feature %q: input %q not in registry version %d: %w", od.Feature.Name, in, s.num, ErrNotFound)
			}
			asked[in] = true
			rv := addView(vn)
			rv.Inputs = append(rv.Inputs, f)
		}
	}
	return out, nil
}
