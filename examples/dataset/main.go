// Command dataset versions datasets in a Kiln repository (package version)
// from the command line, as Git versions source code. Other programs can
// drive it: with -json every result is one JSON object per line on standard
// output.
//
//	go run ./examples/dataset -repo DIR [-json] [-lock-timeout DUR] COMMAND [ARGS]
//
// Commands (N is a dataset name; N[@REF] a dataset spec such as "flights",
// "flights@v1", "flights@main~2" or "flights@3fa4c2d1", see
// version.Repository.Resolve; flags may come before or after the other
// arguments, and "--" ends the flags):
//
//	commit -name N -m MSG [-branch B] [-parent REF] [-author A] [-meta K=V]... PATH...
//	    commit files and folders (a folder's contents go at the root of the
//	    tree) on a branch of N (default main); -parent makes the commit fail
//	    with a conflict if the branch moved from REF meanwhile
//	log [-n COUNT] N[@REF]
//	    list a commit and its ancestors, newest first
//	checkout N[@REF] -out DIR [-force]
//	    write the files of a commit into DIR; files that differ stop it
//	    before anything is written, unless -force
//	status N[@REF] PATH
//	    compare the folder PATH with a commit (only files whose size, mtime
//	    or inode changed are read again)
//	diff N REF1 REF2
//	    compare two versions of N: entries, schemas, row counts, statistics
//	tag N[@REF] TAG
//	    name a commit; tags never move
//	gc [-grace DUR] [-dry-run]
//	    delete data nothing refers to any more and that is older than DUR
//	    (default 24h; 0 deletes fresh data too: only while nothing else
//	    writes to the repository)
//	check
//	    verify the store and every commit the refs reach
//	push -remote s3://BUCKET[/PREFIX] [-create-bucket] N [REF...]
//	    send branches and tags (default: all of them) and the data they
//	    reach to a remote; a branch moves there only by fast-forward
//	pull -remote s3://BUCKET[/PREFIX] N [BRANCH...]
//	    fetch N from a remote and fast-forward local branches (default:
//	    every branch of the remote) to the remote's
//
// The S3 endpoint and credentials come from the environment, as for the AWS
// tools: AWS_ENDPOINT_URL_S3 or else AWS_ENDPOINT_URL (default
// https://s3.amazonaws.com; an http:// URL means plain HTTP),
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, and
// AWS_REGION or AWS_DEFAULT_REGION.
//
// commit and pull create the repository when DIR holds none (and remove it
// again if they fail); the other commands refuse a folder without one. Human-readable output goes to
// standard output by default. With -json each commit, changed entry, ref
// moved or problem found is one JSON object on its own line, and commands
// end with a summary object; every object has a "type" field saying what it
// is ("commit", "change", "status", "diff", "checkout", "tag", "gc",
// "problem", "check", "ref", "push", "pull").
//
// Errors go to standard error. The exit status is 0 on success, 1 on
// failure, 2 for bad usage (unknown command or flag, missing argument, bad
// name or spec) and 3 for a conflict (a branch moved meanwhile, a push or
// pull that is not a fast-forward, a tag that exists, files that checkout
// would overwrite). A failed checkout into a folder that did not exist
// leaves no folder behind; into an existing one, each file is either its
// old or its new content.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/kilnml/kiln/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit statuses.
const (
	exitOK       = 0
	exitFailure  = 1
	exitUsage    = 2
	exitConflict = 3
)

var (
	// errUsage marks errors of the command line: exit status 2.
	errUsage = errors.New("usage")
	// errReported marks errors the flag package has already printed.
	errReported = errors.New("reported")
)

// usagef returns an error of the command line.
func usagef(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, a...))
}

const usageText = `usage: dataset -repo DIR [-json] [-lock-timeout DUR] COMMAND [ARGS]

commands:
  commit -name N -m MSG [-branch B] [-parent REF] [-author A] [-meta K=V]... PATH...
  log [-n COUNT] N[@REF]
  checkout N[@REF] -out DIR [-force]
  status N[@REF] PATH
  diff N REF1 REF2
  tag N[@REF] TAG
  gc [-grace DUR] [-dry-run]
  check
  push -remote s3://BUCKET[/PREFIX] [-create-bucket] N [REF...]
  pull -remote s3://BUCKET[/PREFIX] N [BRANCH...]

global flags:
`

// app holds what every command needs.
type app struct {
	repoDir     string
	json        bool
	lockTimeout time.Duration
	stdout      io.Writer
	stderr      io.Writer
	enc         *json.Encoder
}

