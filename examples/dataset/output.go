package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/kilnml/kiln/store"
	"github.com/kilnml/kiln/version"
)

// The JSON objects printed with -json, one per line. Digests are in their
// text form ("blake3:…"); a missing one is "".

// commitJSON is a commit, as log prints them.
type commitJSON struct {
	Type    string            `json:"type"` // "commit"
	ID      string            `json:"id"`
	Dataset string            `json:"dataset"`
	Parents []string          `json:"parents"`
	Tree    string            `json:"tree"`
	Message string            `json:"message"`
	Author  string            `json:"author"`
	Time    time.Time         `json:"time"`
	Meta    map[string]string `json:"meta,omitempty"`
}

// commitResult is what commit prints: the new commit, its branch and the
// size of its tree.
type commitResult struct {
	commitJSON
	Branch string `json:"branch"`
	Files  int    `json:"files"`
	Bytes  int64  `json:"bytes"`
}

func toCommitJSON(c version.Commit) commitJSON {
	parents := make([]string, len(c.Parents))
	for i, p := range c.Parents {
		parents[i] = p.String()
	}
	return commitJSON{Type: "commit", ID: c.ID.String(), Dataset: c.Dataset, Parents: parents,
		Tree: c.Tree.String(), Message: c.Message, Author: c.Author, Time: c.Time, Meta: c.Meta}
}

// entryJSON is one file of a commit (or of a working folder).
type entryJSON struct {
	Path   string `json:"path"`
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
	Mode   string `json:"mode"` // octal: "0644" or "0755"
	// Rows is set for tables.
	Rows *int64 `json:"rows,omitempty"`
}

func toEntryJSON(e *version.Entry) *entryJSON {
	if e == nil {
		return nil
	}
	j := &entryJSON{Path: e.Path, Digest: digestText(e.Digest), Size: e.Size, Mode: fmt.Sprintf("%04o", e.Mode.Perm())}
	if e.Table != nil {
		rows := e.Table.Rows
		j.Rows = &rows
	}
	return j
}

// changeJSON is an entry that differs: in status, between a folder and a
// commit; in diff, between two commits (with the table's changes).
type changeJSON struct {
	Type      string             `json:"type"` // "change"
	Path      string             `json:"path"`
	Kind      string             `json:"kind"` // "added", "removed" or "modified"
	Old       *entryJSON         `json:"old,omitempty"`
	New       *entryJSON         `json:"new,omitempty"`
	RowsDelta int64              `json:"rows_delta,omitempty"`
	Schema    []schemaChangeJSON `json:"schema,omitempty"`
	Columns   []columnDeltaJSON  `json:"columns,omitempty"`
}

type schemaChangeJSON struct {
	Column  string `json:"column"`
	Kind    string `json:"kind"` // "added", "removed" or "type"
	OldType string `json:"old_type,omitempty"`
	NewType string `json:"new_type,omitempty"`
}

type columnDeltaJSON struct {
	Column        string   `json:"column"`
	NullsDelta    int64    `json:"nulls_delta"`
	DistinctDelta int64    `json:"distinct_delta"`
	OldMin        string   `json:"old_min,omitempty"`
	NewMin        string   `json:"new_min,omitempty"`
	OldMax        string   `json:"old_max,omitempty"`
	NewMax        string   `json:"new_max,omitempty"`
	MeanDelta     *float64 `json:"mean_delta,omitempty"`
}

func toDiffChangeJSON(d version.EntryDiff) changeJSON {
	j := changeJSON{Type: "change", Path: d.Path, Kind: string(d.Kind), Old: toEntryJSON(d.Old), New: toEntryJSON(d.New), RowsDelta: d.RowsDelta}
	for _, s := range d.Schema {
		j.Schema = append(j.Schema, schemaChangeJSON{Column: s.Column, Kind: s.Kind, OldType: s.OldType, NewType: s.NewType})
	}
	for _, c := range d.Columns {
		j.Columns = append(j.Columns, columnDeltaJSON{Column: c.Column, NullsDelta: c.NullsDelta, DistinctDelta: c.DistinctDelta,
			OldMin: c.OldMin, NewMin: c.NewMin, OldMax: c.OldMax, NewMax: c.NewMax, MeanDelta: c.MeanDelta})
	}
	return j
}

