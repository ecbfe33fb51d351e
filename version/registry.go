package version

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/kilnml/kiln/store"
)

// ModelMeta describes how a model version was made. Every field is
// optional.
type ModelMeta struct {
	// Framework that made the artifact ("kiln/train", "xgboost", "onnx"…).
	Framework string `json:"framework,omitempty"`
	// Params are the hyperparameters the model was trained with.
	Params map[string]string `json:"params,omitempty"`
	// Metrics are its evaluation results; NaN and infinities are refused.
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// Datasets are the specs ("flights@v3", "flights@main~1",
	// "flights@blake3:…") of the data the model was trained on. They are
	// resolved to commits when the version is registered
	// (ModelVersion.Datasets); the specs themselves are kept as given.
	Datasets []string `json:"datasets,omitempty"`
	// Run is the ID of the run that trained the model (see StartRun). It
	// must exist when the version is registered.
	Run string `json:"run,omitempty"`
	// CodeRevision identifies the code that trained the model, such as a
	// Git commit.
	CodeRevision string            `json:"code_revision,omitempty"`
	Description  string            `json:"description,omitempty"`
	Tags         map[string]string `json:"tags,omitempty"`
}

// A DatasetRef names one commit of a dataset.
type DatasetRef struct {
	Dataset string       `json:"dataset"`
	Commit  store.Digest `json:"commit"`
}

// A ModelVersion is one registered version of a model: an immutable
// artifact in the store and what is known of how it was made.
type ModelVersion struct {
	Name    string `json:"name"`
	Version int    `json:"version"` // 1, 2, 3… in order of registration
	// Artifact is the digest of the model's bytes in the repository's
	// store (read them with OpenModel), and Size their length.
	Artifact store.Digest `json:"artifact"`
	Size     int64        `json:"size"`
	Meta     ModelMeta    `json:"meta"`
	// Datasets are the commits the model was trained on: those of
	// Meta.Datasets, then those of its run's datasets (RunOptions.Datasets)
	// not already listed.
	Datasets []DatasetRef `json:"datasets,omitempty"`
	Created  time.Time    `json:"created"`
	Author   string       `json:"author,omitempty"`
	// Aliases are the aliases pointing at this version now, sorted. They
	// are not part of the version's stored record.
	Aliases []string `json:"aliases,omitempty"`
}

// Badger key prefixes of the registry and the runs (see repo.go for the
// others). Names never hold a NUL byte (ValidName), so a NUL ends a name.
//
//	model/<name>\x00                  → latest version, decimal
//	model/<name>\x00<%010d version>   → ModelVersion JSON (without Aliases)
//	alias/<name>\x00<alias>           → version, decimal
//	lineage/<dataset>\x00<32-byte commit><model name>\x00<%010d version> → empty
//	run/<id>                          → runRecord JSON
//	run/<id>\x00p<key>                → param value
//	run/<id>\x00t<key>                → tag value
//	run/<id>\x00a<name>               → artifact digest, 32 bytes
//	run/<id>\x00l<metric key>         → latest point of the series (see runs.go)
//	runidx/<experiment>\x00<id>       → empty
//	metric/<id>\x00<key>\x00<8-byte unix ns><4-byte tag> → a chunk of points (see runs.go)
const (
	modelKeyPrefix   = "model/"
	aliasKeyPrefix   = "alias/"
	lineageKeyPrefix = "lineage/"
	runKeyPrefix     = "run/"
	runIdxKeyPrefix  = "runidx/"
	metricKeyPrefix  = "metric/"
)

func modelHeadKey(name string) []byte { return []byte(modelKeyPrefix + name + "\x00") }

func modelVersionKey(name string, v int) []byte {
	return fmt.Appendf(nil, "%s%s\x00%010d", modelKeyPrefix, name, v)
}

func aliasKey(name, alias string) []byte {
	return []byte(aliasKeyPrefix + name + "\x00" + alias)
}

func lineageKey(ref DatasetRef, name string, v int) []byte {
	k := make([]byte, 0, len(lineageKeyPrefix)+len(ref.Dataset)+1+store.DigestSize+len(name)+11)
	k = append(k, lineageKeyPrefix...)
	k = append(k, ref.Dataset...)
	k = append(k, 0)
	k = append(k, ref.Commit[:]...)
	return fmt.Appendf(k, "%s\x00%010d", name, v)
}

