package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parquet-go/parquet-go"
)

// Row is one prediction in the Parquet log: the champion's answer to a
// request, or the challenger's shadow score of the same request (same
// RequestID, Role "shadow").
type Row struct {
	Time        time.Time `parquet:"time,timestamp(microsecond)"`
	RequestID   string    `parquet:"request_id"`
	Role        string    `parquet:"role,dict"`  // "champion" or "shadow"
	Model       string    `parquet:"model,dict"` // "flight_delay/3"
	Origin      string    `parquet:"origin,dict"`
	Destination string    `parquet:"destination,dict"`
	Distance    float64   `parquet:"distance"`
	Departure   time.Time `parquet:"departure,timestamp(microsecond)"`
	// Probability is P(delay > 15 minutes); 0 when Error is set.
	Probability float64 `parquet:"probability"`
	// Error is why a shadow prediction failed (champion failures are
	// answered with an error and not logged).
	Error string `parquet:"error,optional"`
	// LatencyUS is the model's prediction time in microseconds, online
	// feature reads included.
	LatencyUS int64 `parquet:"latency_us"`
	// Inputs are the model's raw inputs (story.Prediction.Inputs).
	Inputs map[string]float64 `parquet:"inputs"`
}

// errLogClosed is returned by Log after Close.
var errLogClosed = errors.New("prediction log: closed")

// logOptions configure a predLog.
type logOptions struct {
	// Path names the log: "DIR/predictions.parquet" writes the files
	// DIR/predictions-<start>-<seq>.parquet.
	Path string
	// Queue is the capacity of the queue between the request handlers and
	// the writer (0: 8192). A full queue blocks Log: backpressure, never a
	// dropped row.
	Queue int
	// FileRows closes a file and starts the next one after this many rows
	// (0: 1,000,000).
	FileRows int64
	// FileAge closes a file this long after it was opened (0: 5 minutes), so
	// that a quiet service still publishes its rows.
	FileAge time.Duration
	// GroupRows is the number of rows per Parquet row group (0: 10,000): the
	// rows the writer buffers in memory.
	GroupRows int64
	Logger    *slog.Logger
}

// predLog writes prediction rows to rotating Parquet files with
// parquet-go's typed writer. Log enqueues rows into a bounded queue that one
// goroutine drains; when the writer falls behind, Log blocks (backpressure)
// instead of dropping. Files are written under a hidden temporary name and
// renamed when complete, so that every visible file is a valid Parquet file.
// Close drains the queue and closes the last file.
type predLog struct {
	opts   logOptions
	ch     chan Row
	mu     sync.RWMutex // held shared by Log while sending; Close takes it to close ch
	closed bool
	done   chan struct{}
	err    atomic.Pointer[error] // first write error: later Logs fail with it

	stem, ext string
	start     string // the start time in the file names
	seq       int

	// writer state, owned by the writer goroutine
	f       *os.File
	w       *parquet.GenericWriter[Row]
	tmp     string
	final   string
	opened  time.Time
	rows    int64 // rows in the open file
	grouped int64 // rows in the open row group

	// counters
	written atomic.Int64 // rows in closed or open files
	files   atomic.Int64 // files completed
	blocked atomic.Int64 // Log calls that found the queue full
	waited  atomic.Int64 // nanoseconds Log calls spent waiting for room
	paths   []string     // completed files, guarded by pmu
	pmu     sync.Mutex
}

func newPredLog(opts logOptions) (*predLog, error) {
	if opts.Path == "" {
		return nil, errors.New("prediction log: no path")
	}
	if opts.Queue <= 0 {
		opts.Queue = 8192
	}
	if opts.FileRows <= 0 {
		opts.FileRows = 1_000_000
	}
	if opts.FileAge <= 0 {
		opts.FileAge = 5 * time.Minute
	}
	if opts.GroupRows <= 0 {
		opts.GroupRows = 10_000
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	dir := filepath.Dir(opts.Path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("prediction log: %w", err)
	}
	ext := filepath.Ext(opts.Path)
	if ext == "" {
		ext = ".parquet"
	}
	l := &predLog{
		opts:  opts,
		ch:    make(chan Row, opts.Queue),
		done:  make(chan struct{}),
		stem:  strings.TrimSuffix(opts.Path, filepath.Ext(opts.Path)),
		ext:   ext,
		start: time.Now().UTC().Format("20060102T150405Z"),
	}
	go l.loop()
	return l, nil
}

// Log enqueues rows, waiting for room while the queue is full. It fails
// when ctx ends first, after Close, or after a write error (the log is then
// broken and the service must not answer as if its predictions were kept).
func (l *predLog) Log(ctx context.Context, rows ...Row) error {
	if p := l.err.Load(); p != nil {
		return *p
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return errLogClosed
	}
	for _, r := range rows {
		select {
		case l.ch <- r:
			continue
		default:
		}
		l.blocked.Add(1)
		t := time.Now()
		select {
		case l.ch <- r:
			l.waited.Add(int64(time.Since(t)))
		case <-ctx.Done():
			l.waited.Add(int64(time.Since(t)))
			return fmt.Errorf("prediction log: queue full: %w", ctx.Err())
		}
	}
	return nil
}

// Queued returns the rows waiting in the queue.
func (l *predLog) Queued() int { return len(l.ch) }

// Files returns the completed files, in order.
func (l *predLog) Files() []string {
	l.pmu.Lock()
	defer l.pmu.Unlock()
	return append([]string(nil), l.paths...)
}

// Close stops taking rows, writes every queued row and closes the last
// file. It returns the first write error.
func (l *predLog) Close() error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.ch)
	}
	l.mu.Unlock()
	<-l.done
	if p := l.err.Load(); p != nil {
		return *p
	}
	return nil
}

