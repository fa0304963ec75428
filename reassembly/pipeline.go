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
	// slot is the stream's index in the replaying goroutine's table of
	// Streams (see recorder.Open).
	slot int32
	t    time.Time
	s    *pipeStream // Open: the stream, for its ConnInfo
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
	rp := &replayer{sink: user}
	for b := range evs {
		rp.replay(b)
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

// replayer makes the recorded calls on the caller's goroutine. It keeps
// the Sink's Stream of each open connection in a table indexed by the
// connection's slot: the table is dense, a few kilobytes for the
// connections open at once, so finding a connection's Stream, once for
// every event, is seldom a cache miss, where reading it from each
// connection's pipeStream nearly always was.
type replayer struct {
	sink Sink
	outs []Stream
}

// replay makes the recorded calls of b.
func (rp *replayer) replay(b *eventBatch) {
	off := 0
	for i := range b.evs {
		ev := &b.evs[i]
		switch ev.kind {
		case evOpen:
			out := rp.sink.Open(ev.s.info)
			if out == nil {
				out = discard{}
			}
			if int(ev.slot) >= len(rp.outs) {
				rp.outs = append(rp.outs, make([]Stream, int(ev.slot)+1-len(rp.outs))...)
			}
			rp.outs[ev.slot] = out
		case evFeed:
			rp.outs[ev.slot].Feed(ev.dir, ev.t, b.buf[off:off+ev.n:off+ev.n])
			off += ev.n
		case evGap:
			rp.outs[ev.slot].Gap(ev.dir, ev.t, ev.n)
		case evEvict:
			evictStream(rp.outs[ev.slot], ev.t)
		case evTimeJump:
			timeJump(rp.outs[ev.slot], ev.dir, ev.t, time.Duration(ev.n))
		case evEnd:
			rp.outs[ev.slot].End(ev.t, ev.closed)
			rp.outs[ev.slot] = nil
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
	// slots counts the slots given out, and freeSlots holds those of
	// ended connections, for reuse.
	slots     int32
	freeSlots []int32
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

// Open records the opening of a connection. The connection gets a slot,
// the one freed last or a new one, which it keeps until its End is
// recorded (the Engine ends a connection once): the replaying goroutine,
// which makes the calls in the order they were recorded, finds its Stream
// there.
func (r *recorder) Open(c dissect.ConnInfo) Stream {
	s := &pipeStream{r: r, info: c}
	if n := len(r.freeSlots); n > 0 {
		s.slot = r.freeSlots[n-1]
		r.freeSlots = r.freeSlots[:n-1]
	} else {
		s.slot = r.slots
		r.slots++
	}
	r.add(event{kind: evOpen, slot: s.slot, s: s})
	return s
}

// pipeStream is the Stream the Engine feeds in a pipelined Run.
type pipeStream struct {
	r    *recorder
	info dissect.ConnInfo
	slot int32
}

func (s *pipeStream) Feed(d dissect.Dir, t time.Time, b []byte) { s.r.feed(s.slot, d, t, b) }

// feed records a Feed of the pipeStream in slot. The Engine calls it
// directly (tcpStream.emit), with the slot it keeps, as the pipeStream of
// a connection is rarely in the cache when its next packet comes.
func (r *recorder) feed(slot int32, d dissect.Dir, t time.Time, b []byte) {
	r.cur.buf = append(r.cur.buf, b...)
	r.add(event{kind: evFeed, dir: d, t: t, n: len(b), slot: slot})
}

func (s *pipeStream) Gap(d dissect.Dir, t time.Time, n int) {
	s.r.add(event{kind: evGap, dir: d, t: t, n: n, slot: s.slot})
}

func (s *pipeStream) Evict(t time.Time) {
	s.r.add(event{kind: evEvict, t: t, slot: s.slot})
}

func (s *pipeStream) TimeJump(d dissect.Dir, t time.Time, ahead time.Duration) {
	s.r.add(event{kind: evTimeJump, dir: d, t: t, n: int(ahead), slot: s.slot})
}

func (s *pipeStream) End(t time.Time, closed bool) {
	s.r.add(event{kind: evEnd, t: t, closed: closed, slot: s.slot})
	s.r.freeSlots = append(s.r.freeSlots, s.slot)
}
