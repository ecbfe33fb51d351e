// Package story tells Kiln's end-to-end story on US flights data: data →
// features → model → serving → monitoring, versioned end to end. It is the
// code behind examples/quickstart (on the 20,000-row testdata slice) and
// examples/flights (on three million flights), and its serving half (LoadModel,
// Model.Predict, Materialize) is what examples/service runs. Read Run from top
// to bottom: each step is a few calls to the library.
//
// The task: predict whether a flight leaves more than 15 minutes late from
// what was known before it left — how busy and how late its origin and its
// destination airports have been in the previous three hours — plus its
// distance and hour of day.
package story

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/kilnml/kiln/features"
	"github.com/kilnml/kiln/features/online"
	badgerstore "github.com/kilnml/kiln/features/online/badger"
	"github.com/kilnml/kiln/monitor"
	"github.com/kilnml/kiln/pipeline"
	"github.com/kilnml/kiln/tensor"
	"github.com/kilnml/kiln/train"
	"github.com/kilnml/kiln/version"
)

// Names used across the story.
const (
	datasetName  = "flights"         // the dataset of validated flights in the repository
	registryName = "feature_store"   // the feature registry in the repository
	serviceName  = "flight_delay"    // the feature service the model reads
	entityName   = "airport"         // the entity the traffic features describe
	experiment   = "flight_delay"    // the experiment the training runs belong to
	alias        = "champion"        // the alias of the version a service loads
	labelColumn  = "delayed"         // delay > 15 minutes
	trafficData  = "airport_traffic" // the dataset holding the view's rows
)

// inputNames are the model's raw inputs: the traffic features of the
// origin, then of the destination, then two fields of the request.
var inputNames = []string{
	"origin_departures", "origin_mean_delay", "origin_share_delayed",
	"dest_departures", "dest_mean_delay", "dest_share_delayed",
	"distance", "hour",
}

// Config configures Run.
type Config struct {
	Data    string    // flights CSV or Parquet
	Dir     string    // output folder (repo/, online/, report.html, ...)
	Out     io.Writer // the story's lines (nil: discard)
	Timings bool      // print each step's time
	Seed    uint64

	// Epochs is the number of passes over the training set (0: 10).
	Epochs int
	// Hidden are the MLP's hidden layer sizes (nil: [32, 16]).
	Hidden []int
	// MaxTrainRows, when positive, trains on a random sample of at most
	// this many rows of the training split (the transforms are still fitted
	// on all of it).
	MaxTrainRows int
	// HoldoutFraction is the latest share of the flights, by departure time,
	// kept out of training for evaluation and monitoring (0: 0.2).
	HoldoutFraction float64
}

// Step is one step of the story and how long it took.
type Step struct {
	Name    string
	Seconds float64
}

// Result is what Run wrote and measured.
type Result struct {
	Repo, Online, Report string // paths written
	Model                version.ModelVersion
	Metrics              map[string]float64
	Steps                []Step
}

// Materialize writes the latest row of every online feature view of the
// repository's feature registry into st: what a service reads to score a
// request. Run does it into Badger; a service may do it into Redis.
func Materialize(ctx context.Context, repo *version.Repository, st online.Store) error {
	_, err := materialize(ctx, repo, st)
	return err
}

func materialize(ctx context.Context, repo *version.Repository, st online.Store) (features.MaterializeStats, error) {
	reg, err := features.OpenRegistry(ctx, repo, registryName)
	if err != nil {
		return features.MaterializeStats{}, err
	}
	fs, err := features.NewStore(reg, features.StoreOptions{Online: st})
	if err != nil {
		return features.MaterializeStats{}, err
	}
	// Every row up to now: the online store keeps the latest per airport.
	return fs.Materialize(ctx, nil, time.Unix(0, 0), time.Now())
}

// teller prints the story's lines and times its steps.
type teller struct {
	w       io.Writer
	timings bool
	steps   []Step
	start   time.Time
	name    string
}

func (t *teller) begin(name string) {
	t.name, t.start = name, time.Now()
	fmt.Fprintf(t.w, "\n%d. %s\n", len(t.steps)+1, name)
}

func (t *teller) say(format string, args ...any) {
	fmt.Fprintf(t.w, "   "+format+"\n", args...)
}