// statusJSON ends the output of status.
type statusJSON struct {
	Type     string `json:"type"` // "status"
	Dataset  string `json:"dataset"`
	Commit   string `json:"commit"`
	Dir      string `json:"dir"`
	Files    int    `json:"files"`    // regular files in the folder
	Rehashed int    `json:"rehashed"` // files read again
	Changes  int    `json:"changes"`
	Clean    bool   `json:"clean"`
}

// diffJSON ends the output of diff.
type diffJSON struct {
	Type     string `json:"type"` // "diff"
	Dataset  string `json:"dataset"`
	From     string `json:"from"`
	To       string `json:"to"`
	Changes  int    `json:"changes"`
	Added    int    `json:"added"`
	Removed  int    `json:"removed"`
	Modified int    `json:"modified"`
}

type checkoutJSON struct {
	Type    string `json:"type"` // "checkout"
	Dataset string `json:"dataset"`
	Commit  string `json:"commit"`
	Out     string `json:"out"`
	Files   int    `json:"files"` // files written
	Bytes   int64  `json:"bytes"` // bytes written
	Skipped int    `json:"skipped"`
}

type tagJSON struct {
	Type    string `json:"type"` // "tag"
	Dataset string `json:"dataset"`
	Tag     string `json:"tag"`
	Commit  string `json:"commit"`
}

// gcJSON is store.GCStats.
type gcJSON struct {
	Type         string  `json:"type"` // "gc"
	DryRun       bool    `json:"dry_run"`
	Packs        int     `json:"packs"`
	PackBytes    int64   `json:"pack_bytes"`
	LiveBlobs    int     `json:"live_blobs"`
	LiveChunks   int     `json:"live_chunks"`
	Missing      int     `json:"missing"`
	Young        int     `json:"young"`
	Deleted      int     `json:"deleted"`
	Repacked     int     `json:"repacked"`
	Written      int     `json:"written"`
	Orphans      int     `json:"orphans"`
	BytesCopied  int64   `json:"bytes_copied"`
	BytesFreed   int64   `json:"bytes_freed"`
	BytesAfter   int64   `json:"bytes_after"`
	DeadPackKeys int     `json:"dead_pack_keys"`
	Seconds      float64 `json:"seconds"`
}

func toGCJSON(s store.GCStats, dryRun bool) gcJSON {
	return gcJSON{Type: "gc", DryRun: dryRun, Packs: s.Packs, PackBytes: s.PackBytes, LiveBlobs: s.LiveBlobs,
		LiveChunks: s.LiveChunks, Missing: s.Missing, Young: s.Young, Deleted: s.Deleted, Repacked: s.Repacked,
		Written: s.Written, Orphans: s.Orphans, BytesCopied: s.BytesCopied, BytesFreed: s.BytesFreed,
		BytesAfter: s.BytesAfter, DeadPackKeys: s.DeadPackKeys, Seconds: s.Elapsed.Seconds()}
}

type problemJSON struct {
	Type    string `json:"type"` // "problem"
	Problem string `json:"problem"`
}

// checkJSON ends the output of check.
type checkJSON struct {
	Type         string `json:"type"` // "check"
	Clean        bool   `json:"clean"`
	Problems     int    `json:"problems"`
	Commits      int    `json:"commits"`
	Refs         int    `json:"refs"`
	Packs        int    `json:"packs"`
	Chunks       int    `json:"chunks"`
	Manifests    int    `json:"manifests"`
	Bytes        int64  `json:"bytes"`
	Unreferenced int    `json:"unreferenced"` // packs without index: harmless leftovers GC removes
}

// refJSON is a ref that push created or moved on the remote, or that pull
// created or moved in the repository.
type refJSON struct {
	Type    string `json:"type"` // "ref"
	Dataset string `json:"dataset"`
	Kind    string `json:"kind"` // "heads" (branch) or "tags"
	Name    string `json:"name"`
	Old     string `json:"old"` // "" when created
	New     string `json:"new"`
}

// transferJSON ends the output of push and pull.
type transferJSON struct {
	Type    string `json:"type"` // "push" or "pull"
	Dataset string `json:"dataset"`
	Remote  string `json:"remote"`
	Commits int    `json:"commits"`
	Blobs   int    `json:"blobs"`
	Bytes   int64  `json:"bytes"`
	Refs    int    `json:"refs"`
}

// digestText is d's text form, or "" for the zero digest.
func digestText(d store.Digest) string {
	if d.IsZero() {
		return ""
	}
	return d.String()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
