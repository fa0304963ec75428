package report

import (
	"bufio"
	"bytes"
	"container/heap"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
)

// sortMemory is how many bytes of records a recordSorter holds before it
// sorts them and writes them out as a run (a variable for the tests).
var sortMemory = 4 << 20

// The runs are merged through a read buffer each, of sortMemory shared
// among them, within these bounds.
const (
	minRunBuffer = 4 << 10
	maxRunBuffer = 32 << 10
)

// recordSorter sorts byte strings (records), in bytes.Compare order, in
// bounded memory: an external merge sort. Records are held until they
// take sortMemory, then sorted and written to a spool (memory, then an
// unlinked temporary file) as a run; each then walks the runs at once, a
// buffer of each. A report's users are built this way from records of
// each user's sessions, conversations and contact lists (users.go): held
// in maps, they grew with the whole capture's users and sessions, and
// made the peak of a large capture's memory (242 MiB of RSS for a 6 GB
// capture, 95 MiB since). So is the index of the document (index.go).
type recordSorter struct {
	recs [][]byte // held, each its own slice of buf
	buf  []byte
	held int // bytes held, slice headers included
	sp   spool
	out  []byte // a run being written
	runs []sortRun
	// merged is how many runs each merged, and passes how many merges
	// of some of them into a longer run it took first (for the tests).
	merged, passes int
}

type sortRun struct{ off, n int64 }

// recordHeader is what holding a record costs besides its bytes.
const recordHeader = 24

// add adds a copy of rec.
func (s *recordSorter) add(rec []byte) error {
	if len(s.buf)+len(rec) > cap(s.buf) {
		// A new chunk: the records held keep the old one.
		s.buf = make([]byte, 0, max(64<<10, len(rec)))
	}
	start := len(s.buf)
	s.buf = append(s.buf, rec...)
	s.recs = append(s.recs, s.buf[start:len(s.buf):len(s.buf)])
	s.held += len(rec) + recordHeader
	if s.held >= sortMemory {
		return s.spill()
	}
	return nil
}

// spill writes the records held as a sorted run.
func (s *recordSorter) spill() error {
	if len(s.recs) == 0 {
		return nil
	}
	slices.SortFunc(s.recs, bytes.Compare)
	start := s.sp.size
	for _, r := range s.recs {
		if err := s.put(r); err != nil {
			return err
		}
	}
	if err := s.endRun(start); err != nil {
		return err
	}
	clear(s.recs)
	s.recs, s.buf, s.held = s.recs[:0], nil, 0
	return nil
}

// put appends rec to the run being written.
func (s *recordSorter) put(rec []byte) error {
	s.out = binary.AppendUvarint(s.out, uint64(len(rec)))
	s.out = append(s.out, rec...)
	if len(s.out) < 64<<10 {
		return nil
	}
	_, err := s.sp.write(s.out)
	s.out = s.out[:0]
	return err
}

// endRun ends the run being written, which started at start.
func (s *recordSorter) endRun(start int64) error {
	if len(s.out) > 0 {
		if _, err := s.sp.write(s.out); err != nil {
			return err
		}
		s.out = s.out[:0]
	}
	s.runs = append(s.runs, sortRun{start, s.sp.size - start})
	return nil
}

// each calls yield with every record added, in order; a record is valid
// only during the call. The first error stops it and is returned. It is
// called once, last.
func (s *recordSorter) each(yield func(rec []byte) error) error {
	if len(s.runs) == 0 {
		slices.SortFunc(s.recs, bytes.Compare)
		for _, r := range s.recs {
			if err := yield(r); err != nil {
				return err
			}
		}
		return nil
	}
	if err := s.spill(); err != nil {
		return err
	}
	s.merged = len(s.runs)
	// At most fanIn runs are merged at once, so that their buffers stay
	// within sortMemory (4 MiB: 1024 runs, 4 GiB of records): more are
	// first merged into longer runs, fanIn at a time.
	fanIn := max(2, sortMemory/minRunBuffer)
	for len(s.runs) > fanIn {
		start := s.sp.size
		if err := s.merge(s.runs[:fanIn], s.put); err != nil {
			return err
		}
		s.runs = s.runs[fanIn:]
		if err := s.endRun(start); err != nil {
			return err
		}
		s.passes++
	}
	return s.merge(s.runs, yield)
}

// merge calls yield with the records of runs, in order.
func (s *recordSorter) merge(runs []sortRun, yield func(rec []byte) error) error {
	if err := s.sp.flush(); err != nil {
		return err
	}
	h := make(runHeap, 0, len(runs))
	size := min(max(sortMemory/len(runs), minRunBuffer), maxRunBuffer)
	for _, r := range runs {
		c := &runCursor{r: bufio.NewReaderSize(s.sp.section(r.off, r.n), size)}
		ok, err := c.next()
		if err != nil {
			return err
		}
		if ok {
			h = append(h, c)
		}
	}
	heap.Init(&h)
	for len(h) > 0 {
		c := h[0]
		if err := yield(c.rec); err != nil {
			return err
		}
		ok, err := c.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
	}
	return nil
}

// close lets go of the spool.
func (s *recordSorter) close() {
	s.sp.close()
	*s = recordSorter{merged: s.merged, passes: s.passes}
}

// runCursor reads a run's records in order.
type runCursor struct {
	r   *bufio.Reader
	rec []byte
}

// next reads the next record; false at the run's end.
func (c *runCursor) next() (bool, error) {
	var err error
	c.rec, err = readChunk(c.r, c.rec)
	switch {
	case err == io.EOF:
		return false, nil
	case err != nil:
		return false, fmt.Errorf("report: reading back sorted records: %w", err)
	}
	return true, nil
}

// runHeap is a min-heap of the runs by their current record.
type runHeap []*runCursor

func (h runHeap) Len() int           { return len(h) }
func (h runHeap) Less(i, j int) bool { return bytes.Compare(h[i].rec, h[j].rec) < 0 }
func (h runHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)        { *h = append(*h, x.(*runCursor)) }
func (h *runHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}