// regUpdate runs fn in a read-write transaction, retrying it as long as
// Badger reports a conflict with a concurrent transaction.
func (r *Repository) regUpdate(ctx context.Context, fn func(txn *badger.Txn) error) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.check(); err != nil {
			return err
		}
		err := r.db.Update(fn)
		if !errors.Is(err, badger.ErrConflict) {
			return err
		}
	}
}

// regGet returns the value of key, or ok false if it is absent.
func regGet(txn *badger.Txn, key []byte) (val []byte, ok bool, err error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	val, err = item.ValueCopy(nil)
	return val, err == nil, err
}

// regCorrupt is the error for a metadata value at key that does not decode.
func regCorrupt(key []byte, err error) error {
	if err == nil {
		return fmt.Errorf("version: metadata %q: %w", key, ErrCorrupt)
	}
	return fmt.Errorf("version: metadata %q: %w: %v", key, ErrCorrupt, err)
}

// regDecode decodes the JSON value of key into v.
func regDecode(key, val []byte, v any) error {
	if err := json.Unmarshal(val, v); err != nil {
		return regCorrupt(key, err)
	}
	return nil
}

// regDecodeInt decodes a positive decimal version number stored at key.
func regDecodeInt(key, val []byte) (int, error) {
	n, err := strconv.Atoi(string(val))
	if err != nil || n < 1 || string(val) != strconv.Itoa(n) {
		return 0, regCorrupt(key, err)
	}
	return n, nil
}

// validModelName checks a model name: ValidName, and a last segment that is
// not a number, since "name/3" means version 3 of name.
func validModelName(name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	last := name[strings.LastIndexByte(name, '/')+1:]
	if isDecimal(last) {
		return fmt.Errorf("version: model name %q: last segment is a number (reserved for versions): %w", name, ErrBadName)
	}
	return nil
}

