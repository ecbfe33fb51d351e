package version_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/kilnml/kiln/version"
)

// Register two versions of a model trained on a dataset, promote one with
// an alias, and follow the lineage both ways.
func ExampleRepository_RegisterModel() {
	dir, err := os.MkdirTemp("", "kiln-registry-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	repo, err := version.Open(ctx, dir, version.Options{Author: "ada"})
	if err != nil {
		log.Fatal(err)
	}
	defer repo.Close()

	// A dataset to train on: one file already in the store.
	data := "id,churned\n1,0\n2,1\n"
	d, err := repo.Store().Put(ctx, strings.NewReader(data))
	if err != nil {
		log.Fatal(err)
	}
	_, err = repo.CommitEntries(ctx, "customers", []version.Entry{
		{Path: "customers.csv", Digest: d, Size: int64(len(data)), Mode: 0o644},
	}, version.CommitOptions{Message: "first export"})
	if err != nil {
		log.Fatal(err)
	}

	for i, auc := range []float64{0.81, 0.86} {
		mv, err := repo.RegisterModel(ctx, "churn", strings.NewReader(fmt.Sprintf("weights %d", i+1)), version.ModelMeta{
			Framework: "kiln/train",
			Params:    map[string]string{"depth": fmt.Sprint(4 + i)},
			Metrics:   map[string]float64{"auc": auc},
			Datasets:  []string{"customers@main"},
		})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("registered %s/%d (%d bytes)\n", mv.Name, mv.Version, mv.Size)
	}

	// Version 1 serves; version 2 takes over only if it still does.
	if err := repo.SetAlias(ctx, "churn", "champion", 1); err != nil {
		log.Fatal(err)
	}
	if err := repo.SwapAlias(ctx, "churn", "champion", 1, 2); err != nil {
		log.Fatal(err)
	}
	rc, err := repo.OpenModel(ctx, "churn@champion")
	if err != nil {
		log.Fatal(err)
	}
	weights, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("churn@champion holds %q\n", weights)

	lineage, err := repo.ModelLineage(ctx, "churn@champion")
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range lineage.Datasets {
		fmt.Printf("churn/%d was trained on %s (%q)\n", lineage.Model.Version, c.Dataset, c.Message)
	}
	trained, err := repo.ModelsTrainedOn(ctx, "customers")
	if err != nil {
		log.Fatal(err)
	}
	for _, mv := range trained {
		fmt.Printf("customers trained %s/%d auc=%.2f aliases=%v\n", mv.Name, mv.Version, mv.Meta.Metrics["auc"], mv.Aliases)
	}
	// Output:
	// registered churn/1 (9 bytes)
	// registered churn/2 (9 bytes)
	// churn@champion holds "weights 2"
	// churn/2 was trained on customers ("first export")
	// customers trained churn/1 auc=0.81 aliases=[]
	// customers trained churn/2 auc=0.86 aliases=[champion]
}

// Track a training run: parameters, a metric series and its status, then
// read them back.
func ExampleRepository_StartRun() {
	dir, err := os.MkdirTemp("", "kiln-run-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	repo, err := version.Open(ctx, dir, version.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer repo.Close()

	run, err := repo.StartRun(ctx, version.RunOptions{
		Experiment: "churn",
		Params:     map[string]string{"lr": "0.1", "epochs": "3"},
	})
	if err != nil {
		log.Fatal(err)
	}
	for epoch := range int64(3) {
		loss := 1 / float64(epoch+2)
		if err := run.LogMetrics(ctx, epoch, map[string]float64{"loss": loss, "acc": 1 - loss}); err != nil {
			log.Fatal(err)
		}
	}
	if _, err := run.LogArtifact(ctx, "notes.txt", strings.NewReader("converged")); err != nil {
		log.Fatal(err)
	}
	// End writes the buffered metric points and records the outcome.
	if err := run.End(ctx, version.RunFinished); err != nil {
		log.Fatal(err)
	}

	info, err := repo.RunInfo(ctx, run.ID())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Experiment, info.Status, info.Params["lr"], len(info.Artifacts))
	fmt.Printf("latest acc: %.3f at step %d\n", info.Latest["acc"].Value, info.Latest["acc"].Step)
	history, err := repo.MetricHistory(ctx, run.ID(), "loss")
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range history {
		fmt.Printf("step %d loss %.3f\n", p.Step, p.Value)
	}
	runs, err := repo.Runs(ctx, version.RunFilter{Experiment: "churn", Status: version.RunFinished})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(runs), "finished run in churn")
	// Output:
	// churn finished 0.1 1
	// latest acc: 0.750 at step 2
	// step 0 loss 0.500
	// step 1 loss 0.333
	// step 2 loss 0.250
	// 1 finished run in churn
}