func (t *teller) end() {
	s := time.Since(t.start).Seconds()
	t.steps = append(t.steps, Step{Name: t.name, Seconds: s})
	if t.timings {
		fmt.Fprintf(t.w, "   (%.2f s)\n", s)
	}
}

// Run tells the whole story into c.Dir. Everything it opens (the repository,
// the Badger store) is closed before it returns.
func Run(ctx context.Context, c Config) (res *Result, err error) {
	if c.Data == "" || c.Dir == "" {
		return nil, errors.New("story: Config.Data and Config.Dir are required")
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Epochs <= 0 {
		c.Epochs = 10
	}
	if c.Hidden == nil {
		c.Hidden = []int{32, 16}
	}
	if c.HoldoutFraction <= 0 || c.HoldoutFraction >= 1 {
		c.HoldoutFraction = 0.2
	}
	t := &teller{w: c.Out, timings: c.Timings}
	res = &Result{
		Repo:    filepath.Join(c.Dir, "repo"),
		Online:  filepath.Join(c.Dir, "online"),
		Report:  filepath.Join(c.Dir, "report.html"),
		Metrics: map[string]float64{},
	}
	defer func() { res.Steps = t.steps }()
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, err
	}

	// 1. Ingest and validate: read the file (CSV or Parquet), check every
	// row, set the failing ones aside with their reasons, write the rest.
	t.begin("ingest and validate")
	src, err := openData(c.Data)
	if err != nil {
		return nil, err
	}
	staged := filepath.Join(c.Dir, "staging", "flights.parquet")
	rejected := filepath.Join(c.Dir, "staging", "rejected.csv")
	if err := os.MkdirAll(filepath.Dir(staged), 0o755); err != nil {
		return nil, err
	}
	p := pipeline.New(src, pipeline.Validate(pipeline.ValidateOptions{
		Expect: []pipeline.Expectation{
			pipeline.NotNull("date"),
			pipeline.NotNull("delay"),
			pipeline.NotNull("distance"),
			pipeline.Matches("origin", `^[A-Z0-9]{3}$`),
			pipeline.Matches("destination", `^[A-Z0-9]{3}$`),
			pipeline.InRange("distance", 1, 6000),
			pipeline.InRange("delay", -120, 1500),
		},
		OnFailure:  pipeline.QuarantineRow,
		Quarantine: pipeline.ToCSV(rejected, pipeline.CSVWriteOptions{}),
	}))
	stats, err := p.Run(ctx, pipeline.ToParquet(staged, pipeline.ParquetWriteOptions{}), pipeline.RunOptions{})
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	v := stats.Stages[0]
	t.say("read %d flights from %s: %d passed validation, %d set aside in %s", v.RowsIn, c.Data, v.RowsOut, v.Counts["quarantined"], rejected)
	res.Metrics["rows_ingested"] = float64(v.RowsIn)
	res.Metrics["rows_rejected"] = float64(v.Counts["quarantined"])
	t.end()

	// 2. Commit the validated flights to a version repository: a dataset
	// version everything downstream (features, runs, models) points back to.
	t.begin("commit the dataset")
	repo, err := version.Open(ctx, res.Repo, version.Options{Author: "kiln story"})
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := repo.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	flightsCommit, err := repo.CommitTable(ctx, datasetName, pipeline.Parquet(staged, pipeline.ParquetOptions{}),
		version.TableOptions{Path: "flights.parquet", CommitOptions: version.CommitOptions{Message: "validated flights from " + filepath.Base(c.Data)}})
	if err != nil {
		return nil, err
	}
	flightsSpec := datasetName + "@" + flightsCommit.ID.String()
	t.say("committed %s as %s in %s", datasetName, short(flightsCommit.ID.String()), res.Repo)
	t.end()

	// 3. Feature definitions. The airport traffic table is computed from the
	// committed flights and committed as a dataset of its own; the entity
	// "airport", the view over that dataset and the feature service the
	// model reads are applied to the repository's feature registry.
	t.begin("define airport features")
	committed, err := repo.Source(ctx, flightsSpec, version.SourceOptions{})
	if err != nil {
		return nil, err
	}
	fl, err := readFlights(ctx, committed)
	if err != nil {
		return nil, err
	}
	schema, batches, nrows := trafficRows(fl)
	mem := pipeline.FromBatches(schema, batches...)
	for _, b := range batches {
		b.Release()
	}
	trafficCommit, err := repo.CommitTable(ctx, trafficData, mem, version.TableOptions{Path: "airport_traffic.parquet",
		CommitOptions: version.CommitOptions{Message: "hourly airport traffic over the previous 3 hours", Meta: map[string]string{"flights": flightsCommit.ID.String()}}})
	mem.Release()
	if err != nil {
		return nil, err
	}
	reg, err := features.OpenRegistry(ctx, repo, registryName)
	if err != nil {
		return nil, err
	}
	airport := features.Entity{Name: entityName, JoinKeys: []features.Field{{Name: "airport", Type: features.TypeString}},
		Description: "an airport, by its three-letter code"}
	view := features.FeatureView{
		Name:     trafficView,
		Entities: []string{entityName},
		Features: []features.Field{
			{Name: "departures", Type: features.TypeInt64},
			{Name: "mean_delay", Type: features.TypeFloat64},
			{Name: "share_delayed", Type: features.TypeFloat64},
		},
		// Rows are hourly: one older than an hour describes a window that
		// has since moved on (an airport with no departures lately).
		TTL:         time.Hour,
		Source:      features.BatchSource{Dataset: trafficData + "@" + trafficCommit.ID.String(), Timestamp: "window_end"},
		Online:      true,
		Description: "departures from the airport in the 3 hours before window_end: count, mean delay, share delayed > 15 min",
	}
	service := features.FeatureService{Name: serviceName, Features: []string{trafficView}}
	regVersion, err := reg.Apply(ctx, airport, view, service)
	if err != nil {
		return nil, err
	}
	t.say("%d flights, %d airports: %d hourly traffic rows committed as %s@%s", fl.len(), len(fl.airports), nrows, trafficData, short(trafficCommit.ID.String()))
	t.say("applied entity %q, view %q (%s) and service %q: registry version %d", entityName, trafficView, strings.Join(trafficFeatures, ", "), serviceName, regVersion)
	t.end()

	// 4. Materialize the view to the online store: Badger, embedded, under
	// DIR/online. A service reads the latest traffic of each airport there.
	t.begin("materialize to the online store")
	st, err := badgerstore.Open(res.Online, badgerstore.Options{})
	if err != nil {
		return nil, err
	}
	defer func() {
		if st != nil {
			st.Close()
		}
	}()
	fs, err := features.NewStore(reg, features.StoreOptions{Online: st})
	if err != nil {
		return nil, err
	}
	ms, err := fs.Materialize(ctx, nil, time.Unix(0, 0), time.Now())
	if err != nil {
		return nil, err
	}
	t.say("wrote the latest traffic of %d airports to Badger at %s", ms.RowsWritten(), res.Online)
	t.end()

	// 5. The point-in-time training set: each flight joined with its origin's
	// and its destination's traffic as of its departure, through the
	// registry's definitions (GetHistoricalFeatures), so training reads
	// exactly the features serving reads.
	t.begin("build the point-in-time training set")
	inputs, err := trainingInputs(ctx, fs, fl)
	if err != nil {
		return nil, err
	}
	labels := make([]int32, fl.len())
	for i, d := range fl.delay {
		if d > lateMinutes {
			labels[i] = 1
		}
	}
	trainRows, testRows := splitByTime(fl.when, c.HoldoutFraction)
	found := 0
	for i := range fl.when {
		if inputs[0][i] > 0 {
			found++
		}
	}
	t.say("%d flights × %d inputs; %.1f%% found traffic at their origin in the 3 hours before", fl.len(), len(inputNames), 100*float64(found)/float64(fl.len()))
	t.say("split by departure time: %d flights to train on, the latest %d held out (from %s)",
		len(trainRows), len(testRows), time.Unix(fl.when[testRows[0]], 0).UTC().Format("2006-01-02 15:04"))
	t.end()

	// 6. Fit the transforms on the training split only: standard scaling of
	// every input. The fitted transformer travels with the model.
	t.begin("fit the transforms")
	ct, err := features.New(features.Spec{Transforms: []features.StepSpec{{Name: "standard", Columns: inputNames}}})
	if err != nil {
		return nil, err
	}
	trainRec := inputRecord(inputs, trainRows)
	trainSrc := pipeline.FromBatches(trainRec.Schema(), trainRec)
	if err := ct.Fit(ctx, trainSrc, features.FitOptions{}); err != nil {
		trainSrc.Release()
		trainRec.Release()
		return nil, err
	}
	ctJSON, err := ct.MarshalJSON()
	if err != nil {
		return nil, err
	}
	t.say("fitted %d transforms on %d rows (%d bytes of JSON)", len(ct.Outputs()), len(trainRows), len(ctJSON))
	t.end()

	// 7. Train an MLP classifier, tracked by a version run: its parameters,
	// the data it read, and its metrics after every epoch.
	t.begin("train with a tracked run")
	fitRows := trainRows
	if c.MaxTrainRows > 0 && len(fitRows) > c.MaxTrainRows {
		fitRows = sample(fitRows, c.MaxTrainRows, c.Seed)
	}
	trainDS, err := dataset(ct, inputs, labels, fitRows)
	if err != nil {
		return nil, err
	}
	testDS, err := dataset(ct, inputs, labels, testRows)
	if err != nil {
		return nil, err
	}
	run, err := repo.StartRun(ctx, version.RunOptions{
		Experiment: experiment,
		Name:       "mlp on airport traffic",
		Datasets:   []string{flightsSpec, trafficData + "@" + trafficCommit.ID.String()},
		Tags:       map[string]string{"registry_version": fmt.Sprint(regVersion)},
	})
	if err != nil {
		return nil, err
	}
	runOK := false
	defer func() {
		if !runOK {
			run.End(context.WithoutCancel(ctx), version.RunFailed)
		}
	}()
	mlp, err := train.NewMLP(trainDS, train.Classification, train.MLPOptions{Hidden: c.Hidden, Seed: c.Seed})
	if err != nil {
		return nil, err
	}
	tr, err := train.NewTrainer(train.TrainerOptions{
		Epochs: c.Epochs, BatchSize: 256, Seed: c.Seed,
		Validation: testDS, Tracker: run,
		OnEpoch: func(e train.EpochLog) error {
			t.say("epoch %d: loss %.4f, held-out accuracy %.4f, ROC AUC %.4f (%.1f s)",
				e.Epoch+1, e.Metrics["loss"], e.Metrics["val_accuracy"], e.Metrics["val_roc_auc"], e.Seconds)
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	if _, err := tr.Fit(ctx, mlp, trainDS); err != nil {
		return nil, err
	}
	eval, err := train.Evaluate(ctx, mlp, testDS, 4096)
	if err != nil {
		return nil, err
	}
	base := 0.0
	for _, r := range testRows {
		base += float64(labels[r])
	}
	base /= float64(len(testRows))
	for k, x := range eval {
		res.Metrics[k] = x
	}
	res.Metrics["delayed_share"] = base
	res.Metrics["majority_accuracy"] = math.Max(base, 1-base)
	res.Metrics["train_rows"] = float64(len(fitRows))
	res.Metrics["test_rows"] = float64(len(testRows))
	if err := run.LogMetrics(ctx, int64(c.Epochs), map[string]float64{
		"test_accuracy": eval["accuracy"], "test_roc_auc": eval["roc_auc"], "test_log_loss": eval["log_loss"],
		"test_delayed_share": base,
	}); err != nil {
		return nil, err
	}
	t.say("held-out: accuracy %.4f (always \"on time\": %.4f; %.1f%% delayed), ROC AUC %.4f, log loss %.4f",
		eval["accuracy"], math.Max(base, 1-base), 100*base, eval["roc_auc"], eval["log_loss"])
	t.say("run %s in experiment %q", run.ID(), experiment)
	t.end()

	// 8. Register the model with its lineage and alias it "champion". The
	// artifact is one bundle: the network, the fitted transforms, the
	// feature references and the reference profile of the training inputs
	// (profiled here, used in step 10 and by a service's drift monitor).
	t.begin("register the model")
	ref, err := monitor.ProfileSource(ctx, trainSrc, monitor.ProfileOptions{Columns: inputNames})
	trainSrc.Release()
	trainRec.Release()
	if err != nil {
		return nil, err
	}
	var mlpBuf, profBuf bytes.Buffer
	if _, err := mlp.WriteTo(&mlpBuf); err != nil {
		return nil, err
	}
	if _, err := ref.WriteTo(&profBuf); err != nil {
		return nil, err
	}
	art, err := json.Marshal(bundle{Format: bundleFormat, View: trafficView, Features: trafficFeatures, Inputs: inputNames,
		Transformer: ctJSON, MLP: mlpBuf.Bytes(), Profile: profBuf.Bytes()})
	if err != nil {
		return nil, err
	}
	// The run keeps the transforms and the profile as artifacts of their
	// own too, for people browsing the run.
	if _, err := run.LogArtifact(ctx, "transforms.json", bytes.NewReader(ctJSON)); err != nil {
		return nil, err
	}
	if _, err := run.LogArtifact(ctx, "reference.profile", bytes.NewReader(profBuf.Bytes())); err != nil {
		return nil, err
	}
	if err := run.End(ctx, version.RunFinished); err != nil {
		return nil, err
	}
	runOK = true
	metrics := map[string]float64{}
	for _, k := range []string{"accuracy", "roc_auc", "log_loss"} {
		if x, ok := eval[k]; ok && !math.IsNaN(x) && !math.IsInf(x, 0) {
			metrics[k] = x
		}
	}
	metrics["majority_accuracy"] = math.Max(base, 1-base)
	mv, err := repo.RegisterModel(ctx, ModelName, bytes.NewReader(art), version.ModelMeta{
		Framework:   "kiln/train",
		Params:      map[string]string{"hidden": fmt.Sprint(c.Hidden), "epochs": fmt.Sprint(c.Epochs), "features": serviceName, "registry_version": fmt.Sprint(regVersion)},
		Metrics:     metrics,
		Datasets:    []string{flightsSpec},
		Run:         run.ID(),
		Description: "P(delay > 15 min) from airport traffic, distance and hour",
	})
	if err != nil {
		return nil, err
	}
	if err := repo.SetAlias(ctx, ModelName, alias, mv.Version); err != nil {
		return nil, err
	}
	if mv, err = repo.ResolveModel(ctx, ModelName+"@"+alias); err != nil {
		return nil, err
	}
	res.Model = mv
	t.say("registered %s/%d (%d bytes) as @%s, trained on %s by run %s", mv.Name, mv.Version, mv.Size, alias, short(flightsCommit.ID.String()), short(run.ID()))
	t.end()

	// 9. Serve: load the champion back from the registry, as a service
	// would, and score flights leaving now, just after the data ends, on
	// the three busiest routes. The online store holds each airport's
	// latest traffic; the request brings the distance and the time.
	t.begin("predict from online features")
	model, err := LoadModel(ctx, repo, ModelName+"@"+alias)
	if err != nil {
		return nil, err
	}
	now := time.Unix(slices.Max(fl.when), 0).UTC().Truncate(time.Hour).Add(time.Hour)
	for _, r := range busiestRoutes(fl, 3) {
		req := Request{Origin: fl.airports[fl.origin[r]], Destination: fl.airports[fl.dest[r]], Distance: float64(fl.distance[r]), Time: now}
		pr, err := model.Predict(ctx, st, req)
		if err != nil {
			return nil, err
		}
		t.say("%s %s→%s %4.0f mi: P(delay > 15 min) = %.2f (%s: %.0f departures in the last 3 h, mean delay %.1f min)",
			req.Time.Format("2006-01-02 15:04"), req.Origin, req.Destination, req.Distance, pr.Probability,
			req.Origin, pr.Inputs["origin_departures"], pr.Inputs["origin_mean_delay"])
	}
	err = st.Close()
	st = nil
	if err != nil {
		return nil, err
	}
	t.end()

	// 10. Monitor: compare the held-out flights, as a bad-weather day would
	// send them (origins running 30 minutes later, twice as many delayed),
	// with the reference profile, and write the HTML report.
	t.begin("monitor a drifted batch")
	drifted := inputRecord(inputs, testRows)
	storm := stormy(drifted)
	drifted.Release()
	cur, err := monitor.ProfileSource(ctx, pipeline.FromBatches(storm.Schema(), storm), monitor.ProfileOptions{Columns: inputNames})
	storm.Release()
	if err != nil {
		return nil, err
	}
	rep, err := monitor.Compare(model.Reference(), cur, monitor.DriftOptions{})
	if err != nil {
		return nil, err
	}
	rep.Name = "flight_delay inputs: held-out flights in a simulated storm"
	var html bytes.Buffer
	if err := rep.WriteHTML(&html); err != nil {
		return nil, err
	}
	if err := os.WriteFile(res.Report, html.Bytes(), 0o644); err != nil {
		return nil, err
	}
	var drifts []string
	for _, cd := range rep.Columns {
		if cd.Drift {
			drifts = append(drifts, cd.Column)
		}
	}
	res.Metrics["drifted_columns"] = float64(rep.Drifted)
	t.say("profiled %d training rows; %d of %d inputs drifted in %d storm rows: %s", ref.Rows, rep.Drifted, len(rep.Columns), rep.Rows, strings.Join(drifts, ", "))
	t.say("wrote %s", res.Report)
	t.end()
	return res, nil
}

// openData opens the flights file by its extension.
func openData(path string) (pipeline.Source, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return pipeline.CSV(path, pipeline.CSVOptions{}), nil
	case ".parquet":
		return pipeline.Parquet(path, pipeline.ParquetOptions{}), nil
	}
	return nil, fmt.Errorf("story: %s: want a .csv or .parquet file", path)
}

func short(id string) string {
	if i := strings.IndexByte(id, ':'); i >= 0 {
		id = id[i+1:]
	}
	return id[:min(12, len(id))]
}

// trainingInputs returns inputs[j][i], input j of flight i: the traffic at
// its origin and at its destination as of its departure, from two
// point-in-time joins of the registry's view (one with the origin as the
// airport, one with the destination), then distance and hour.
func trainingInputs(ctx context.Context, fs *features.FeatureStore, fl *flights) ([][]float32, error) {
	n := fl.len()
	inputs := make([][]float32, len(inputNames))
	for j := range inputs {
		inputs[j] = make([]float32, n)
	}
	refs := make([]string, len(trafficFeatures))
	for k, f := range trafficFeatures {
		refs[k] = trafficView + ":" + f
	}
	for side, codes := range [][]uint16{fl.origin, fl.dest} {
		ents := entityRows(fl, codes)
		out, err := fs.GetHistoricalFeatures(ctx, ents, "date", refs, features.PITOptions{})
		if err != nil {
			ents.Release()
			return nil, err
		}
		row := 0
		for b, err := range out.Batches(ctx) {
			if err != nil {
				ents.Release()
				return nil, err
			}
			for k, f := range trafficFeatures {
				col := b.Column(b.Schema().FieldIndices(trafficView + "__" + f)[0])
				dst := inputs[side*len(trafficFeatures)+k][row:]
				for i := 0; i < int(b.NumRows()); i++ {
					if !col.IsNull(i) { // not found: no departures lately, zero
						dst[i] = float32(number(col, i))
					}
				}
			}
			row += int(b.NumRows())
			b.Release()
		}
		ents.Release()
		if row != n {
			return nil, fmt.Errorf("story: the join gave %d rows for %d flights", row, n)
		}
	}
	for i := range n {
		inputs[6][i] = fl.distance[i]
		inputs[7][i] = float32(time.Unix(fl.when[i], 0).UTC().Hour())
	}
	return inputs, nil
}

// entityRows are the entity rows of a join: each flight's departure time
// and one of its airports.
func entityRows(fl *flights, codes []uint16) *pipeline.MemorySource {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "date", Type: &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}},
		{Name: "airport", Type: arrow.BinaryTypes.String},
	}, nil)
	const size = 65536
	var batches []arrow.RecordBatch
	bld := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer bld.Release()
	for lo := 0; lo < fl.len(); lo += size {
		for i := lo; i < min(lo+size, fl.len()); i++ {
			bld.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(fl.when[i]))
			bld.Field(1).(*array.StringBuilder).Append(fl.airports[codes[i]])
		}
		batches = append(batches, bld.NewRecordBatch())
	}
	src := pipeline.FromBatches(schema, batches...)
	for _, b := range batches {
		b.Release()
	}
	return src
}