func isDecimal(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// RegisterModel stores the artifact read from artifact (to its end) as the
// next version of the model name and returns it. Versions are numbered 1,
// 2, 3… without gaps, also when many goroutines register versions of one
// model at once. The dataset specs of meta.Datasets are resolved to commits
// (ModelVersion.Datasets) and indexed for ModelsTrainedOn; meta.Run, if set,
// must name an existing run (ErrNotFound otherwise), whose datasets are
// added. A name refused by ValidName, or whose last segment is a number,
// fails with ErrBadName. The version and its artifact are durable when
// RegisterModel returns.
func (r *Repository) RegisterModel(ctx context.Context, name string, artifact io.Reader, meta ModelMeta) (ModelVersion, error) {
	if err := r.check(); err != nil {
		return ModelVersion{}, err
	}
	fail := func(err error) (ModelVersion, error) {
		return ModelVersion{}, fmt.Errorf("version: register model %q: %w", name, err)
	}
	if err := validModelName(name); err != nil {
		return ModelVersion{}, err
	}
	if meta.Run != "" {
		if err := validRunID(meta.Run); err != nil {
			return fail(err)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(meta.Metrics)) {
		if v := meta.Metrics[k]; math.IsNaN(v) || math.IsInf(v, 0) {
			return fail(fmt.Errorf("metric %q is %v: only finite values can be stored", k, v))
		}
	}
	var refs []DatasetRef
	for _, spec := range meta.Datasets {
		c, err := r.Resolve(ctx, spec)
		if err != nil {
			return fail(err)
		}
		refs = appendDatasetRef(refs, DatasetRef{Dataset: c.Dataset, Commit: c.ID})
	}
	if meta.Run != "" { // fail before storing the artifact; checked again below
		err := r.db.View(func(txn *badger.Txn) error {
			_, err := loadRunRecord(txn, meta.Run)
			return err
		})
		if err != nil {
			return fail(err)
		}
	}
	cr := &countingReader{r: artifact}
	d, err := r.st.Put(ctx, cr)
	if err != nil {
		return fail(err)
	}
	mv := ModelVersion{
		Name:     name,
		Artifact: d,
		Size:     cr.n,
		Meta:     meta,
		Created:  time.Now().UTC().Round(0),
		Author:   r.author,
	}
	err = r.regUpdate(ctx, func(txn *badger.Txn) error {
		mv.Datasets = refs
		if meta.Run != "" {
			rec, err := loadRunRecord(txn, meta.Run)
			if err != nil {
				return err
			}
			for _, ref := range rec.Datasets {
				mv.Datasets = appendDatasetRef(mv.Datasets, ref)
			}
		}
		head := modelHeadKey(name)
		val, ok, err := regGet(txn, head)
		if err != nil {
			return err
		}
		mv.Version = 1
		if ok {
			n, err := regDecodeInt(head, val)
			if err != nil {
				return err
			}
			mv.Version = n + 1
		}
		enc, err := json.Marshal(mv)
		if err != nil {
			return err
		}
		if err := txn.Set(head, strconv.AppendInt(nil, int64(mv.Version), 10)); err != nil {
			return err
		}
		if err := txn.Set(modelVersionKey(name, mv.Version), enc); err != nil {
			return err
		}
		for _, ref := range mv.Datasets {
			if err := txn.Set(lineageKey(ref, name, mv.Version), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	return mv, nil
}

// appendDatasetRef appends ref to refs unless it is there already.
func appendDatasetRef(refs []DatasetRef, ref DatasetRef) []DatasetRef {
	if slices.Contains(refs, ref) {
		return refs
	}
	return append(refs, ref)
}

// parseModelSpec splits "name@alias", "name/3" or "name".
func parseModelSpec(spec string) (name, alias string, v int, err error) {
	bad := func(why string) error {
		return fmt.Errorf("version: model spec %q: %s: %w", spec, why, ErrBadName)
	}
	if i := strings.IndexByte(spec, '@'); i >= 0 {
		name, alias = spec[:i], spec[i+1:]
		if err := ValidName(name); err != nil {
			return "", "", 0, err
		}
		if err := ValidName(alias); err != nil {
			return "", "", 0, err
		}
		return name, alias, 0, nil
	}
	if i := strings.LastIndexByte(spec, '/'); i >= 0 && isDecimal(spec[i+1:]) {
		n, err := strconv.Atoi(spec[i+1:])
		if err != nil || n < 1 {
			return "", "", 0, bad("version must be a number from 1")
		}
		name, v = spec[:i], n
	} else {
		name = spec
	}
	if err := ValidName(name); err != nil {
		return "", "", 0, err
	}
	return name, "", v, nil
}

// ResolveModel returns the model version named by spec: "name@alias" (the
// version the alias points at), "name/3" (version 3) or "name" (the latest
// version). An unknown model, version or alias fails with ErrNotFound; a
// malformed spec with ErrBadName.
func (r *Repository) ResolveModel(ctx context.Context, spec string) (ModelVersion, error) {
	if err := r.check(); err != nil {
		return ModelVersion{}, err
	}
	var mv ModelVersion
	err := r.db.View(func(txn *badger.Txn) error {
		var err error
		mv, err = resolveModelTxn(txn, spec)
		return err
	})
	if err != nil {
		return ModelVersion{}, fmt.Errorf("version: resolve model %q: %w", spec, err)
	}
	return mv, nil
}

func resolveModelTxn(txn *badger.Txn, spec string) (ModelVersion, error) {
	name, alias, v, err := parseModelSpec(spec)
	if err != nil {
		return ModelVersion{}, err
	}
	switch {
	case alias != "":
		key := aliasKey(name, alias)
		val, ok, err := regGet(txn, key)
		if err != nil {
			return ModelVersion{}, err
		}
		if !ok {
			return ModelVersion{}, fmt.Errorf("alias %q of model %q: %w", alias, name, ErrNotFound)
		}
		if v, err = regDecodeInt(key, val); err != nil {
			return ModelVersion{}, err
		}
	case v == 0:
		key := modelHeadKey(name)
		val, ok, err := regGet(txn, key)
		if err != nil {
			return ModelVersion{}, err
		}
		if !ok {
			return ModelVersion{}, fmt.Errorf("model %q: %w", name, ErrNotFound)
		}
		if v, err = regDecodeInt(key, val); err != nil {
			return ModelVersion{}, err
		}
	}
	mv, err := loadModelVersion(txn, name, v)
	if err != nil {
		return ModelVersion{}, err
	}
	aliases, err := modelAliases(txn, name)
	if err != nil {
		return ModelVersion{}, err
	}
	mv.Aliases = aliases[mv.Version]
	return mv, nil
}

// loadModelVersion reads the stored record of version v of name (without
// its aliases).
func loadModelVersion(txn *badger.Txn, name string, v int) (ModelVersion, error) {
	key := modelVersionKey(name, v)
	val, ok, err := regGet(txn, key)
	if err != nil {
		return ModelVersion{}, err
	}
	if !ok {
		return ModelVersion{}, fmt.Errorf("model %q version %d: %w", name, v, ErrNotFound)
	}
	return decodeModelVersion(key, val, name, v)
}

func decodeModelVersion(key, val []byte, name string, v int) (ModelVersion, error) {
	var mv ModelVersion
	if err := regDecode(key, val, &mv); err != nil {
		return ModelVersion{}, err
	}
	if mv.Name != name || mv.Version != v || mv.Artifact.IsZero() {
		return ModelVersion{}, regCorrupt(key, errors.New("record does not match its key"))
	}
	mv.Aliases = nil
	return mv, nil
}

// modelAliases returns the aliases of the model name by version, each list
// sorted.
func modelAliases(txn *badger.Txn, name string) (map[int][]string, error) {
	prefix := aliasKey(name, "")
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false})
	defer it.Close()
	var out map[int][]string
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		key := item.KeyCopy(nil)
		val, err := item.ValueCopy(nil)
		if err != nil {
			return nil, err
		}
		v, err := regDecodeInt(key, val)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = make(map[int][]string)
		}
		out[v] = append(out[v], string(key[len(prefix):])) // keys come sorted
	}
	return out, nil
}

// Models returns the names of the registered models, sorted.
func (r *Repository) Models(ctx context.Context) ([]string, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	var names []string
	err := r.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(modelKeyPrefix)})
		defer it.Close()
		for it.Rewind(); it.Valid(); {
			if err := ctx.Err(); err != nil {
				return err
			}
			key := it.Item().Key()
			i := bytes.IndexByte(key, 0)
			if i < 0 {
				return regCorrupt(key, errors.New("no NUL after the model name"))
			}
			names = append(names, string(key[len(modelKeyPrefix):i]))
			// Skip this model's versions: seek past "model/<name>\x00…".
			next := append([]byte(nil), key[:i]...)
			it.Seek(append(next, 1))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("version: models: %w", err)
	}
	return names, nil
}

