package version

import (
	"bytes"
	"container/heap"
	"context"
	"fmt"
	"iter"

	"github.com/kilnml/kiln/store"
)

// Log returns the commit that spec names (see Resolve) and all its
// ancestors, each once, newest first: by Time, and among commits of the
// same Time by ID (byte order, larger first). The sequence stops at the
// first error, which it yields.
func (r *Repository) Log(ctx context.Context, spec string) iter.Seq2[Commit, error] {
	return func(yield func(Commit, error) bool) {
		if err := r.check(); err != nil {
			yield(Commit{}, err)
			return
		}
		c, err := r.Resolve(ctx, spec)
		if err != nil {
			yield(Commit{}, err)
			return
		}
		q := &commitQueue{c}
		seen := map[store.Digest]bool{c.ID: true}
		for q.Len() > 0 {
			if err := ctx.Err(); err != nil {
				yield(Commit{}, err)
				return
			}
			c := heap.Pop(q).(Commit)
			if !yield(c, nil) {
				return
			}
			for _, p := range c.Parents {
				if seen[p] {
					continue
				}
				seen[p] = true
				pc, err := r.readCommit(ctx, p)
				if err != nil {
					yield(Commit{}, fmt.Errorf("version: log %s: parent of %s: %w", quoteShort(spec), c.ID, err))
					return
				}
				heap.Push(q, pc)
			}
		}
	}
}

// commitQueue is a max-heap of commits by (Time, ID).
type commitQueue []Commit

func (q commitQueue) Len() int { return len(q) }
func (q commitQueue) Less(i, j int) bool {
	if !q[i].Time.Equal(q[j].Time) {
		return q[i].Time.After(q[j].Time)
	}
	return bytes.Compare(q[i].ID[:], q[j].ID[:]) > 0
}
func (q commitQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *commitQueue) Push(x any)   { *q = append(*q, x.(Commit)) }
func (q *commitQueue) Pop() any {
	old := *q
	c := old[len(old)-1]
	*q = old[:len(old)-1]
	return c
}

// reachable calls fn once for each commit reachable from heads (following
// all parents), with its tree. It stops at the first error.
func (r *Repository) reachable(ctx context.Context, heads []store.Digest, fn func(Commit, []Entry) error) error {
	return r.walkCommits(ctx, heads, func(c Commit, tree []Entry, err error) error {
		if err != nil {
			return err
		}
		return fn(c, tree)
	})
}

// walkCommits visits each commit reachable from heads once. visit gets
// the commit and its tree, or the error reading either: a commit that
// cannot be read is zero but for its ID, and its parents are not followed.
// An error that visit returns stops the walk.
func (r *Repository) walkCommits(ctx context.Context, heads []store.Digest, visit func(Commit, []Entry, error) error) error {
	seen := make(map[store.Digest]bool)
	stack := append([]store.Digest(nil), heads...)
	var lastTree store.Digest
	var lastEntries []Entry
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[id] {
			continue
		}
		seen[id] = true
		c, err := r.readCommit(ctx, id)
		if err != nil {
			if err := visit(Commit{ID: id}, nil, fmt.Errorf("version: %w", err)); err != nil {
				return err
			}
			continue
		}
		var tree []Entry
		if c.Tree == lastTree && lastEntries != nil {
			tree = lastEntries
		} else if tree, err = r.readTree(ctx, c.Tree); err != nil {
			err = fmt.Errorf("version: commit %s: %w", id, err)
		} else {
			lastTree, lastEntries = c.Tree, tree
		}
		if err := visit(c, tree, err); err != nil {
			return err
		}
		for i := len(c.Parents) - 1; i >= 0; i-- {
			if !seen[c.Parents[i]] {
				stack = append(stack, c.Parents[i])
			}
		}
	}
	return nil
}