func (l *predLog) fail(err error) {
	err = fmt.Errorf("prediction log: %w", err)
	if l.err.CompareAndSwap(nil, &err) {
		l.opts.Logger.Error("prediction log failed; predictions are refused from now on", "err", err)
	}
}

// loop is the writer goroutine.
func (l *predLog) loop() {
	defer close(l.done)
	tick := time.NewTicker(min(l.opts.FileAge/4, time.Second))
	defer tick.Stop()
	batch := make([]Row, 0, 1024)
	for {
		select {
		case r, ok := <-l.ch:
			if !ok {
				if err := l.closeFile(); err != nil {
					l.fail(err)
				}
				return
			}
			batch = append(batch[:0], r)
		drain:
			for len(batch) < cap(batch) {
				select {
				case r, ok := <-l.ch:
					if !ok {
						break drain // the next receive sees the close
					}
					batch = append(batch, r)
				default:
					break drain
				}
			}
			if l.err.Load() != nil {
				continue // broken: keep draining so that senders never hang
			}
			if err := l.write(batch); err != nil {
				l.fail(err)
			}
			clear(batch) // drop the maps
		case <-tick.C:
			if l.f != nil && time.Since(l.opened) >= l.opts.FileAge && l.err.Load() == nil {
				if err := l.closeFile(); err != nil {
					l.fail(err)
				}
			}
		}
	}
}

// write appends rows to the open file, opening, flushing row groups and
// rotating as needed.
func (l *predLog) write(rows []Row) error {
	for len(rows) > 0 {
		if l.f == nil {
			if err := l.openFile(); err != nil {
				return err
			}
		}
		n := int64(len(rows))
		n = min(n, l.opts.FileRows-l.rows, l.opts.GroupRows-l.grouped)
		if _, err := l.w.Write(rows[:n]); err != nil {
			return err
		}
		rows = rows[n:]
		l.rows += n
		l.grouped += n
		l.written.Add(n)
		if l.grouped >= l.opts.GroupRows {
			if err := l.w.Flush(); err != nil {
				return err
			}
			l.grouped = 0
		}
		if l.rows >= l.opts.FileRows {
			if err := l.closeFile(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (l *predLog) openFile() error {
	for { // skip names taken, by an earlier run started in the same second
		l.seq++
		l.final = fmt.Sprintf("%s-%s-%06d%s", l.stem, l.start, l.seq, l.ext)
		if _, err := os.Lstat(l.final); errors.Is(err, os.ErrNotExist) {
			break
		}
	}
	l.tmp = filepath.Join(filepath.Dir(l.final), "."+filepath.Base(l.final)+".tmp")
	f, err := os.Create(l.tmp)
	if err != nil {
		return err
	}
	l.f = f
	l.w = parquet.NewGenericWriter[Row](f, parquet.Compression(&parquet.Zstd), parquet.CreatedBy("kiln service", "", ""))
	l.opened = time.Now()
	l.rows, l.grouped = 0, 0
	return nil
}

// closeFile completes the open file (footer, fsync, rename); no-op when
// none is open.
func (l *predLog) closeFile() error {
	if l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	err := l.w.Close()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(l.tmp, l.final)
	}
	if err != nil {
		return fmt.Errorf("close %s: %w", l.final, err)
	}
	l.files.Add(1)
	l.pmu.Lock()
	l.paths = append(l.paths, l.final)
	l.pmu.Unlock()
	l.opts.Logger.Info("prediction log file written", "path", l.final, "rows", l.rows)
	return nil
}
