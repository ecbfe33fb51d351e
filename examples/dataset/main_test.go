package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kilnml/kiln/internal/miniotest"
	"github.com/kilnml/kiln/pipeline"
	"github.com/kilnml/kiln/store"
	"github.com/kilnml/kiln/version"
)

const flightsParquet = "../../testdata/flights-20k.parquet"

// ds runs the command with args and returns its exit status and output.
func ds(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// dsOK runs the command, fails the test unless it succeeds, and returns
// its standard output.
func dsOK(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := ds(t, args...)
	if code != 0 {
		t.Fatalf("dataset %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// dsJSON runs the command with -json, fails the test unless it succeeds,
// and returns its output lines, each checked to be one JSON object with a
// "type".
func dsJSON(t *testing.T, repo string, args ...string) []map[string]any {
	t.Helper()
	return jsonLines(t, dsOK(t, append([]string{"-repo", repo, "-json"}, args...)...))
}

func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	for line := range strings.Lines(out) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("output line is not a JSON object: %q: %v", line, err)
		}
		if _, ok := m["type"].(string); !ok {
			t.Fatalf("output line has no type: %q", line)
		}
		objs = append(objs, m)
	}
	return objs
}

// field returns the fields of objs named key, as text.
func fields(objs []map[string]any, key string) []string {
	var out []string
	for _, o := range objs {
		b, _ := json.Marshal(o[key])
		out = append(out, strings.Trim(string(b), `"`))
	}
	return out
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	writeFile(t, to, readFile(t, from))
}

// shrinkFlights writes the flights longer than 1,000 miles, without the
// destination column, as Parquet to path.
func shrinkFlights(t *testing.T, path string) {
	t.Helper()
	p := pipeline.New(pipeline.Parquet(flightsParquet, pipeline.ParquetOptions{}),
		pipeline.Filter(pipeline.Col("distance").Gt(1000)),
		pipeline.Drop("destination"))
	if _, err := p.Run(context.Background(), pipeline.ToParquet(path, pipeline.ParquetWriteOptions{}), pipeline.RunOptions{}); err != nil {
		t.Fatal(err)
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// TestWorkflow commits two versions and exercises log, diff, checkout,
// status and tag on them, in human and JSON output.
func TestWorkflow(t *testing.T) {
	dir := t.TempDir()
	repo, data, out := filepath.Join(dir, "repo"), filepath.Join(dir, "data"), filepath.Join(dir, "out")
	writeFile(t, filepath.Join(data, "a.txt"), "alpha\n")
	writeFile(t, filepath.Join(data, "sub", "b.txt"), "beta\n")
	copyFile(t, flightsParquet, filepath.Join(data, "flights.parquet"))

	// commit creates the repository.
	text := dsOK(t, "-repo", repo, "commit", "-name", "flights", "-m", "first", data)
	if !strings.Contains(text, "committed blake3:") || !strings.Contains(text, "to flights@main: 3 files") {
		t.Errorf("commit printed %q", text)
	}

	// A second version: one file changed, one added, the table filtered
	// and a column dropped.
	writeFile(t, filepath.Join(data, "a.txt"), "alpha, again\n")
	writeFile(t, filepath.Join(data, "c.txt"), "gamma\n")
	shrinkFlights(t, filepath.Join(data, "flights.parquet"))
	// Flags may follow the paths.
	objs := dsJSON(t, repo, "commit", data, "-name", "flights", "-m", "second", "-meta", "source=test", "-author", "ada")
	if len(objs) != 1 {
		t.Fatalf("commit printed %d objects, want 1", len(objs))
	}
	second := objs[0]

	logs := dsJSON(t, repo, "log", "flights")
	if got := fields(logs, "message"); !slices.Equal(got, []string{"second", "first"}) {
		t.Fatalf("log messages %v, want [second first]", got)
	}
	first := logs[1]
	for _, want := range []struct{ key, val string }{
		{"type", "commit"}, {"id", logs[0]["id"].(string)}, {"dataset", "flights"}, {"branch", "main"},
		{"files", "4"}, {"author", "ada"}, {"meta", `{"source":"test"}`}, {"parents", `["` + first["id"].(string) + `"]`},
	} {
		if got := fields([]map[string]any{second}, want.key)[0]; got != want.val {
			t.Errorf("commit JSON %s = %s, want %s", want.key, got, want.val)
		}
	}
	if got := dsJSON(t, repo, "log", "-n", "1", "flights"); len(got) != 1 || got[0]["id"] != second["id"] {
		t.Errorf("log -n 1 gave %v", got)
	}
	shortFirst := strings.TrimPrefix(first["id"].(string), "blake3:")[:12]
	if got := dsJSON(t, repo, "log", "flights@"+shortFirst); len(got) != 1 || got[0]["id"] != first["id"] {
		t.Errorf("log of the first commit by ID prefix gave %v", got)
	}
	text = dsOK(t, "-repo", repo, "log", "flights")
	for _, want := range []string{"commit " + second["id"].(string), "Author: ada", "Meta:   source=test", "    second", "commit " + first["id"].(string), "    first"} {
		if !strings.Contains(text, want) {
			t.Errorf("log lacks %q:\n%s", want, text)
		}
	}

	// diff: what changed from the first version to the second.
	diff := dsJSON(t, repo, "diff", "flights", "main~1", "main")
	if len(diff) != 4 {
		t.Fatalf("diff printed %d objects, want 3 changes and a summary:\n%v", len(diff), diff)
	}
	if got := fields(diff[:3], "path"); !slices.Equal(got, []string{"a.txt", "c.txt", "flights.parquet"}) {
		t.Errorf("diff paths %v", got)
	}
	if got := fields(diff[:3], "kind"); !slices.Equal(got, []string{"modified", "added", "modified"}) {
		t.Errorf("diff kinds %v", got)
	}
	table := diff[2]
	if rd, _ := table["rows_delta"].(float64); rd >= 0 || rd <= -20000 {
		t.Errorf("rows_delta %v, want a loss of some of the 20,000 rows", table["rows_delta"])
	}
	if got := fields([]map[string]any{table}, "schema")[0]; got != `[{"column":"destination","kind":"removed","old_type":"utf8"}]` {
		t.Errorf("schema changes %s", got)
	}
	if old, _ := table["old"].(map[string]any); old["rows"] != float64(20000) {
		t.Errorf("old table entry %v, want 20000 rows", table["old"])
	}
	sum := diff[3]
	if sum["type"] != "diff" || sum["added"] != float64(1) || sum["modified"] != float64(2) || sum["removed"] != float64(0) ||
		sum["from"] != first["id"] || sum["to"] != second["id"] {
		t.Errorf("diff summary %v", sum)
	}
	text = dsOK(t, "-repo", repo, "diff", "flights", "main~1", "main")
	for _, want := range []string{"modified  a.txt", "added     c.txt", "modified  flights.parquet", "rows -", "column destination removed (utf8)", "3 changes from flights@main~1"} {
		if !strings.Contains(text, want) {
			t.Errorf("diff lacks %q:\n%s", want, text)
		}
	}

	// checkout of the first version, then status of the folder.
	co := dsJSON(t, repo, "checkout", "flights@main~1", "-out", out)
	if len(co) != 1 || co[0]["type"] != "checkout" || co[0]["files"] != float64(3) || co[0]["commit"] != first["id"] {
		t.Errorf("checkout printed %v", co)
	}
	if got := readFile(t, filepath.Join(out, "a.txt")); got != "alpha\n" {
		t.Errorf("checked out a.txt = %q", got)
	}
	if got := readFile(t, filepath.Join(out, "sub", "b.txt")); got != "beta\n" {
		t.Errorf("checked out sub/b.txt = %q", got)
	}
	if readFile(t, filepath.Join(out, "flights.parquet")) != readFile(t, flightsParquet) {
		t.Error("checked out flights.parquet differs from the committed file")
	}
	st := dsJSON(t, repo, "status", "flights@main~1", out)
	if len(st) != 1 || st[0]["type"] != "status" || st[0]["clean"] != true || st[0]["files"] != float64(3) || st[0]["rehashed"] != float64(0) {
		t.Errorf("status after checkout printed %v, want clean with nothing read again", st)
	}
	text = dsOK(t, "-repo", repo, "status", "flights@main~1", out)
	if !strings.HasPrefix(text, "clean: ") {
		t.Errorf("status printed %q", text)
	}

	writeFile(t, filepath.Join(out, "a.txt"), "changed\n")
	writeFile(t, filepath.Join(out, "new.txt"), "new\n")
	if err := os.Remove(filepath.Join(out, "sub", "b.txt")); err != nil {
		t.Fatal(err)
	}
	st = dsJSON(t, repo, "status", "flights@main~1", out)
	if len(st) != 4 {
		t.Fatalf("status printed %d objects, want 3 changes and a summary: %v", len(st), st)
	}
	if got := fields(st[:3], "path"); !slices.Equal(got, []string{"a.txt", "new.txt", "sub/b.txt"}) {
		t.Errorf("status paths %v", got)
	}
	if got := fields(st[:3], "kind"); !slices.Equal(got, []string{"modified", "added", "removed"}) {
		t.Errorf("status kinds %v", got)
	}
	if st[3]["clean"] != false || st[3]["changes"] != float64(3) {
		t.Errorf("status summary %v", st[3])
	}
	text = dsOK(t, "-repo", repo, "status", "flights@main~1", out)
	for _, want := range []string{"modified  a.txt", "added     new.txt", "removed   sub/b.txt", "3 changes in "} {
		if !strings.Contains(text, want) {
			t.Errorf("status lacks %q:\n%s", want, text)
		}
	}

	// A checkout over a changed file is a conflict and writes nothing;
	// -force overwrites it.
	code, _, errOut := ds(t, "-repo", repo, "checkout", "flights@main~1", "-out", out)
	if code != exitConflict || !strings.Contains(errOut, "a.txt") {
		t.Errorf("checkout over a changed file: exit %d, stderr %q; want 3 and a message naming a.txt", code, errOut)
	}
	if got := readFile(t, filepath.Join(out, "a.txt")); got != "changed\n" || exists(filepath.Join(out, "sub", "b.txt")) {
		t.Errorf("a conflicting checkout wrote files (a.txt = %q)", got)
	}
	text = dsOK(t, "-repo", repo, "checkout", "-force", "flights@main~1", "-out", out)
	if !strings.Contains(text, "2 files written") || !strings.Contains(text, "1 unchanged") {
		t.Errorf("checkout -force printed %q", text)
	}
	if got := readFile(t, filepath.Join(out, "a.txt")); got != "alpha\n" {
		t.Errorf("after checkout -force a.txt = %q", got)
	}

	// tag names a commit for good.
	tag := dsJSON(t, repo, "tag", "flights@main~1", "v1")
	if len(tag) != 1 || tag[0]["type"] != "tag" || tag[0]["tag"] != "v1" || tag[0]["commit"] != first["id"] {
		t.Errorf("tag printed %v", tag)
	}
	if got := dsJSON(t, repo, "log", "flights@v1"); len(got) != 1 || got[0]["id"] != first["id"] {
		t.Errorf("log flights@v1 gave %v", got)
	}
	if text := dsOK(t, "-repo", repo, "tag", "flights", "v2"); !strings.Contains(text, "as flights@v2") {
		t.Errorf("tag printed %q", text)
	}
	if code, _, errOut := ds(t, "-repo", repo, "tag", "flights", "v1"); code != exitConflict || !strings.Contains(errOut, "conflict") {
		t.Errorf("moving a tag: exit %d, stderr %q; want 3", code, errOut)
	}
	if code, _, _ := ds(t, "-repo", repo, "tag", "flights", "../v3"); code != exitUsage {
		t.Errorf("bad tag name: exit %d, want 2", code)
	}

	// commit -parent: a conflict if the branch has moved from it.
	code, _, errOut = ds(t, "-repo", repo, "commit", "-name", "flights", "-m", "stale", "-parent", "v1", data)
	if code != exitConflict {
		t.Errorf("commit with a stale -parent: exit %d, stderr %q; want 3", code, errOut)
	}
	third := dsJSON(t, repo, "commit", "-name", "flights", "-m", "third", "-parent", "v2", "-branch", "main", data)
	if got := fields(third, "parents")[0]; got != `["`+second["id"].(string)+`"]` {
		t.Errorf("commit -parent v2 has parents %s", got)
	}
	if got := fields(dsJSON(t, repo, "log", "flights"), "message"); !slices.Equal(got, []string{"third", "second", "first"}) {
		t.Errorf("log after the third commit: %v", got)
	}
}

// TestGCAndCheck makes garbage, collects it, and checks the repository
// before and after corrupting it.
func TestGCAndCheck(t *testing.T) {
	dir := t.TempDir()
	repo, data := filepath.Join(dir, "repo"), filepath.Join(dir, "data")
	writeFile(t, filepath.Join(data, "a.txt"), "alpha\n")
	copyFile(t, flightsParquet, filepath.Join(data, "flights.parquet"))
	dsOK(t, "-repo", repo, "commit", "-name", "flights", "-m", "first", data)

	// Garbage: a blob that no commit refers to.
	junk := make([]byte, 64<<10)
	rand.Read(junk)
	ctx := context.Background()
	r, err := version.Open(ctx, repo, version.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.Store().Put(ctx, bytes.NewReader(junk))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	has := func() bool {
		t.Helper()
		r, err := version.Open(ctx, repo, version.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		ok, err := r.Store().Has(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}

	// With the default grace period the fresh garbage stays.
	gc := dsJSON(t, repo, "gc")
	if len(gc) != 1 || gc[0]["type"] != "gc" || gc[0]["deleted"] != float64(0) || gc[0]["young"] == float64(0) || !has() {
		t.Errorf("gc with the default grace: %v; the blob should stay", gc)
	}
	gc = dsJSON(t, repo, "gc", "-grace", "0", "-dry-run")
	if gc[0]["dry_run"] != true || gc[0]["bytes_freed"].(float64) < float64(len(junk))/2 || !has() {
		t.Errorf("gc -dry-run: %v; it should report the blob's pack and keep it", gc)
	}
	text := dsOK(t, "-repo", repo, "gc", "-grace", "0")
	if !strings.Contains(text, "gc: deleted 1 packs") || has() {
		t.Errorf("gc -grace 0 printed %q; it should delete the blob", text)
	}

	// check: clean, and everything committed still reads back.
	text = dsOK(t, "-repo", repo, "check")
	if !strings.Contains(text, "refs: 1 ref, 1 commit verified") || !strings.HasSuffix(text, "clean\n") {
		t.Errorf("check printed %q", text)
	}
	chk := dsJSON(t, repo, "check")
	if len(chk) != 1 || chk[0]["clean"] != true || chk[0]["commits"] != float64(1) || chk[0]["packs"] == float64(0) {
		t.Errorf("check printed %v", chk)
	}
	dsOK(t, "-repo", repo, "checkout", "flights", "-out", filepath.Join(dir, "out"))
	if readFile(t, filepath.Join(dir, "out", "flights.parquet")) != readFile(t, flightsParquet) {
		t.Error("flights.parquet reads back wrong after gc")
	}

	// Damage every pack: check reports problems and fails.
	var packs []string
	filepath.WalkDir(filepath.Join(repo, "objects", "packs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			packs = append(packs, p)
		}
		return err
	})
	if len(packs) == 0 {
		t.Fatal("no pack files found under objects/packs")
	}
	for _, p := range packs {
		b := []byte(readFile(t, p))
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, errOut := ds(t, "-repo", repo, "-json", "check")
	objs := jsonLines(t, stdout)
	if code != exitFailure || len(objs) < 2 || objs[0]["type"] != "problem" || objs[len(objs)-1]["clean"] != false ||
		!strings.Contains(errOut, "problems found") {
		t.Errorf("check of a damaged repository: exit %d, stdout %s, stderr %q", code, stdout, errOut)
	}
	code, stdout, _ = ds(t, "-repo", repo, "check")
	if code != exitFailure || !strings.HasPrefix(stdout, "problem: ") || strings.Contains(stdout, "clean") {
		t.Errorf("check of a damaged repository: exit %d, stdout %q", code, stdout)
	}
}

// TestPushPull moves a dataset between two repositories through a real
// MinIO server, configured as the AWS tools are, from the environment.
func TestPushPull(t *testing.T) {
	endpoint, accessKey, secretKey := miniotest.Start(t)
	// The service-specific endpoint wins over the general one.
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://"+endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", accessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", "us-east-1")
	remote := "s3://kiln-dataset/team/a"

	dir := t.TempDir()
	repoA, repoB, data := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "data")
	writeFile(t, filepath.Join(data, "a.txt"), "one\n")
	copyFile(t, flightsParquet, filepath.Join(data, "flights.parquet"))
	c1 := dsJSON(t, repoA, "commit", "-name", "flights", "-m", "one", data)[0]["id"]
	dsOK(t, "-repo", repoA, "tag", "flights", "v1")

	// The bucket does not exist yet. A failed pull creates no repository.
	if code, _, errOut := ds(t, "-repo", repoA, "push", "-remote", remote, "flights"); code != exitFailure || !strings.Contains(errOut, "bucket") {
		t.Errorf("push to a missing bucket: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := ds(t, "-repo", repoB, "pull", "-remote", remote, "flights"); code != exitFailure || !strings.Contains(errOut, "bucket") || exists(repoB) {
		t.Errorf("pull from a missing bucket: exit %d, stderr %q, or it left a repository behind", code, errOut)
	}
	push := dsJSON(t, repoA, "push", "-create-bucket", "-remote", remote, "flights")
	if len(push) != 3 {
		t.Fatalf("push printed %v, want 2 refs and a summary", push)
	}
	if got := fields(push[:2], "name"); !slices.Equal(got, []string{"main", "v1"}) {
		t.Errorf("pushed refs %v", got)
	}
	if push[0]["old"] != "" || push[0]["new"] != c1 || push[2]["type"] != "push" || push[2]["commits"] != float64(1) || push[2]["remote"] != remote {
		t.Errorf("push printed %v", push)
	}

	// pull creates repository B, unless it fails.
	if code, _, errOut := ds(t, "-repo", repoB, "pull", "-remote", remote, "weather"); code != exitFailure || !strings.Contains(errOut, "no branch") || exists(repoB) {
		t.Errorf("pull of an unknown dataset: exit %d, stderr %q, or it left a repository behind", code, errOut)
	}
	text := dsOK(t, "-repo", repoB, "pull", "-remote", remote, "flights")
	if !strings.Contains(text, "pull flights from "+remote) || !strings.Contains(text, "branch flights@main: (new) ") {
		t.Errorf("pull printed %q", text)
	}
	if got := dsJSON(t, repoB, "log", "flights@v1"); len(got) != 1 || got[0]["id"] != c1 {
		t.Errorf("B's log of flights@v1: %v", got)
	}
	dsOK(t, "-repo", repoB, "checkout", "flights", "-out", filepath.Join(dir, "outB"))
	if got := readFile(t, filepath.Join(dir, "outB", "a.txt")); got != "one\n" {
		t.Errorf("B checked out a.txt = %q", got)
	}

	// A commits and pushes again (human output); B fast-forwards.
	writeFile(t, filepath.Join(data, "a.txt"), "two\n")
	c2 := dsJSON(t, repoA, "commit", "-name", "flights", "-m", "two", data)[0]["id"]
	if text := dsOK(t, "-repo", repoA, "push", "-remote", remote, "flights", "main"); !strings.Contains(text, "1 commit") {
		t.Errorf("push printed %q", text)
	}
	pull := dsJSON(t, repoB, "pull", "-remote", remote, "flights", "main")
	if last := pull[len(pull)-1]; last["type"] != "pull" || last["commits"] != float64(1) {
		t.Errorf("pull printed %v", pull)
	}
	if got := dsJSON(t, repoB, "log", "-n", "1", "flights"); got[0]["id"] != c2 {
		t.Errorf("B's main is %v after the pull, want %v", got[0]["id"], c2)
	}

	// Both commit on top of c2: A pushes first, B's push is a conflict
	// that moves nothing.
	writeFile(t, filepath.Join(data, "a.txt"), "three from A\n")
	c3 := dsJSON(t, repoA, "commit", "-name", "flights", "-m", "three A", data)[0]["id"]
	writeFile(t, filepath.Join(data, "a.txt"), "three from B\n")
	dsOK(t, "-repo", repoB, "commit", "-name", "flights", "-m", "three B", data)
	dsOK(t, "-repo", repoA, "push", "-remote", remote, "flights", "main")
	code, stdout, errOut := ds(t, "-repo", repoB, "push", "-remote", remote, "flights", "main")
	if code != exitConflict || !strings.Contains(errOut, "conflict") || stdout != "" {
		t.Errorf("diverged push: exit %d, stdout %q, stderr %q; want 3 and nothing moved", code, stdout, errOut)
	}
	code, _, errOut = ds(t, "-repo", repoB, "pull", "-remote", remote, "flights")
	if code != exitConflict {
		t.Errorf("diverged pull: exit %d, stderr %q; want 3", code, errOut)
	}
	// The remote-tracking branch has A's commit: B can build on it.
	if got := dsJSON(t, repoB, "log", "-n", "1", "flights@origin/main"); got[0]["id"] != c3 {
		t.Errorf("B's origin/main is %v, want %v", got[0]["id"], c3)
	}
	dsOK(t, "-repo", repoA, "pull", "-remote", remote, "flights")

	// Errors: unknown ref, unknown branch, a push from no repository.
	if code, _, errOut := ds(t, "-repo", repoA, "push", "-remote", remote, "flights", "nosuch"); code != exitFailure || !strings.Contains(errOut, "nosuch") {
		t.Errorf("push of an unknown ref: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := ds(t, "-repo", repoA, "pull", "-remote", remote, "flights", "nosuch"); code != exitFailure || !strings.Contains(errOut, "not found") {
		t.Errorf("pull of an unknown branch: exit %d, stderr %q", code, errOut)
	}
	none := filepath.Join(dir, "none")
	if code, _, _ := ds(t, "-repo", none, "push", "-remote", remote, "flights"); code != exitFailure || exists(none) {
		t.Errorf("push from a missing repository: exit %d, or it created one", code)
	}
}

// TestErrors checks exit statuses and messages of bad command lines and
// failures, and that failures leave nothing behind.
func TestErrors(t *testing.T) {
	dir := t.TempDir()
	repo, data := filepath.Join(dir, "repo"), filepath.Join(dir, "data")
	writeFile(t, filepath.Join(data, "a.txt"), "alpha\n")
	dsOK(t, "-repo", repo, "commit", "-name", "flights", "-m", "first", data)
	missing := filepath.Join(dir, "missing")
	p := func(name string) string { return filepath.Join(dir, name) }
	// A folder CommitFiles refuses: it holds a symlink to a folder.
	writeFile(t, p("linked/x.txt"), "x\n")
	if err := os.Symlink(data, p("linked/dir")); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no arguments", nil, 2, "no command"},
		{"no command", []string{"-repo", repo}, 2, "no command"},
		{"no -repo", []string{"log", "flights"}, 2, "-repo DIR is required"},
		{"unknown command", []string{"-repo", repo, "frobnicate"}, 2, `unknown command "frobnicate"`},
		{"unknown global flag", []string{"-nope", "-repo", repo, "log", "flights"}, 2, "-nope"},
		{"unknown command flag", []string{"-repo", repo, "log", "-x", "flights"}, 2, "-x"},
		{"log without spec", []string{"-repo", repo, "log"}, 2, "missing arguments"},
		{"log with two specs", []string{"-repo", repo, "log", "flights", "weather"}, 2, `unexpected argument "weather"`},
		{"log bad spec", []string{"-repo", repo, "log", "flights@@x"}, 2, "bad name"},
		{"log bad dataset name", []string{"-repo", repo, "log", "../flights"}, 2, "bad name"},
		{"log unknown ref", []string{"-repo", repo, "log", "flights@nosuch"}, 1, "not found"},
		{"log unknown dataset", []string{"-repo", repo, "log", "weather"}, 1, "not found"},
		{"log in no repository", []string{"-repo", missing, "log", "flights"}, 1, "no repository in"},
		{"check in no repository", []string{"-repo", missing, "check"}, 1, "no repository in"},
		{"gc in no repository", []string{"-repo", missing, "gc"}, 1, "no repository in"},
		{"commit without -name", []string{"-repo", repo, "commit", "-m", "x", data}, 2, "-name is required"},
		{"commit without -m", []string{"-repo", repo, "commit", "-name", "flights", data}, 2, "-m is required"},
		{"commit without paths", []string{"-repo", repo, "commit", "-name", "flights", "-m", "x"}, 2, "missing arguments"},
		{"commit bad name", []string{"-repo", missing, "commit", "-name", "a/../b", "-m", "x", data}, 2, "bad name"},
		{"commit bad branch", []string{"-repo", missing, "commit", "-name", "flights", "-branch", "-x", "-m", "x", data}, 2, "bad name"},
		{"commit bad -meta", []string{"-repo", repo, "commit", "-name", "flights", "-m", "x", "-meta", "novalue", data}, 2, "KEY=VALUE"},
		{"commit missing path", []string{"-repo", missing, "commit", "-name", "flights", "-m", "x", p("nofile")}, 1, "no such file"},
		{"commit refused by the repository", []string{"-repo", p("newrepo"), "commit", "-name", "flights", "-m", "x", p("linked")}, 1, "dir"},
		{"commit unknown -parent", []string{"-repo", repo, "commit", "-name", "flights", "-m", "x", "-parent", "nosuch", data}, 1, "-parent"},
		{"checkout without -out", []string{"-repo", repo, "checkout", "flights"}, 2, "-out is required"},
		{"checkout bad spec", []string{"-repo", repo, "checkout", "flights@", "-out", p("co1")}, 2, "bad name"},
		{"checkout unknown ref", []string{"-repo", repo, "checkout", "flights@v9", "-out", p("co2/deep")}, 1, "not found"},
		{"status without folder", []string{"-repo", repo, "status", "flights"}, 2, "missing arguments"},
		{"status of a missing folder", []string{"-repo", repo, "status", "flights", p("nofolder")}, 1, "nofolder"},
		{"diff with one ref", []string{"-repo", repo, "diff", "flights", "main"}, 2, "missing arguments"},
		{"diff bad dataset", []string{"-repo", repo, "diff", "fl ights", "main", "main"}, 2, "bad name"},
		{"diff unknown ref", []string{"-repo", repo, "diff", "flights", "main", "v9"}, 1, "not found"},
		{"tag without name", []string{"-repo", repo, "tag", "flights"}, 2, "missing arguments"},
		{"gc bad grace", []string{"-repo", repo, "gc", "-grace", "soon"}, 2, "-grace"},
		{"gc with argument", []string{"-repo", repo, "gc", "now"}, 2, `unexpected argument "now"`},
		{"check with argument", []string{"-repo", repo, "check", "all"}, 2, `unexpected argument "all"`},
		{"push without -remote", []string{"-repo", repo, "push", "flights"}, 2, "-remote s3://BUCKET[/PREFIX] is required"},
		{"push to http", []string{"-repo", repo, "push", "-remote", "http://host/b", "flights"}, 2, "want s3://BUCKET"},
		{"push without bucket", []string{"-repo", repo, "push", "-remote", "s3:///prefix", "flights"}, 2, "want s3://BUCKET"},
		{"push without dataset", []string{"-repo", repo, "push", "-remote", "s3://b"}, 2, "missing arguments"},
		{"pull bad branch", []string{"-repo", repo, "pull", "-remote", "s3://b", "flights", "a..b/../c"}, 2, "bad name"},
		{"help", []string{"-h"}, 0, "usage: dataset -repo DIR"},
		{"command help", []string{"-repo", repo, "checkout", "-h"}, 0, "usage: dataset -repo DIR [-json] checkout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := ds(t, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.msg) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tt.code, tt.msg)
			}
			if code != 0 && stdout != "" {
				t.Errorf("failed command printed %q on stdout", stdout)
			}
		})
	}
	// Failures leave nothing behind: no repository, no checkout folder.
	for _, name := range []string{"missing", "newrepo", "co1", "co2"} {
		if exists(p(name)) {
			t.Errorf("a failed command left %s behind", name)
		}
	}
	// The repository is as it was.
	if got := fields(dsJSON(t, repo, "log", "flights"), "message"); !cmp.Equal(got, []string{"first"}) {
		t.Errorf("log after the failures: %v", got)
	}
}

// TestLocked checks that a repository another process (here: this one)
// has open gives a clear error once -lock-timeout has passed.
func TestLocked(t *testing.T) {
	repo := t.TempDir()
	r, err := version.Open(context.Background(), repo, version.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	code, _, errOut := ds(t, "-repo", repo, "-lock-timeout", "50ms", "check")
	if code != exitFailure || !strings.Contains(errOut, "locked") {
		t.Errorf("exit %d, stderr %q; want 1 and a message saying the repository is locked", code, errOut)
	}
}

// TestParseRemote checks the parsing of -remote and the S3 options taken
// from the environment.
func TestParseRemote(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "eu-west-3")
	u, err := parseRemote("s3://bucket/a/b/")
	if err != nil {
		t.Fatal(err)
	}
	if u.bucket != "bucket" || u.prefix != "a/b" || u.String() != "s3://bucket/a/b" {
		t.Errorf("parsed %+v (%s)", u, u)
	}
	opts := s3Options(u, true)
	if opts.Endpoint != defaultEndpoint || !opts.Secure || opts.Region != "eu-west-3" || opts.Bucket != "bucket" || opts.Prefix != "a/b" || !opts.CreateBucket {
		t.Errorf("options %+v", opts)
	}
	t.Setenv("AWS_ENDPOINT_URL", "http://localhost:9000")
	t.Setenv("AWS_REGION", "us-west-2")
	if opts := s3Options(remoteURL{bucket: "b"}, false); opts.Endpoint != "http://localhost:9000" || opts.Region != "us-west-2" || opts.Prefix != "" {
		t.Errorf("options %+v", opts)
	}
	for _, bad := range []string{"", "s3://", "s3:///p", "gs://b/p", "b/p", "s3://user@b/p", "s3://b:9000/p", "s3://b/p?x=1"} {
		if _, err := parseRemote(bad); err == nil {
			t.Errorf("parseRemote(%q) accepted it", bad)
		}
	}
}

// TestDigestText checks the JSON form of a missing digest.
func TestDigestText(t *testing.T) {
	if got := digestText(store.Digest{}); got != "" {
		t.Errorf("zero digest as %q", got)
	}
	d := store.Sum([]byte("x"))
	if got := digestText(d); got != d.String() {
		t.Errorf("digest as %q", got)
	}
}

// TestDashDash checks that "--" ends the flags, so that a path may start
// with a dash.
func TestDashDash(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	writeFile(t, filepath.Join(dir, "-m"), "dash\n")
	t.Chdir(dir)
	objs := dsJSON(t, repo, "commit", "-name", "odd", "-m", "dash", "--", "-m")
	if len(objs) != 1 || objs[0]["files"] != float64(1) || objs[0]["message"] != "dash" {
		t.Fatalf("commit printed %v", objs)
	}
	dsOK(t, "-repo", repo, "checkout", "odd", "-out", "out")
	if got := readFile(t, filepath.Join(dir, "out", "-m")); got != "dash\n" {
		t.Errorf("checked out -m = %q", got)
	}
}
