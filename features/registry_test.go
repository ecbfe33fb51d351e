package features_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/google/go-cmp/cmp"

	"github.com/kilnml/kiln/features"
	"github.com/kilnml/kiln/features/online"
	"github.com/kilnml/kiln/pipeline"
	"github.com/kilnml/kiln/version"
)

// driverCSV is a small feature table: driver_id (int64), event_timestamp
// (timestamp), created (timestamp), conv_rate (float64), trips (int64),
// city (string).
const driverCSV = `driver_id,event_timestamp,created,conv_rate,trips,city
1001,2026-01-01T10:00:00Z,2026-01-01T10:05:00Z,0.5,10,Paris
1002,2026-01-01T10:00:00Z,2026-01-01T10:05:00Z,0.25,3,Lyon
1001,2026-01-01T11:00:00Z,2026-01-01T11:05:00Z,0.75,12,Paris
`

// writeParquet converts csv to a Parquet file in dir and returns its path.
func writeParquet(t testing.TB, dir, name, csv string) string {
	t.Helper()
	in := filepath.Join(dir, name+".csv")
	if err := os.WriteFile(in, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name+".parquet")
	p := pipeline.New(pipeline.CSV(in, pipeline.CSVOptions{}))
	if _, err := p.Run(context.Background(), pipeline.ToParquet(out, pipeline.ParquetWriteOptions{}), pipeline.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	return out
}

func openRepo(t testing.TB, dir string) *version.Repository {
	t.Helper()
	repo, err := version.Open(context.Background(), dir, version.Options{Author: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

func driverEntity() features.Entity {
	return features.Entity{Name: "driver", JoinKeys: []features.Field{{Name: "driver_id", Type: features.TypeInt64}}, Description: "a driver"}
}

func driverView(path string) features.FeatureView {
	return features.FeatureView{
		Name:     "driver_stats",
		Entities: []string{"driver"},
		Features: []features.Field{{Name: "conv_rate", Type: features.TypeFloat64}, {Name: "trips", Type: features.TypeInt64}},
		TTL:      24 * time.Hour,
		Source:   features.BatchSource{Path: path, Timestamp: "event_timestamp", Created: "created"},
		Online:   true,
		Owner:    "ml@example.com",
		Tags:     map[string]string{"team": "pricing"},
	}
}

func TestRegistryApplyVersionsReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := writeParquet(t, dir, "drivers", driverCSV)
	repoDir := filepath.Join(dir, "repo")
	repo := openRepo(t, repoDir)

	reg, err := features.OpenRegistry(ctx, repo, "fs")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := reg.Version(ctx); err != nil || v != 0 {
		t.Fatalf("Version of a new registry = %d, %v; want 0", v, err)
	}
	if _, err := reg.View(ctx, "driver_stats"); !errors.Is(err, features.ErrNotFound) {
		t.Fatalf("View in empty registry: %v, want ErrNotFound", err)
	}
	v1 := driverView(path)
	svc := features.FeatureService{Name: "pricing_model", Features: []string{"driver_stats:conv_rate"}}
	n, err := reg.Apply(ctx, driverEntity(), &v1, svc)
	if err != nil || n != 1 {
		t.Fatalf("Apply = %d, %v; want 1", n, err)
	}
	v2 := driverView(path)
	v2.Features = append(v2.Features, features.Field{Name: "city", Type: features.TypeString})
	v2.TTL = 90 * time.Minute
	if n, err = reg.Apply(ctx, v2); err != nil || n != 2 {
		t.Fatalf("second Apply = %d, %v; want 2", n, err)
	}
	svc2 := features.FeatureService{Name: "pricing_model", Features: []string{"driver_stats"}}
	if n, err = reg.Apply(ctx, svc2); err != nil || n != 3 {
		t.Fatalf("third Apply = %d, %v; want 3", n, err)
	}

	check := func(reg *features.Registry) {
		t.Helper()
		for _, tc := range []struct {
			ref  string
			want features.FeatureView
		}{{"driver_stats@1", v1}, {"driver_stats@2", v2}, {"driver_stats@3", v2}, {"driver_stats", v2}} {
			got, err := reg.View(ctx, tc.ref)
			if err != nil {
				t.Fatalf("View(%q): %v", tc.ref, err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("View(%q) (-want +got):\n%s", tc.ref, d)
			}
		}
		for _, tc := range []struct {
			ref  string
			want features.FeatureService
		}{{"pricing_model@1", svc}, {"pricing_model@2", svc}, {"pricing_model", svc2}} {
			got, err := reg.Service(ctx, tc.ref)
			if err != nil {
				t.Fatalf("Service(%q): %v", tc.ref, err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Service(%q) (-want +got):\n%s", tc.ref, d)
			}
		}
		e, err := reg.Entity(ctx, "driver@2")
		if err != nil || !cmp.Equal(e, driverEntity()) {
			t.Errorf("Entity(driver@2) = %+v, %v", e, err)
		}
		if v, err := reg.Version(ctx); err != nil || v != 3 {
			t.Errorf("Version = %d, %v; want 3", v, err)
		}
		defs, err := reg.Definitions(ctx, 1)
		if err != nil || defs.Version != 1 || len(defs.Views) != 1 || len(defs.Entities) != 1 || len(defs.Services) != 1 {
			t.Errorf("Definitions(1) = %+v, %v", defs, err)
		}
		hist, err := reg.History(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var nums []int
		for _, h := range hist {
			nums = append(nums, h.Version)
		}
		if !slices.Equal(nums, []int{3, 2, 1}) {
			t.Errorf("History versions = %v, want [3 2 1]", nums)
		}
		if !strings.Contains(hist[2].Message, "entity driver") || !strings.Contains(hist[2].Message, "feature view driver_stats") || hist[2].Author != "test" {
			t.Errorf("History[2] = %+v", hist[2])
		}
		for _, ref := range []string{"driver_stats@4", "nope", "nope@1"} {
			if _, err := reg.View(ctx, ref); !errors.Is(err, features.ErrNotFound) {
				t.Errorf("View(%q): %v, want ErrNotFound", ref, err)
			}
		}
		for _, ref := range []string{"driver_stats@0", "driver_stats@x", "driver_stats@-1", "driver_stats@+1"} {
			if _, err := reg.View(ctx, ref); !errors.Is(err, version.ErrBadName) {
				t.Errorf("View(%q): %v, want ErrBadName", ref, err)
			}
		}
	}
	check(reg)
	if err := repo.Close(); err != nil {
		t.Fatal(err)
	}
	repo = openRepo(t, repoDir)
	defer repo.Close()
	reg, err = features.OpenRegistry(ctx, repo, "fs")
	if err != nil {
		t.Fatal(err)
	}
	check(reg)

	// Values returned are copies: changing them changes nothing stored.
	got, _ := reg.View(ctx, "driver_stats")
	got.Features[0].Name = "changed"
	got.Tags["team"] = "changed"
	again, _ := reg.View(ctx, "driver_stats")
	if d := cmp.Diff(v2, again); d != "" {
		t.Errorf("registry changed through a returned view:\n%s", d)
	}
}

func TestRegistryValidation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := writeParquet(t, dir, "drivers", driverCSV)
	repo := openRepo(t, filepath.Join(dir, "repo"))
	defer repo.Close()
	reg, err := features.OpenRegistry(ctx, repo, "fs")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Apply(ctx, driverEntity(), features.Entity{Name: "city", JoinKeys: []features.Field{{Name: "city", Type: features.TypeString}}}); err != nil {
		t.Fatal(err)
	}
	view := func(f func(*features.FeatureView)) features.FeatureView {
		v := driverView(path)
		f(&v)
		return v
	}
	for _, tc := range []struct {
		name string
		objs []any
		is   []error // besides ErrDefinition
		msg  string
	}{
		{"bad entity name", []any{features.Entity{Name: "bad name", JoinKeys: []features.Field{{Name: "k", Type: features.TypeString}}}}, []error{version.ErrBadName}, `entity "bad name": bad name`},
		{"slash in name", []any{features.Entity{Name: "a/b", JoinKeys: []features.Field{{Name: "k", Type: features.TypeString}}}}, []error{version.ErrBadName}, "'/'"},
		{"no join keys", []any{features.Entity{Name: "e"}}, nil, "no join keys"},
		{"float join key", []any{features.Entity{Name: "e", JoinKeys: []features.Field{{Name: "k", Type: features.TypeFloat64}}}}, []error{features.ErrType}, "cannot be a join key"},
		{"unknown type", []any{view(func(v *features.FeatureView) { v.Features[0].Type = "int32" })}, []error{features.ErrType}, `unknown type "int32"`},
		{"duplicate feature", []any{view(func(v *features.FeatureView) { v.Features[1].Name = "conv_rate" })}, nil, `feature "conv_rate" appears twice`},
		{"bad feature name", []any{view(func(v *features.FeatureView) { v.Features[1].Name = "a b" })}, []error{version.ErrBadName}, `feature "a b": bad name`},
		{"unknown entity", []any{view(func(v *features.FeatureView) { v.Entities = []string{"rider"} })}, []error{features.ErrNotFound}, `entity "rider" is not defined`},
		{"no entities", []any{view(func(v *features.FeatureView) { v.Entities = nil })}, nil, "no entities"},
		{"no features", []any{view(func(v *features.FeatureView) { v.Features = nil })}, nil, "no features"},
		{"feature not in source", []any{view(func(v *features.FeatureView) { v.Features[0].Name = "rating" })}, []error{features.ErrMissingColumn}, `feature "rating" is not a column of the source`},
		{"feature type mismatch", []any{view(func(v *features.FeatureView) { v.Features[1].Type = features.TypeString })}, []error{features.ErrType}, `feature "trips" is int64 in the source, want string`},
		{"int is not float", []any{view(func(v *features.FeatureView) { v.Features[1].Type = features.TypeFloat64 })}, []error{features.ErrType}, `want float64`},
		{"join key missing", []any{view(func(v *features.FeatureView) { v.Entities = []string{"driver", "city"}; v.Features = v.Features[:1] }), features.Entity{Name: "city", JoinKeys: []features.Field{{Name: "city_id", Type: features.TypeString}}}}, []error{features.ErrMissingColumn}, `join key "city_id"`},
		{"join key type", []any{features.Entity{Name: "driver", JoinKeys: []features.Field{{Name: "driver_id", Type: features.TypeString}}}, driverView(path)}, []error{features.ErrType}, `join key "driver_id" is int64 in the source, want string`},
		{"timestamp missing", []any{view(func(v *features.FeatureView) { v.Source.Timestamp = "ts" })}, []error{features.ErrMissingColumn}, `timestamp column "ts"`},
		{"timestamp wrong type", []any{view(func(v *features.FeatureView) { v.Source.Timestamp = "city" })}, []error{features.ErrType}, `timestamp column "city" is utf8 in the source`},
		{"no timestamp", []any{view(func(v *features.FeatureView) { v.Source.Timestamp = "" })}, nil, "no timestamp column"},
		{"created is timestamp", []any{view(func(v *features.FeatureView) { v.Source.Created = "event_timestamp" })}, nil, "is its timestamp column"},
		{"feature is time column", []any{view(func(v *features.FeatureView) {
			v.Features[0] = features.Field{Name: "created", Type: features.TypeTimestamp}
		})}, nil, `feature "created" is the source's time column`},
		{"feature is join key", []any{view(func(v *features.FeatureView) {
			v.Features[0] = features.Field{Name: "driver_id", Type: features.TypeInt64}
		})}, nil, `is a join key`},
		{"path and dataset", []any{view(func(v *features.FeatureView) { v.Source.Dataset = "x" })}, nil, "both a path and a dataset"},
		{"no source", []any{view(func(v *features.FeatureView) { v.Source.Path = "" })}, nil, "neither a path nor a dataset"},
		{"missing file", []any{view(func(v *features.FeatureView) { v.Source.Path = filepath.Join(dir, "nope.parquet") })}, []error{os.ErrNotExist}, "source"},
		{"missing dataset", []any{view(func(v *features.FeatureView) {
			v.Source = features.BatchSource{Dataset: "nope", Timestamp: "event_timestamp"}
		})}, []error{version.ErrNotFound}, "source"},
		{"negative ttl", []any{view(func(v *features.FeatureView) { v.TTL = -time.Second })}, nil, "negative TTL"},
		{"service unknown view", []any{features.FeatureService{Name: "s", Features: []string{"rider_stats:x"}}}, []error{features.ErrNotFound}, `no view or on-demand feature "rider_stats"`},
		{"service unknown feature", []any{driverView(path), features.FeatureService{Name: "s", Features: []string{"driver_stats:rating"}}}, []error{features.ErrNotFound}, `has no feature "rating"`},
		{"service empty", []any{features.FeatureService{Name: "s"}}, nil, "no features"},
		{"twice in one apply", []any{driverEntity(), driverEntity()}, nil, "given twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := reg.Apply(ctx, tc.objs...)
			t.Log(err)
			if err == nil {
				t.Fatal("Apply succeeded")
			}
			if !errors.Is(err, features.ErrDefinition) {
				t.Errorf("error %v does not wrap ErrDefinition", err)
			}
			var de *features.DefinitionError
			if !errors.As(err, &de) {
				t.Errorf("error %v is not a *DefinitionError", err)
			}
			for _, want := range tc.is {
				if !errors.Is(err, want) {
					t.Errorf("error %v does not wrap %v", err, want)
				}
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
		})
	}
	// Several problems are all reported.
	bad := view(func(v *features.FeatureView) { v.Features[0].Name = "rating"; v.Features[1].Type = features.TypeBool })
	_, err = reg.Apply(ctx, bad)
	if err == nil || !strings.Contains(err.Error(), "rating") || !strings.Contains(err.Error(), "want bool") {
		t.Errorf("two problems: %v", err)
	}
	if _, err := reg.Apply(ctx); !errors.Is(err, features.ErrDefinition) {
		t.Errorf("empty Apply: %v", err)
	}
	if _, err := reg.Apply(ctx, 42); !errors.Is(err, features.ErrDefinition) {
		t.Errorf("Apply(42): %v", err)
	}
	if v, _ := reg.Version(ctx); v != 1 {
		t.Errorf("refused applies moved the registry to version %d", v)
	}
	// A dataset that is not a registry.
	if _, err := repo.CommitTable(ctx, "plain", pipeline.Parquet(path, pipeline.ParquetOptions{}), version.TableOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := features.OpenRegistry(ctx, repo, "plain"); !errors.Is(err, version.ErrCorrupt) {
		t.Errorf("OpenRegistry of a plain dataset: %v, want ErrCorrupt", err)
	}
	if _, err := features.OpenRegistry(ctx, repo, "bad name"); !errors.Is(err, version.ErrBadName) {
		t.Errorf("OpenRegistry(bad name): %v", err)
	}
}

// Changing an entity's join keys checks the views that use it again.
func TestRegistryEntityChangeRechecksViews(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := writeParquet(t, dir, "drivers", driverCSV)
	repo := openRepo(t, filepath.Join(dir, "repo"))
	defer repo.Close()
	reg, err := features.OpenRegistry(ctx, repo, "fs")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Apply(ctx, driverEntity(), driverView(path)); err != nil {
		t.Fatal(err)
	}
	e := driverEntity()
	e.JoinKeys[0].Name = "driver"
	if _, err := reg.Apply(ctx, e); !errors.Is(err, features.ErrMissingColumn) || !strings.Contains(err.Error(), `feature view "driver_stats"`) {
		t.Errorf("changing the join key: %v", err)
	}
	e = driverEntity()
	e.Description = "only the description changes"
	if n, err := reg.Apply(ctx, e); err != nil || n != 2 {
		t.Errorf("changing the description: %d, %v", n, err)
	}
}

func TestRegistryDatasetSource(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := writeParquet(t, dir, "drivers", driverCSV)
	repo := openRepo(t, filepath.Join(dir, "repo"))
	defer repo.Close()
	c1, err := repo.CommitTable(ctx, "driver_data", pipeline.Parquet(path, pipeline.ParquetOptions{}), version.TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := features.OpenRegistry(ctx, repo, "fs")
	if err != nil {
		t.Fatal(err)
	}
	v := driverView("")
	v.Source = features.BatchSource{Dataset: "driver_data", Timestamp: "event_timestamp"}
	if _, err := reg.Apply(ctx, driverEntity(), v); err != nil {
		t.Fatal(err)
	}
	got, err := reg.View(ctx, "driver_stats")
	if err != nil {
		t.Fatal(err)
	}
	if got.Source.Commit != c1.ID || got.Source.Dataset != "driver_data" {
		t.Fatalf("source = %+v, want commit %s", got.Source, c1.ID)
	}
	// A newer commit of the dataset: the view reads it, its pinned source
	// reads the rows it was applied with.
	more := writeParquet(t, dir, "more", driverCSV+"1003,2026-01-02T10:00:00Z,2026-01-02T10:00:00Z,0.1,1,Nice\n")
	if _, err := repo.CommitTable(ctx, "driver_data", pipeline.Parquet(more, pipeline.ParquetOptions{}), version.TableOptions{}); err != nil {
		t.Fatal(err)
	}
	count := func(s features.BatchSource) int64 {
		src, err := reg.OpenSource(ctx, s, pipeline.ParquetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for b, err := range src.Batches(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			n += b.NumRows()
			b.Release()
		}
		return n
	}
	if n := count(got.Source); n != 4 {
		t.Errorf("latest source rows = %d, want 4", n)
	}
	if n := count(got.Source.Pinned()); n != 3 {
		t.Errorf("pinned source rows = %d, want 3", n)
	}
	// Glob and folder sources.
	glob := driverView(filepath.Join(dir, "*.parquet"))
	glob.Name = "driver_glob"
	folder := driverView(dir)
	folder.Name = "driver_dir"
	// The folder holds CSV files too, which pipeline.Dir reads with the
	// Parquet files and whose schema differs: keep only Parquet in one.
	pq := filepath.Join(dir, "pq")
	if err := os.Mkdir(pq, 0o755); err != nil {
		t.Fatal(err)
	}
	writeParquet(t, pq, "a", driverCSV)
	os.Remove(filepath.Join(pq, "a.csv"))
	folder.Source.Path = pq
	if _, err := reg.Apply(ctx, glob, folder); err != nil {
		t.Fatal(err)
	}
}

// Apply from many goroutines, through one Registry and through several on
// one repository: every Apply gets its own version and none is lost.
func TestRegistryConcurrentApply(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := writeParquet(t, dir, "drivers", driverCSV)
	repo := openRepo(t, filepath.Join(dir, "repo"))
	defer repo.Close()
	regs := make([]*features.Registry, 3)
	for i := range regs {
		r, err := features.OpenRegistry(ctx, repo, "fs")
		if err != nil {
			t.Fatal(err)
		}
		regs[i] = r
	}
	const n = 12
	versions := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			v := driverView(path)
			v.Name = fmt.Sprintf("view_%02d", i)
			var err error
			versions[i], err = regs[i%len(regs)].Apply(ctx, driverEntity(), v)
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	slices.Sort(versions)
	for i, v := range versions {
		if v != i+1 {
			t.Fatalf("versions = %v, want 1…%d", versions, n)
		}
	}
	for _, r := range regs {
		views, err := r.Views(ctx)
		if err != nil || len(views) != n {
			t.Fatalf("Views = %d views, %v; want %d", len(views), err, n)
		}
		hist, err := r.History(ctx)
		if err != nil || len(hist) != n || hist[0].Version != n {
			t.Fatalf("History = %d entries, %v", len(hist), err)
		}
	}
	// Each version holds the views applied up to it.
	for k := 1; k <= n; k++ {
		d, err := regs[0].Definitions(ctx, k)
		if err != nil || len(d.Views) != k {
			t.Errorf("Definitions(%d) has %d views, %v", k, len(d.Views), err)
		}
	}
	refs, err := repo.Refs(ctx, "fs")
	if err != nil || len(refs) != 1 || refs[0].Name != "main" {
		t.Errorf("refs of the registry dataset = %v, %v; want only main", refs, err)
	}
}

func TestRegistryOnDemand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := writeParquet(t, dir, "drivers", driverCSV)
	repo := openRepo(t, filepath.Join(dir, "repo"))
	defer repo.Close()
	reg, err := features.OpenRegistry(ctx, repo, "fs")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Apply(ctx, driverEntity(), driverView(path)); err != nil {
		t.Fatal(err)
	}
	od := features.OnDemandFeature{
		Name:    "adjusted",
		Request: []features.Field{{Name: "bonus", Type: features.TypeFloat64}},
		Inputs:  []string{"driver_stats:conv_rate", "bonus"},
		Outputs: []features.Field{{Name: "rate", Type: features.TypeFloat64}, {Name: "label", Type: features.TypeString}},
		Fn: func(in, out []online.Value) error {
			r, ok1 := in[0].AsFloat()
			b, ok2 := in[1].AsFloat()
			if !ok1 || !ok2 {
				return nil // nulls
			}
			if b < 0 {
				return errors.New("negative bonus")
			}
			if b > 100 {
				out[1] = online.Int(1) // wrong type
				return nil
			}
			if b == 13 {
				panic("unlucky")
			}
			out[0] = online.Float(r + b)
			out[1] = online.String("ok")
			return nil
		},
	}
	if err := reg.RegisterOnDemand(ctx, od); err != nil {
		t.Fatal(err)
	}
	got, ok := reg.OnDemand("adjusted")
	if !ok {
		t.Fatal("not registered")
	}
	out := make([]online.Value, 2)
	if err := got.Eval([]online.Value{online.Float(0.5), online.Float(1)}, out); err != nil {
		t.Fatal(err)
	}
	if !out[0].Equal(online.Float(1.5)) || !out[1].Equal(online.String("ok")) {
		t.Errorf("Eval = %v", out)
	}
	if err := got.Eval([]online.Value{online.Null(), online.Float(1)}, out); err != nil || !out[0].IsNull() || !out[1].IsNull() {
		t.Errorf("Eval of a null = %v, %v", out, err)
	}
	for _, tc := range []struct {
		bonus float64
		is    error
		msg   string
	}{{-1, nil, "negative bonus"}, {101, features.ErrType, `output "label" is int64, want string`}, {13, nil, "panicked: unlucky"}} {
		err := got.Eval([]online.Value{online.Float(0.5), online.Float(tc.bonus)}, out)
		if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Eval(bonus %v) = %v, want %q", tc.bonus, err, tc.msg)
		}
		if !out[0].IsNull() || !out[1].IsNull() {
			t.Errorf("Eval(bonus %v) left outputs %v", tc.bonus, out)
		}
	}
	if err := got.Eval([]online.Value{online.Float(0.5)}, out); !errors.Is(err, features.ErrSpec) {
		t.Errorf("Eval with one input: %v", err)
	}

	// A service may name its outputs.
	if _, err := reg.Apply(ctx, features.FeatureService{Name: "s", Features: []string{"driver_stats:trips", "adjusted:rate", "adjusted"}}); err != nil {
		t.Fatal(err)
	}
	res, err := reg.ResolveService(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Views) != 1 || len(res.OnDemand) != 1 || res.Version != 2 {
		t.Fatalf("ResolveService(s) = %+v", res)
	}
	f := func(name string, typ features.ValueType) features.Field { return features.Field{Name: name, Type: typ} }
	if d := cmp.Diff([]features.Field{f("trips", features.TypeInt64)}, res.Views[0].Features); d != "" {
		t.Errorf("features asked for (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]features.Field{f("driver_id", features.TypeInt64)}, res.Views[0].JoinKeys); d != "" {
		t.Errorf("join keys (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]features.Field{f("conv_rate", features.TypeFloat64)}, res.Views[0].Inputs); d != "" {
		t.Errorf("inputs (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]features.Field{f("rate", features.TypeFloat64), f("label", features.TypeString)}, res.OnDemand[0].Outputs); d != "" {
		t.Errorf("outputs (-want +got):\n%s", d)
	}
	res, err = reg.Resolve(ctx, 1, "driver_stats:trips", "driver_stats", "adjusted:rate")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]features.Field{f("trips", features.TypeInt64), f("conv_rate", features.TypeFloat64)}, res.Views[0].Features); d != "" || len(res.Views[0].Inputs) != 0 || res.Version != 1 {
		t.Errorf("Resolve(1, ...) = %+v (-want +got):\n%s", res, d)
	}
	for _, refs := range [][]string{{"driver_stats:nope"}, {"nope"}, {"adjusted:nope"}} {
		if _, err := reg.Resolve(ctx, 0, refs...); !errors.Is(err, features.ErrNotFound) {
			t.Errorf("Resolve(%q): %v, want ErrNotFound", refs, err)
		}
	}
	if _, err := reg.ResolveService(ctx, "s@1"); !errors.Is(err, features.ErrNotFound) {
		t.Errorf("ResolveService(s@1): %v, want ErrNotFound", err)
	}
	if _, err := reg.Apply(ctx, features.FeatureService{Name: "s2", Features: []string{"adjusted:nope"}}); !errors.Is(err, features.ErrNotFound) {
		t.Errorf("unknown on-demand output: %v", err)
	}
	// A view may not drop a feature a registered on-demand feature reads.
	v := driverView(path)
	v.Features = v.Features[1:]
	if _, err := reg.Apply(ctx, v); !errors.Is(err, features.ErrDefinition) || !strings.Contains(err.Error(), `input "driver_stats:conv_rate"`) {
		t.Errorf("dropping an input of an on-demand feature: %v", err)
	}

	for _, tc := range []struct {
		name string
		f    func(*features.OnDemandFeature)
		msg  string
	}{
		{"no fn", func(o *features.OnDemandFeature) { o.Fn = nil }, "no function"},
		{"no outputs", func(o *features.OnDemandFeature) { o.Outputs = nil }, "no outputs"},
		{"view name", func(o *features.OnDemandFeature) { o.Name = "driver_stats" }, "a feature view has that name"},
		{"unknown input", func(o *features.OnDemandFeature) { o.Inputs = []string{"speed"} }, `input "speed" is neither`},
		{"unknown view", func(o *features.OnDemandFeature) { o.Inputs = []string{"x:y"} }, `no feature view "x"`},
		{"unknown feature", func(o *features.OnDemandFeature) { o.Inputs = []string{"driver_stats:y"} }, `has no feature "y"`},
		{"bad output type", func(o *features.OnDemandFeature) { o.Outputs = []features.Field{{Name: "x", Type: "float"}} }, "unknown type"},
	} {
		o := od
		o.Name = "other"
		tc.f(&o)
		if err := reg.RegisterOnDemand(ctx, o); !errors.Is(err, features.ErrDefinition) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.msg)
		}
		if _, ok := reg.OnDemand(o.Name); ok && o.Name == "other" {
			t.Errorf("%s: registered anyway", tc.name)
		}
	}
}

func TestValueTypeAccepts(t *testing.T) {
	for _, tc := range []struct {
		t    features.ValueType
		dt   arrow.DataType
		want bool
	}{
		{features.TypeInt64, arrow.PrimitiveTypes.Int32, true},
		{features.TypeInt64, arrow.PrimitiveTypes.Uint32, true},
		{features.TypeInt64, arrow.PrimitiveTypes.Uint64, false},
		{features.TypeInt64, arrow.PrimitiveTypes.Float64, false},
		{features.TypeFloat64, arrow.PrimitiveTypes.Float32, true},
		{features.TypeFloat64, arrow.PrimitiveTypes.Int64, false},
		{features.TypeString, &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, true},
		{features.TypeString, arrow.BinaryTypes.LargeString, true},
		{features.TypeBytes, arrow.BinaryTypes.Binary, true},
		{features.TypeBytes, arrow.BinaryTypes.String, false},
		{features.TypeTimestamp, arrow.FixedWidthTypes.Date32, true},
		{features.TypeTimestamp, arrow.FixedWidthTypes.Timestamp_us, true},
		{features.TypeTimestamp, arrow.PrimitiveTypes.Int64, false},
		{features.TypeBool, arrow.FixedWidthTypes.Boolean, true},
		{"int32", arrow.PrimitiveTypes.Int32, false},
	} {
		if got := tc.t.Accepts(tc.dt); got != tc.want {
			t.Errorf("%s.Accepts(%s) = %v, want %v", tc.t, tc.dt, got, tc.want)
		}
	}
}