// splitByTime returns the rows before and from the time that leaves the
// latest fraction of the flights out.
func splitByTime(when []int64, fraction float64) (train, test []int) {
	sorted := slices.Clone(when)
	slices.Sort(sorted)
	cut := sorted[min(len(sorted)-1, int(float64(len(sorted))*(1-fraction)))]
	for i, w := range when {
		if w < cut {
			train = append(train, i)
		} else {
			test = append(test, i)
		}
	}
	// Keep the held-out rows in time order, so "the latest" are last.
	slices.SortStableFunc(test, func(a, b int) int { return int(when[a] - when[b]) })
	return train, test
}

// sample returns k of rows, chosen at random with seed, in order.
func sample(rows []int, k int, seed uint64) []int {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	idx := slices.Clone(rows)
	for i := 0; i < k; i++ {
		j := i + rng.IntN(len(idx)-i)
		idx[i], idx[j] = idx[j], idx[i]
	}
	idx = idx[:k]
	slices.Sort(idx)
	return idx
}

// inputRecord is one record batch of the raw inputs of rows (float64).
func inputRecord(inputs [][]float32, rows []int) arrow.RecordBatch {
	fields := make([]arrow.Field, len(inputNames))
	for j, name := range inputNames {
		fields[j] = arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Float64}
	}
	bld := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fields, nil))
	defer bld.Release()
	for j := range inputNames {
		fb := bld.Field(j).(*array.Float64Builder)
		fb.Reserve(len(rows))
		for _, r := range rows {
			fb.UnsafeAppend(float64(inputs[j][r]))
		}
	}
	return bld.NewRecordBatch()
}