// ModelVersions returns every version of the model name, oldest first, or
// an error wrapping ErrNotFound if there is no such model.
func (r *Repository) ModelVersions(ctx context.Context, name string) ([]ModelVersion, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	if err := ValidName(name); err != nil {
		return nil, err
	}
	var out []ModelVersion
	err := r.db.View(func(txn *badger.Txn) error {
		head := modelHeadKey(name)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: head, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			item := it.Item()
			key := item.KeyCopy(nil)
			if len(key) == len(head) {
				continue // the latest-version counter
			}
			v, err := strconv.Atoi(string(key[len(head):]))
			if err != nil {
				return regCorrupt(key, err)
			}
			val, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			mv, err := decodeModelVersion(key, val, name, v)
			if err != nil {
				return err
			}
			out = append(out, mv)
		}
		if len(out) == 0 {
			return fmt.Errorf("model %q: %w", name, ErrNotFound)
		}
		aliases, err := modelAliases(txn, name)
		if err != nil {
			return err
		}
		for i := range out {
			out[i].Aliases = aliases[out[i].Version]
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("version: model versions of %q: %w", name, err)
	}
	return out, nil
}

// SetAlias points the alias of the model name at version (which must exist,
// ErrNotFound otherwise), creating the alias or moving it atomically from
// whatever version it pointed at. Use SwapAlias to move it only from a
// known version.
func (r *Repository) SetAlias(ctx context.Context, name, alias string, version int) error {
	return r.setAlias(ctx, name, alias, -1, version)
}

// SwapAlias moves the alias of the model name from version old to version
// new atomically, only if it points at old now: old 0 means the alias must
// not exist, new 0 deletes it. If the alias points elsewhere the call fails
// with ErrConflict and changes nothing; a new version that does not exist
// fails with ErrNotFound.
func (r *Repository) SwapAlias(ctx context.Context, name, alias string, old, new int) error {
	if old < 0 {
		return fmt.Errorf("version: swap alias %s@%s: old version %d: %w", name, alias, old, ErrNotFound)
	}
	return r.setAlias(ctx, name, alias, old, new)
}

// setAlias sets alias to version (0 deletes) if it now points at old (0:
// absent; -1: anything).
func (r *Repository) setAlias(ctx context.Context, name, alias string, old, version int) error {
	if err := r.check(); err != nil {
		return err
	}
	if err := ValidName(name); err != nil {
		return err
	}
	if err := ValidName(alias); err != nil {
		return err
	}
	if version < 0 || (version == 0 && old < 0) {
		return fmt.Errorf("version: set alias %s@%s: model version %d: %w", name, alias, version, ErrNotFound)
	}
	err := r.regUpdate(ctx, func(txn *badger.Txn) error {
		key := aliasKey(name, alias)
		val, ok, err := regGet(txn, key)
		if err != nil {
			return err
		}
		cur := 0
		if ok {
			if cur, err = regDecodeInt(key, val); err != nil {
				return err
			}
		}
		if old >= 0 && cur != old {
			if cur == 0 {
				return fmt.Errorf("alias does not exist, expected version %d: %w", old, ErrConflict)
			}
			return fmt.Errorf("alias points at version %d, expected %d: %w", cur, old, ErrConflict)
		}
		if version == 0 {
			return txn.Delete(key)
		}
		if _, ok, err := regGet(txn, modelVersionKey(name, version)); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("model %q version %d: %w", name, version, ErrNotFound)
		}
		return txn.Set(key, strconv.AppendInt(nil, int64(version), 10))
	})
	if err != nil {
		return fmt.Errorf("version: set alias %s@%s: %w", name, alias, err)
	}
	return nil
}

