package gpref

import (
	"time"

	"github.com/msnsniff/msnsniff/dissect"
)

// Sizes of the recorder's batches (in the pipelined Run this copy comes
// from; the oracle keeps only what its Engine refers to).
const (
	// eventBatchLen and eventBatchBytes close a batch of Sink calls: 1024
	// calls or 256 KiB of fed bytes.
	eventBatchLen   = 1024
	eventBatchBytes = 256 << 10
)

// eventKind says which Sink or Stream call an event records.
type eventKind uint8

const (
	evOpen eventKind = iota
	evFeed
	evGap
	evEnd
	evEvict
)

// event is one recorded call to the Sink or a Stream.
type event struct {
	kind   eventKind
	dir    dissect.Dir
	closed bool // End
	n      int  // Feed: bytes, taken in order from the batch's buf; Gap: n
	t      time.Time
	s      *pipeStream
}

// eventBatch is a batch of recorded calls.
type eventBatch struct {
	evs []event
	buf []byte
}

// recorder is the Sink the Engine reports to in a pipelined Run. It records
// the calls, with copies of the fed bytes, in batches for the caller's
// goroutine to replay.
type recorder struct {
	cur  *eventBatch
	out  chan<- *eventBatch
	free chan *eventBatch
}

// newBatch takes a recycled batch or makes one.
func (r *recorder) newBatch() *eventBatch {
	select {
	case b := <-r.free:
		return b
	default:
		return &eventBatch{evs: make([]event, 0, eventBatchLen), buf: make([]byte, 0, eventBatchBytes+2048)}
	}
}

// add records ev and hands the batch on when it is full.
func (r *recorder) add(ev event) {
	r.cur.evs = append(r.cur.evs, ev)
	if len(r.cur.evs) >= eventBatchLen || len(r.cur.buf) >= eventBatchBytes {
		r.flush()
	}
}

// flush hands the current batch to the replaying goroutine, if it holds
// anything.
func (r *recorder) flush() {
	if len(r.cur.evs) == 0 {
		return
	}
	r.out <- r.cur
	r.cur = r.newBatch()
}

// Open records the opening of a connection.
func (r *recorder) Open(c dissect.ConnInfo) Stream {
	s := &pipeStream{r: r, info: c}
	r.add(event{kind: evOpen, s: s})
	return s
}

// pipeStream is the Stream the Engine feeds in a pipelined Run.
type pipeStream struct {
	r    *recorder
	info dissect.ConnInfo
}

func (s *pipeStream) Feed(d dissect.Dir, t time.Time, b []byte) { s.r.feed(s, d, t, b) }

// feed records a Feed of s. It does not read s: the Engine calls it
// directly (tcpStream.emit), as the pipeStream of a connection is rarely in
// the cache when its next packet comes.
func (r *recorder) feed(s *pipeStream, d dissect.Dir, t time.Time, b []byte) {
	r.cur.buf = append(r.cur.buf, b...)
	r.add(event{kind: evFeed, dir: d, t: t, n: len(b), s: s})
}

func (s *pipeStream) Gap(d dissect.Dir, t time.Time, n int) {
	s.r.add(event{kind: evGap, dir: d, t: t, n: n, s: s})
}

func (s *pipeStream) Evict(t time.Time) {
	s.r.add(event{kind: evEvict, t: t, s: s})
}

func (s *pipeStream) End(t time.Time, closed bool) {
	s.r.add(event{kind: evEnd, t: t, closed: closed, s: s})
}