// command runs one command with its arguments (after the command name).
type command func(ctx context.Context, a *app, args []string) error

var commands = map[string]command{
	"commit":   cmdCommit,
	"log":      cmdLog,
	"checkout": cmdCheckout,
	"status":   cmdStatus,
	"diff":     cmdDiff,
	"tag":      cmdTag,
	"gc":       cmdGC,
	"check":    cmdCheck,
	"push":     cmdPush,
	"pull":     cmdPull,
}

// run runs the command line args and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dataset", flag.ContinueOnError)
	fs.SetOutput(stderr)
	a := &app{stdout: stdout, stderr: stderr}
	fs.StringVar(&a.repoDir, "repo", "", "repository folder (required)")
	fs.BoolVar(&a.json, "json", false, "print one JSON object per line")
	fs.DurationVar(&a.lockTimeout, "lock-timeout", 10*time.Second, "how long to wait for another process using the repository")
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprintln(stderr, "dataset: no command")
		fs.Usage()
		return exitUsage
	}
	if a.repoDir == "" {
		fmt.Fprintln(stderr, "dataset: -repo DIR is required")
		return exitUsage
	}
	cmd, ok := commands[rest[0]]
	if !ok {
		fmt.Fprintf(stderr, "dataset: unknown command %q\n", rest[0])
		fs.Usage()
		return exitUsage
	}
	a.enc = json.NewEncoder(stdout)
	a.enc.SetEscapeHTML(false)
	err := cmd(ctx, a, rest[1:])
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errReported):
		return exitUsage
	}
	msg := err.Error()
	if errors.Is(err, errUsage) {
		msg = strings.TrimPrefix(msg, "usage: ")
	}
	fmt.Fprintf(stderr, "dataset %s: %s\n", rest[0], msg)
	switch {
	case errors.Is(err, errUsage), errors.Is(err, version.ErrBadName):
		return exitUsage
	case errors.Is(err, version.ErrConflict):
		return exitConflict
	}
	return exitFailure
}

// open opens the repository. Unless create is set, a folder that holds no
// repository is refused rather than turned into an empty one.
func (a *app) open(ctx context.Context, create bool) (*version.Repository, error) {
	if !create {
		if err := a.requireRepo(); err != nil {
			return nil, err
		}
	}
	return version.Open(ctx, a.repoDir, version.Options{LockTimeout: a.lockTimeout})
}

// requireRepo fails unless -repo names a folder holding a repository.
func (a *app) requireRepo() error {
	// A repository keeps its metadata under meta/ (see version.Repository).
	if _, err := os.Stat(filepath.Join(a.repoDir, "meta")); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no repository in %s", a.repoDir)
		}
		return err
	}
	return nil
}

// withRepo opens the repository, calls fn and closes it, returning the
// first error. A repository that create made for the command is removed
// again if the command fails, so that a failed command leaves nothing behind.
func (a *app) withRepo(ctx context.Context, create bool, fn func(*version.Repository) error) error {
	made := ""
	if create {
		var err error
		if made, err = firstMissing(a.repoDir); err != nil {
			return err
		}
	}
	r, err := a.open(ctx, create)
	if err == nil {
		err = fn(r)
		if cerr := r.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil && made != "" {
		os.RemoveAll(made)
	}
	return err
}

// emit prints v as one JSON line.
func (a *app) emit(v any) {
	a.enc.Encode(v)
}

// printf prints human-readable output.
func (a *app) printf(format string, args ...any) {
	fmt.Fprintf(a.stdout, format, args...)
}

// flags is the flag set of a command with its usage line.
type flags struct {
	*flag.FlagSet
	usage string
}

// newFlags returns the flag set of a command; usage is its synopsis.
func (a *app) newFlags(name, usage string) flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.Usage = func() {
		fmt.Fprintf(a.stderr, "usage: dataset -repo DIR [-json] %s\n", usage)
		fs.PrintDefaults()
	}
	return flags{fs, usage}
}

// parse parses args, allowing flags between the positional arguments
// ("--" ends the flags), and checks that there are between min and max
// positional arguments (max < 0: no limit).
func (fs flags) parse(args []string, min, max int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errReported
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch {
	case len(pos) < min:
		return nil, usagef("missing arguments; usage: %s", fs.usage)
	case max >= 0 && len(pos) > max:
		return nil, usagef("unexpected argument %q; usage: %s", pos[max], fs.usage)
	}
	return pos, nil
}