// OpenModel returns a reader of the artifact of the model version named by
// spec (as in ResolveModel), verified against its digest as it is read. The
// caller must close it.
func (r *Repository) OpenModel(ctx context.Context, spec string) (io.ReadCloser, error) {
	mv, err := r.ResolveModel(ctx, spec)
	if err != nil {
		return nil, err
	}
	rc, err := r.st.Get(ctx, mv.Artifact)
	if err != nil {
		return nil, fmt.Errorf("version: open model %s/%d: %w", mv.Name, mv.Version, err)
	}
	return rc, nil
}

// registryRoots returns the digests the registry and the runs keep alive:
// every model version's artifact and every run artifact. GC keeps them and
// everything they reach.
func (r *Repository) registryRoots(ctx context.Context) ([]store.Digest, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	seen := make(map[store.Digest]struct{})
	err := r.db.View(func(txn *badger.Txn) error {
		if err := modelArtifacts(ctx, txn, seen); err != nil {
			return err
		}
		return runArtifacts(ctx, txn, seen)
	})
	if err != nil {
		return nil, fmt.Errorf("version: registry roots: %w", err)
	}
	roots := slices.SortedFunc(maps.Keys(seen), func(a, b store.Digest) int { return bytes.Compare(a[:], b[:]) })
	return roots, nil
}

// modelArtifacts adds the artifact of every model version to seen.
func modelArtifacts(ctx context.Context, txn *badger.Txn, seen map[store.Digest]struct{}) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(modelKeyPrefix), PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		item := it.Item()
		key := item.Key()
		i := bytes.IndexByte(key, 0)
		if i < 0 {
			return regCorrupt(key, errors.New("no NUL after the model name"))
		}
		if i == len(key)-1 {
			continue // latest-version counter
		}
		var mv struct {
			Artifact store.Digest `json:"artifact"`
		}
		err := item.Value(func(val []byte) error { return regDecode(key, val, &mv) })
		if err != nil {
			return err
		}
		if mv.Artifact.IsZero() {
			return regCorrupt(key, errors.New("no artifact"))
		}
		seen[mv.Artifact] = struct{}{}
	}
	return nil
}
