package version

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/kilnml/kiln/store"
)

// Lineage is where a model version came from.
type Lineage struct {
	Model ModelVersion
	// Datasets are the commits of Model.Datasets, in that order.
	Datasets []Commit
	// Run is the run that trained the model (ModelMeta.Run), nil if none.
	Run *RunInfo
}

// ModelLineage returns the model version named by spec (as in
// ResolveModel) with the dataset commits it was trained on and the run it
// came from.
func (r *Repository) ModelLineage(ctx context.Context, spec string) (Lineage, error) {
	mv, err := r.ResolveModel(ctx, spec)
	if err != nil {
		return Lineage{}, err
	}
	l := Lineage{Model: mv}
	for _, ref := range mv.Datasets {
		c, err := r.ReadCommit(ctx, ref.Commit)
		if err != nil {
			return Lineage{}, fmt.Errorf("version: lineage of %s/%d: dataset %s: %w", mv.Name, mv.Version, ref.Dataset, err)
		}
		l.Datasets = append(l.Datasets, c)
	}
	if mv.Meta.Run != "" {
		info, err := r.RunInfo(ctx, mv.Meta.Run)
		if err != nil {
			return Lineage{}, fmt.Errorf("version: lineage of %s/%d: %w", mv.Name, mv.Version, err)
		}
		l.Run = &info
	}
	return l, nil
}

// ModelsTrainedOn returns the model versions trained on the dataset commit
// that spec resolves to (as in Resolve: "flights@v3", "flights@main~2"),
// or, for a dataset name alone ("flights", with no "@" or "~"), on any
// commit of that dataset; sorted by model name and version. A model counts
// as trained on a commit when the commit is in its ModelVersion.Datasets.
// An unknown dataset or ref fails with ErrNotFound (a dataset without refs
// counts as unknown unless models were trained on it).
func (r *Repository) ModelsTrainedOn(ctx context.Context, spec string) ([]ModelVersion, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	fail := func(err error) ([]ModelVersion, error) {
		return nil, fmt.Errorf("version: models trained on %q: %w", spec, err)
	}
	var prefix []byte
	if strings.ContainsAny(spec, "@~") {
		c, err := r.Resolve(ctx, spec)
		if err != nil {
			return fail(err)
		}
		prefix = append([]byte(lineageKeyPrefix+c.Dataset+"\x00"), c.ID[:]...)
	} else {
		if err := ValidName(spec); err != nil {
			return nil, err
		}
		prefix = []byte(lineageKeyPrefix + spec + "\x00")
	}
	var out []ModelVersion
	err := r.db.View(func(txn *badger.Txn) error {
		var found []lineageModel
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			key := it.Item().Key()
			nv, err := parseLineageKey(key)
			if err != nil {
				return err
			}
			found = append(found, nv)
		}
		slices.SortFunc(found, func(a, b lineageModel) int {
			return cmp.Or(strings.Compare(a.name, b.name), cmp.Compare(a.v, b.v))
		})
		found = slices.Compact(found)
		var aliases map[int][]string
		for i, nv := range found {
			mv, err := loadModelVersion(txn, nv.name, nv.v)
			if err != nil {
				return err
			}
			if i == 0 || found[i-1].name != nv.name {
				if aliases, err = modelAliases(txn, nv.name); err != nil {
					return err
				}
			}
			mv.Aliases = aliases[nv.v]
			out = append(out, mv)
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	if len(out) == 0 && !strings.ContainsAny(spec, "@~") {
		// No model: tell an unknown dataset from an unused one.
		names, err := r.Datasets(ctx)
		if err != nil {
			return fail(err)
		}
		if !slices.Contains(names, spec) {
			return fail(fmt.Errorf("dataset %q: %w", spec, ErrNotFound))
		}
	}
	return out, nil
}

// lineageModel names a model version in a lineage key.
type lineageModel struct {
	name string
	v    int
}

// parseLineageKey returns the model version of a lineage key.
func parseLineageKey(key []byte) (lineageModel, error) {
	var nv lineageModel
	rest := key[len(lineageKeyPrefix):]
	i := bytes.IndexByte(rest, 0)
	if i < 0 || len(rest) < i+1+store.DigestSize+1+1+10 {
		return nv, regCorrupt(key, errors.New("bad lineage key"))
	}
	rest = rest[i+1+store.DigestSize:]
	j := bytes.IndexByte(rest, 0)
	if j < 1 || len(rest)-j-1 != 10 {
		return nv, regCorrupt(key, errors.New("bad lineage key"))
	}
	v, err := strconv.Atoi(string(rest[j+1:]))
	if err != nil || v < 1 {
		return nv, regCorrupt(key, errors.New("bad version in lineage key"))
	}
	nv.name, nv.v = string(rest[:j]), v
	return nv, nil
}
