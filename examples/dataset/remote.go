package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/kilnml/kiln/store/s3"
	"github.com/kilnml/kiln/version"
)

// defaultEndpoint is the S3 endpoint when the environment names none.
const defaultEndpoint = "https://s3.amazonaws.com"

// remoteURL is a parsed -remote s3://BUCKET[/PREFIX].
type remoteURL struct {
	bucket, prefix string
}

func (u remoteURL) String() string {
	if u.prefix == "" {
		return "s3://" + u.bucket
	}
	return "s3://" + u.bucket + "/" + u.prefix
}

// parseRemote parses a -remote flag.
func parseRemote(s string) (remoteURL, error) {
	if s == "" {
		return remoteURL{}, usagef("-remote s3://BUCKET[/PREFIX] is required")
	}
	u, err := url.Parse(s)
	if err != nil {
		return remoteURL{}, usagef("-remote: %v", err)
	}
	if u.Scheme != "s3" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Port() != "" {
		return remoteURL{}, usagef("-remote %q: want s3://BUCKET or s3://BUCKET/PREFIX", s)
	}
	return remoteURL{bucket: u.Host, prefix: strings.Trim(u.Path, "/")}, nil
}

// s3Options are the options of the S3 backend of remote u, from the
// environment: AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, AWS_REGION or
// AWS_DEFAULT_REGION. The credentials are left empty, which makes s3.New
// read AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
func s3Options(u remoteURL, createBucket bool) s3.Options {
	endpoint := cmpOr(os.Getenv("AWS_ENDPOINT_URL_S3"), os.Getenv("AWS_ENDPOINT_URL"), defaultEndpoint)
	return s3.Options{
		Endpoint: endpoint,
		// A bare host gets HTTPS; an http:// or https:// URL says which.
		Secure:       true,
		Bucket:       u.bucket,
		Prefix:       u.prefix,
		Region:       cmpOr(os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION")),
		CreateBucket: createBucket,
	}
}

func cmpOr(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// openRemote connects to the remote at u.
func openRemote(ctx context.Context, u remoteURL, createBucket bool) (*version.Remote, error) {
	b, err := s3.New(ctx, s3Options(u, createBucket))
	if err != nil {
		return nil, fmt.Errorf("remote %s: %w", u, err)
	}
	rm, err := version.NewRemote(ctx, b, version.RemoteOptions{})
	if err != nil {
		return nil, fmt.Errorf("remote %s: %w", u, err)
	}
	return rm, nil
}

// withRemote connects to the remote, opens the repository, calls fn and
// closes both, returning the first error. The remote comes first so that a
// pull from a remote that cannot be reached creates no repository.
func (a *app) withRemote(ctx context.Context, create bool, u remoteURL, createBucket bool, fn func(*version.Repository, *version.Remote) error) error {
	if !create {
		// Refuse a missing repository before going to the network.
		if err := a.requireRepo(); err != nil {
			return err
		}
	}
	rm, err := openRemote(ctx, u, createBucket)
	if err != nil {
		return err
	}
	err = a.withRepo(ctx, create, func(r *version.Repository) error { return fn(r, rm) })
	if cerr := rm.Close(); err == nil {
		err = cerr
	}
	return err
}

func cmdPush(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("push", "push -remote s3://BUCKET[/PREFIX] [-create-bucket] N [REF...]")
	remote := fs.String("remote", "", "remote `s3://BUCKET[/PREFIX]` (required)")
	createBucket := fs.Bool("create-bucket", false, "create the bucket if it does not exist")
	pos, err := fs.parse(args, 1, -1)
	if err != nil {
		return err
	}
	u, err := parseRemote(*remote)
	if err != nil {
		return err
	}
	dataset, refs := pos[0], pos[1:]
	if err := version.ValidName(dataset); err != nil {
		return err
	}
	return a.withRemote(ctx, false, u, *createBucket, func(r *version.Repository, rm *version.Remote) error {
		st, err := r.Push(ctx, rm, dataset, refs...)
		// Refs that could be pushed are, even when others conflict.
		if err == nil || len(st.Refs) > 0 {
			a.printTransfer("push", dataset, u, st)
		}
		return err
	})
}

func cmdPull(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("pull", "pull -remote s3://BUCKET[/PREFIX] N [BRANCH...]")
	remote := fs.String("remote", "", "remote `s3://BUCKET[/PREFIX]` (required)")
	pos, err := fs.parse(args, 1, -1)
	if err != nil {
		return err
	}
	u, err := parseRemote(*remote)
	if err != nil {
		return err
	}
	dataset, branches := pos[0], pos[1:]
	if err := version.ValidName(dataset); err != nil {
		return err
	}
	for _, b := range branches {
		if err := version.ValidName(b); err != nil {
			return err
		}
	}
	return a.withRemote(ctx, true, u, false, func(r *version.Repository, rm *version.Remote) error {
		if len(branches) == 0 {
			refs, err := rm.Refs(ctx, dataset)
			if err != nil {
				return err
			}
			for _, ref := range refs {
				if ref.Kind == version.BranchRef {
					branches = append(branches, ref.Name)
				}
			}
			if len(branches) == 0 {
				return fmt.Errorf("dataset %q has no branch on remote %s: %w", dataset, u, version.ErrNotFound)
			}
		}
		// Each Pull fetches; after the first the objects are here and
		// the fetch only reads the remote's refs.
		var total version.TransferStats
		var errs []error
		for _, b := range branches {
			st, err := r.Pull(ctx, rm, dataset, b)
			total.Commits += st.Commits
			total.Blobs += st.Blobs
			total.Bytes += st.Bytes
			total.Refs = append(total.Refs, st.Refs...)
			if err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) == 0 || len(total.Refs) > 0 {
			a.printTransfer("pull", dataset, u, total)
		}
		return errors.Join(errs...)
	})
}

// printTransfer prints the refs a push or pull moved and its totals.
func (a *app) printTransfer(verb, dataset string, u remoteURL, st version.TransferStats) {
	for _, ru := range st.Refs {
		if a.json {
			a.emit(refJSON{Type: "ref", Dataset: ru.Ref.Dataset, Kind: string(ru.Ref.Kind), Name: ru.Ref.Name,
				Old: digestText(ru.Old), New: digestText(ru.New)})
			continue
		}
		from := "(new)"
		if !ru.Old.IsZero() {
			from = shortID(ru.Old)
		}
		to := "(deleted)"
		if !ru.New.IsZero() {
			to = shortID(ru.New)
		}
		kind := "branch"
		if ru.Ref.Kind == version.TagRef {
			kind = "tag"
		}
		a.printf("  %-6s %s@%s: %s -> %s\n", kind, ru.Ref.Dataset, ru.Ref.Name, from, to)
	}
	if a.json {
		a.emit(transferJSON{Type: verb, Dataset: dataset, Remote: u.String(), Commits: st.Commits, Blobs: st.Blobs, Bytes: st.Bytes, Refs: len(st.Refs)})
		return
	}
	dir := "to"
	if verb == "pull" {
		dir = "from"
	}
	a.printf("%s %s %s %s: %s, %s (%s) copied, %s updated\n", verb, dataset, dir, u,
		count(st.Commits, "commit"), count(st.Blobs, "blob"), bytesText(st.Bytes), count(len(st.Refs), "ref"))
}
