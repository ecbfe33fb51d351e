package monitor

import (
	"cmp"
	"slices"
	"strings"
)

// topK counts the values of a categorical column: exactly while it has seen
// at most cap distinct values, then as a Space-Saving summary (Metwally,
// Agrawal and El Abbadi, 2005) of cap counters, merged as in Agarwal et al.,
// "Mergeable Summaries" (2012).
//
// Invariants: every kept value's true count lies in [count−err, count]; every
// value not kept has a true count of at most floor (0 while the counts are
// exact).
type topK struct {
	cap     int
	floor   int64
	idx     map[string]int32
	entries []topEntry
	heap    []int32 // min-heap of entry indexes by count; nil until needed
}

type topEntry struct {
	value      string
	count, err int64
	pos        int32 // position in heap
}

func newTopK(capacity int) *topK {
	return &topK{cap: capacity, idx: make(map[string]int32)}
}

// add counts w occurrences of s. s may point into memory that is reused
// after the call; it is copied when kept.
func (t *topK) add(s string, w int64) {
	if i, ok := t.idx[s]; ok {
		t.entries[i].count += w
		if t.heap != nil {
			t.down(int(t.entries[i].pos))
		}
		return
	}
	if len(t.entries) < t.cap {
		i := int32(len(t.entries))
		t.entries = append(t.entries, topEntry{value: strings.Clone(s), count: t.floor + w, err: t.floor, pos: -1})
		t.idx[t.entries[i].value] = i
		if t.heap != nil {
			t.entries[i].pos = int32(len(t.heap))
			t.heap = append(t.heap, i)
			t.up(len(t.heap) - 1)
		}
		return
	}
	if t.heap == nil {
		t.buildHeap()
	}
	i := t.heap[0]
	e := &t.entries[i]
	t.floor = max(t.floor, e.count)
	delete(t.idx, e.value)
	e.value = strings.Clone(s)
	e.count = t.floor + w
	e.err = t.floor
	t.idx[e.value] = i
	t.down(0)
}

func (t *topK) less(a, b int32) bool {
	ea, eb := &t.entries[a], &t.entries[b]
	if ea.count != eb.count {
		return ea.count < eb.count
	}
	return ea.value > eb.value // evict the larger value first among ties
}

func (t *topK) buildHeap() {
	t.heap = make([]int32, len(t.entries))
	for i := range t.heap {
		t.heap[i] = int32(i)
		t.entries[i].pos = int32(i)
	}
	for i := len(t.heap)/2 - 1; i >= 0; i-- {
		t.down(i)
	}
}

func (t *topK) swap(i, j int) {
	t.heap[i], t.heap[j] = t.heap[j], t.heap[i]
	t.entries[t.heap[i]].pos = int32(i)
	t.entries[t.heap[j]].pos = int32(j)
}

func (t *topK) down(i int) {
	n := len(t.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && t.less(t.heap[r], t.heap[l]) {
			m = r
		}
		if !t.less(t.heap[m], t.heap[i]) {
			return
		}
		t.swap(i, m)
		i = m
	}
}

func (t *topK) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !t.less(t.heap[i], t.heap[p]) {
			return
		}
		t.swap(i, p)
		i = p
	}
}

// sorted returns the kept entries, most frequent first, ties by value.
func (t *topK) sorted() []topEntry {
	s := slices.Clone(t.entries)
	slices.SortFunc(s, func(a, b topEntry) int {
		if c := cmp.Compare(b.count, a.count); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})
	return s
}

// merge adds o's counts into t (same capacity).
func (t *topK) merge(o *topK) {
	all := make([]topEntry, 0, len(t.entries)+len(o.entries))
	for _, e := range t.entries {
		if j, ok := o.idx[e.value]; ok {
			oe := o.entries[j]
			e.count += oe.count
			e.err += oe.err
		} else {
			e.count += o.floor
			e.err += o.floor
		}
		all = append(all, e)
	}
	for _, oe := range o.entries {
		if _, ok := t.idx[oe.value]; ok {
			continue
		}
		oe.count += t.floor
		oe.err += t.floor
		all = append(all, oe)
	}
	floor := t.floor + o.floor
	if len(all) > t.cap {
		slices.SortFunc(all, func(a, b topEntry) int {
			if c := cmp.Compare(b.count, a.count); c != 0 {
				return c
			}
			return strings.Compare(a.value, b.value)
		})
		for _, e := range all[t.cap:] {
			floor = max(floor, e.count)
		}
		all = all[:t.cap]
	}
	t.floor = floor
	t.entries = all
	t.heap = nil
	t.idx = make(map[string]int32, len(all))
	for i := range t.entries {
		t.entries[i].pos = -1
		t.idx[t.entries[i].value] = int32(i)
	}
}

func (t *topK) clone() *topK {
	c := &topK{cap: t.cap, floor: t.floor, entries: slices.Clone(t.entries), idx: make(map[string]int32, len(t.entries))}
	for i := range c.entries {
		c.entries[i].pos = -1
		c.idx[c.entries[i].value] = int32(i)
	}
	return c
}