// dataset is a training dataset of rows: the transformed inputs, and the
// label as classes 0 (on time) and 1 (delayed).
func dataset(ct *features.ColumnTransformer, inputs [][]float32, labels []int32, rows []int) (*train.Dataset, error) {
	rec := inputRecord(inputs, rows)
	defer rec.Release()
	x, err := ct.Matrix(rec, nil)
	if err != nil {
		return nil, err
	}
	xt, err := tensor.FromFloat32s(x, len(rows), len(ct.Outputs()))
	if err != nil {
		return nil, err
	}
	y := make([]int32, len(rows))
	for i, r := range rows {
		y[i] = labels[r]
	}
	return &train.Dataset{Features: ct.Outputs(), X: xt, Label: labelColumn, Labels: y,
		ClassValues: []int64{0, 1}, ClassNames: []string{"0", "1"}}, nil
}

// stormy is rec as a storm would change it: departures at the origin
// running 30 minutes later and twice as often delayed.
func stormy(rec arrow.RecordBatch) arrow.RecordBatch {
	cols := make([]arrow.Array, rec.NumCols())
	for j := range cols {
		a := rec.Column(j).(*array.Float64)
		b := array.NewFloat64Builder(memory.DefaultAllocator)
		for i := 0; i < a.Len(); i++ {
			x := a.Value(i)
			switch inputNames[j] {
			case "origin_mean_delay":
				x += 30
			case "origin_share_delayed":
				x = math.Min(1, 2*x)
			}
			b.Append(x)
		}
		cols[j] = b.NewArray()
		b.Release()
	}
	out := array.NewRecordBatch(rec.Schema(), cols, rec.NumRows())
	for _, c := range cols {
		c.Release()
	}
	return out
}

// busiestRoutes returns one flight (its last) of each of the k routes with
// the most flights.
func busiestRoutes(fl *flights, k int) []int {
	type route struct{ o, d uint16 }
	count := map[route]int{}
	last := map[route]int{}
	for i := range fl.when {
		r := route{fl.origin[i], fl.dest[i]}
		count[r]++
		last[r] = i
	}
	routes := make([]route, 0, len(count))
	for r := range count {
		routes = append(routes, r)
	}
	slices.SortFunc(routes, func(a, b route) int {
		if count[a] != count[b] {
			return count[b] - count[a]
		}
		return last[a] - last[b]
	})
	var out []int
	for _, r := range routes[:min(k, len(routes))] {
		out = append(out, last[r])
	}
	return out
}
