package reassembly

import (
	"errors"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/msnsniff/msnsniff/dissect"
)

// Sizes of the pipelined Run. Batches amortise the channel operations (a
// few hundred nanoseconds each) over hundreds of packets or events, and
// are recycled, so the pipeline holds at most about (pipelineDepth+2) *
// (packetBatchBytes + eventBatchBytes) of data, 3 MiB, whatever the capture.
const (
	// pipelineDepth is how many full batches may wait between two stages.
	pipelineDepth = 4
	// packetBatchLen and packetBatchBytes close a batch of packets read
	// ahead: 256 packets or 256 KiB of packet data, whichever comes first.
	packetBatchLen   = 256
	packetBatchBytes = 256 << 10
	// eventBatchLen and eventBatchBytes close a batch of Sink calls: 1024
	// calls or 256 KiB of fed bytes.
	eventBatchLen   = 1024
	eventBatchBytes = 256 << 10
)

// packetRec is one packet read ahead: what Engine.Packet needs, with the
// packet's bytes owned by its batch. Its number in its source is counted
// again by the Engine's goroutine, which gets every packet read.
type packetRec struct {
	ts   time.Time
	wire int   // CaptureInfo.Length
	end  int32 // the bytes are batch.buf[previous end:end]
	src  int32 // index of the source
	link layers.LinkType
}

// packetBatch is a batch of packets read ahead.
type packetBatch struct {
	recs []packetRec
	buf  []byte
}

// eventKind says which Sink or Stream call an event records.
type eventKind uint8

const (
	evOpen eventKind = iota
	evFeed
	evGap
	evEnd
	evEvict
	evTimeJump
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

// runPipeline is Run on three goroutines: a reader, the Engine, and the
// caller's, which replays the Engine's calls to the Sink.
func runPipeline(sources []*Source, e *Engine) error {
	var (
		pkts     = make(chan *packetBatch, pipelineDepth)
		freePkts = make(chan *packetBatch, pipelineDepth+2)
		evs      = make(chan *eventBatch, pipelineDepth)
		freeEvs  = make(chan *eventBatch, pipelineDepth+2)
		names    = make([]string, len(sources))
		m        merger
	)
	for i, s := range sources {
		names[i] = s.Name()
	}

	// Reader: merge the sources, copying each packet into a batch.
	go func() {
		defer close(pkts)
		m.start(sources)
		b := newPacketBatch(freePkts)
		for {
			it := m.head()
			if it == nil {
				break
			}
			b.buf = append(b.buf, it.data...)
			b.recs = append(b.recs, packetRec{ts: it.ci.Timestamp, wire: it.ci.Length, end: int32(len(b.buf)),
				src: int32(it.index), link: it.link})
			m.advance()
			if len(b.recs) >= packetBatchLen || len(b.buf) >= packetBatchBytes {
				pkts <- b
				b = newPacketBatch(freePkts)
			}
		}
		if len(b.recs) > 0 {
			pkts <- b
		}
	}()

	// Engine: assemble, recording the Sink's calls.
	user := e.sink
	rec := &recorder{out: evs, free: freeEvs}
	rec.cur = rec.newBatch()
	e.sink, e.rec = rec, rec
	go func() {
		defer close(evs)
		nums := make([]int64, len(sources)) // packets of each source so far
		for b := range pkts {
			start := 0
			for i := range b.recs {
				p := &b.recs[i]
				end := int(p.end)
				nums[p.src]++
				ci := gopacket.CaptureInfo{Timestamp: p.ts, CaptureLength: end - start, Length: p.wire}
				e.Packet(b.buf[start:end:end], ci, p.link, names[p.src], nums[p.src])
				start = end
			}
			b.recs, b.buf = b.recs[:0], b.buf[:0]
			select {
			case freePkts <- b:
			default:
			}
			rec.flush()
		}
		e.Finish(time.Time{})
		rec.flush()
	}()

	// Caller: replay the calls to the Sink.
	for b := range evs {
		replay(user, b)
		b.evs, b.buf = b.evs[:0], b.buf[:0]
		select {
		case freeEvs <- b:
		default:
		}
	}
	e.sink, e.rec = user, nil
	return errors.Join(m.errs...)
}

// newPacketBatch takes a recycled batch or makes one.
func newPacketBatch(free chan *packetBatch) *packetBatch {
	select {
	case b := <-free:
		return b
	default:
		return &packetBatch{recs: make([]packetRec, 0, packetBatchLen), buf: make([]byte, 0, packetBatchBytes+2048)}
	}
}

// replay makes the recorded calls of b.
func replay(sink Sink, b *eventBatch) {
	off := 0
	for i := range b.evs {
		ev := &b.evs[i]
		s := ev.s
		switch ev.kind {
		case evOpen:
			s.out = sink.Open(s.info)
			if s.out == nil {
				s.out = discard{}
			}
		case evFeed:
			s.out.Feed(ev.dir, ev.t, b.buf[off:off+ev.n:off+ev.n])
			off += ev.n
		case evGap:
			s.out.Gap(ev.dir, ev.t, ev.n)
		case evEvict:
			evictStream(s.out, ev.t)
		case evTimeJump:
			timeJump(s.out, ev.dir, ev.t, time.Duration(ev.n))
		case evEnd:
			s.out.End(ev.t, ev.closed)
			s.out = nil
		}
		ev.s = nil
	}
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

// pipeStream is the Stream the Engine feeds in a pipelined Run. Its out is
// only touched by the replaying goroutine.
type pipeStream struct {
	r    *recorder
	info dissect.ConnInfo
	out  Stream
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

func (s *pipeStream) TimeJump(d dissect.Dir, t time.Time, ahead time.Duration) {
	s.r.add(event{kind: evTimeJump, dir: d, t: t, n: int(ahead), s: s})
}

func (s *pipeStream) End(t time.Time, closed bool) {
	s.r.add(event{kind: evEnd, t: t, closed: closed, s: s})
}
