// Package experiment is a reproducible experiment written as a Go test: go
// test is the experiment runner, the test's assertions are the experiment's
// expected results, and a golden file in testdata holds them under version
// control, next to the code that produced them.
//
// TestExperiment (experiment_test.go) does what a tracked training run does,
// end to end and with Kiln alone:
//
//  1. commits testdata/breast_cancer.csv (the repository's) as the dataset
//     "breast_cancer", tagged v1, to a fresh version repository in a
//     temporary folder. The commit's time, author and message are fixed, so
//     its ID, a digest of the content and of those fields, is the same on
//     every machine;
//  2. starts a run of the experiment "breast-cancer-mlp" that reads
//     breast_cancer@v1 (the run records the commit it resolved to) and logs
//     the experiment's parameters;
//  3. reads the committed table back from the repository, splits it (a
//     stratified split whose seed is a parameter), standardizes it with the
//     training rows' statistics, and trains an MLP classifier with fixed
//     seeds, the run being the trainer's tracker (its options as
//     parameters, each epoch's training loss as a metric);
//  4. evaluates the model on the held-out rows and logs the test metrics;
//  5. closes the repository, opens it again and reads the run back: its
//     status, parameters, dataset commit, the last value of every metric and
//     the training loss of every epoch. That record is compared with
//     testdata/golden.json: the text fields and the dataset's digests
//     exactly, the numbers within 1e-6 (relative, absolute below 1), which
//     absorbs the rounding differences between machines but no change in
//     the data, the split, the seeds or the model. (The portable Go
//     kernels, go test -tags purego, and the AVX2 ones differ by about
//     2e-8 here.)
//
// Run it with
//
//	go test ./examples/experiment
//
// and, after changing the experiment on purpose, record the new results
// with
//
//	go test ./examples/experiment -run TestExperiment -update
//
// then review the change of testdata/golden.json like any other change. The
// run writes nothing outside its temporary folder; -v prints the record.
package experiment
