package reassembly

import (
	"cmp"
	"encoding/binary"
	"slices"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/msnsniff/msnsniff/dissect"
)

// Sink receives the MSNP connections found in a capture.
type Sink interface {
	// Open is called once per connection, with the first packet that
	// belongs to it, and returns the Stream that receives its bytes. A nil
	// Stream discards them.
	Open(c dissect.ConnInfo) Stream
}

// Stream receives the bytes of one connection, in order per direction. The
// two directions are interleaved in the order the assembler releases them,
// which follows the capture except where data waited for a hole to fill.
type Stream interface {
	// Feed delivers bytes that follow the previous ones of direction dir.
	// t is the capture time of the packet that carried them. b is valid
	// only during the call.
	Feed(dir dissect.Dir, t time.Time, b []byte)
	// Gap reports n bytes of direction dir that were never captured,
	// between the previous Feed and the next one. t is the capture time of
	// the packet after the hole, or the End time for bytes missing before
	// a FIN. n is 0 when the size is unknown.
	Gap(dir dissect.Dir, t time.Time, n int)
	// End is called exactly once, last. closed is true when the connection
	// was seen to close: a FIN in both directions or a RST. It is false
	// when the connection went idle for IdleTimeout (HalfCloseTimeout
	// after a FIN one way only), was replaced by a new one on the same
	// addresses and ports, or was still open at Finish, without being
	// seen to close first. t is the time of the packet that
	// closed it (however late it is ended), else its last packet when it
	// went idle or was replaced, or the time passed to Finish.
	End(t time.Time, closed bool)
}

// Evicter is implemented by a Stream that wants to know when its
// connection is ended early to keep the number of open connections within
// Options.MaxConnections: Evict is called just before End, with End's time
// (the connection's latest packet time, unless it was seen to close).
type Evicter interface {
	Evict(t time.Time)
}

// TimeJumper is implemented by a Stream that wants to know when bytes come
// in a packet whose time is a lone jump, a damaged timestamp
// (Stats.TimestampJumps; see Engine.Packet): TimeJump is called just
// before the Feed of those bytes, with the packet's time and how far it
// lies ahead of the Engine's clock (behind, when negative).
type TimeJumper interface {
	TimeJump(dir dissect.Dir, t time.Time, ahead time.Duration)
}

// timeJump tells out, when it wants to know, of a lone jump.
func timeJump(out Stream, dir dissect.Dir, t time.Time, ahead time.Duration) {
	if tj, ok := out.(TimeJumper); ok {
		tj.TimeJump(dir, t, ahead)
	}
}

// Engine decodes captured packets, picks the TCP connections on MSNP ports
// and reassembles each direction into an ordered byte stream for a Sink. All
// times are packet times: flushes and timeouts follow the capture, never the
// clock. Memory is bounded by Options. An Engine is not safe for concurrent
// use, and the Sink and its Streams, which it calls synchronously, must not
// call it back.
type Engine struct {
	opt   Options
	ports portSet
	sink  Sink
	rec   *recorder // sink, when it is a pipelined Run's (see tcpStream.emit)
	stats Stats

	tcp    layers.TCP // decoded segment of the current packet
	synTCP layers.TCP // segment of synthetic resets, see reset
	cur    current    // the packet being assembled
	pkt    pktRef     // what pages keep of the packet being assembled
	pktID  uint64     // ids of the segments assembled so far

	// The assembler (asm.go).
	conns     conns
	live      page    // the bytes of the segment being assembled
	ret       []*page // the pages being delivered
	pagesUsed int     // pages of out-of-order bytes held, all connections
	freePages []*page // pages kept for reuse
	feedBuf   []byte  // scratch of tcpStream.feed
	feedOffs  []int

	now       time.Time // the clock: latest packet time seen, see Packet
	nextFlush time.Time
	pend      pendingPacket // a packet far from the clock, see Packet

	pending   []*tcpStream // streams whose open halves must be reset
	replay    bool         // assemble the current segment again after pending
	finishing bool
	endTime   time.Time // time passed to Finish, while finishing

	det  detector  // connections on other ports found to carry MSNP
	open tcpStream // sentinel of the list of streams not yet ended
	// finished holds the streams that saw a FIN both ways since the last
	// flush or before, for endFinished; due is its scratch.
	finished, due []*tcpStream
	streams       int64 // streams created
	nopen         int   // streams not yet ended
	closed        closedConns
	frag          defragger

	// A flush, with endFinished, evict and the resets that follow it,
	// ends and feeds streams in several passes. Calls made meanwhile are
	// held back and made in the order the streams were created, so that
	// each stream's calls come together.
	deferring bool
	deferred  []deferredCall
	deferBuf  []byte // bytes of the held-back Feed calls
}

// deferredCall is a Stream call held back during a flush.
type deferredCall struct {
	s      *tcpStream
	kind   eventKind // evFeed, evGap, evEvict, evTimeJump or evEnd
	dir    dissect.Dir
	closed bool
	n      int // Feed: length of the bytes at deferBuf[off:]; Gap: n; TimeJump: ahead
	off    int
	t      time.Time
}

// maxDeferBufKeep is the capacity of the held-back bytes buffer kept between
// flushes. A flush that delivers more (data that waited behind holes, at
// most MaxBufferedPagesTotal pages) lets the larger buffer go.
const maxDeferBufKeep = 1 << 20

// current holds what newStream needs to know of the packet being
// assembled. The slices are views into it.
type current struct {
	ts       time.Time // the packet's time on the clock (see Engine.packet)
	v6       bool
	src, dst []byte
	file     string
	num      int64
}

// NewEngine returns an Engine that reports MSNP connections to sink.
func NewEngine(sink Sink, opt Options) *Engine {
	opt = opt.withDefaults()
	e := &Engine{opt: opt, sink: sink}
	for _, p := range opt.Ports {
		e.ports.add(p)
	}
	e.conns.init()
	e.open.next, e.open.prev = &e.open, &e.open
	return e
}

// Stats returns the counts so far.
func (e *Engine) Stats() Stats { return e.stats }

// Packet decodes one captured packet of link type link and, when it is a TCP
// segment of an MSNP connection, assembles it. file and num (1-based) locate
// the packet for ConnInfo. data is only used during the call.
//
// A packet whose time lies more than IdleTimeout from the Engine's clock
// (see Clock) is held, copied, until the next packet or Finish says
// whether time jumped: when the next packet is as far from the clock, on
// the same side and not back before it (a capture paused, or sparse
// traffic), the clock follows the held packet and both are assembled as
// any others. Otherwise the held packet is a lone jump, a damaged
// timestamp: it is assembled and dissected with its own time, but every
// wait (flushes, idle timeouts, held and closed connections, fragments)
// goes on by the clock, which it does not move, and it is counted in
// Stats.TimestampJumps.
func (e *Engine) Packet(data []byte, ci gopacket.CaptureInfo, link layers.LinkType, file string, num int64) {
	e.stats.Packets++
	e.stats.Bytes += int64(len(data))
	ts := ci.Timestamp
	if !ts.IsZero() {
		if e.stats.First.IsZero() || ts.Before(e.stats.First) {
			e.stats.First = ts
		}
		if ts.After(e.stats.Last) {
			e.stats.Last = ts
		}
	}
	if e.pend.held {
		e.settle(ts)
	}
	if e.farFromClock(ts) {
		e.pend = pendingPacket{held: true, data: append(e.pend.data[:0], data...), ci: ci, link: link, file: file, num: num}
		return
	}
	e.packet(data, ci, 0, link, file, num)
}

// pendingPacket is a packet whose time lies far from the Engine's clock,
// held by Packet until the next packet says whether time jumped.
type pendingPacket struct {
	held bool
	data []byte // a copy, its buffer reused
	ci   gopacket.CaptureInfo
	link layers.LinkType
	file string
	num  int64
}

// farFromClock tells whether packet time t lies more than IdleTimeout
// from the clock, either way. IdleTimeout is the bound because a jump
// that long would by itself end every open connection as idle at the next
// flush, while a capture paused for less cuts none that was active just
// before it; whatever the bound, a jump that later packets confirm is
// followed (Packet). A zero time, or the first, sets no bound.
func (e *Engine) farFromClock(t time.Time) bool {
	if t.IsZero() || e.now.IsZero() {
		return false
	}
	d := t.Sub(e.now)
	return d > e.opt.IdleTimeout || d < -e.opt.IdleTimeout
}

// settle assembles the held packet. next is the time of the packet after
// it, zero at Finish. Time jumped, and the clock follows the held packet,
// when next lies as far from the clock on the same side and is not back
// before the held packet by more than IdleTimeout (after it by more, for a
// jump back). A jump back is counted in TimestampJumps all the same: a
// capture's time does not go back by that much unless the times before
// were wrong. Otherwise the held packet is assembled at the clock's time,
// which it does not move, and counted.
func (e *Engine) settle(next time.Time) {
	p := &e.pend
	p.held = false
	ts := p.ci.Timestamp
	d := ts.Sub(e.now)
	jumped := e.farFromClock(next) && (next.After(e.now) == (d > 0))
	if d > 0 {
		jumped = jumped && !next.Before(ts.Add(-e.opt.IdleTimeout))
	} else {
		jumped = jumped && !next.After(ts.Add(e.opt.IdleTimeout))
	}
	switch {
	case !jumped:
		e.stats.TimestampJumps++
		e.packet(p.data, p.ci, d, p.link, p.file, p.num)
	case d < 0:
		e.stats.TimestampJumps++
		e.now, e.nextFlush = ts, ts.Add(e.opt.FlushInterval)
		fallthrough
	default:
		e.packet(p.data, p.ci, 0, p.link, p.file, p.num)
	}
}

// Clock returns the packet time the Engine's waits follow: the latest
// packet time, not counting a packet that jumped away from it alone
// (Stats.TimestampJumps), and set back by a jump back that later packets
// confirmed.
func (e *Engine) Clock() time.Time { return e.now }

// packet is Packet for a packet that may move the clock. ahead is how far
// its time lies ahead of the clock when it is a lone jump (negative for
// one behind), else 0: its waits are counted from its time less ahead.
func (e *Engine) packet(data []byte, ci gopacket.CaptureInfo, ahead time.Duration, link layers.LinkType, file string, num int64) {
	clock := ci.Timestamp.Add(-ahead)
	e.tick(clock)
	e.cur.ts = clock

	ipb, version, ok := e.linkPayload(data, link)
	if !ok {
		e.countTruncated(ci, len(data), false)
		return
	}
	var p ipPacket
	if version == 4 {
		ok = e.decodeIPv4(ipb, &p)
	} else {
		ok = e.decodeIPv6(ipb, &p)
	}
	e.countTruncated(ci, len(data), p.trunc)
	if !ok {
		return
	}

	seg := p.tcp
	if len(seg) < tcpMinHeaderLen || int(seg[12]>>4)*4 < tcpMinHeaderLen || int(seg[12]>>4)*4 > len(seg) {
		e.stats.Decode[DecodeTCP]++
		return
	}
	if !e.ports.either(binary.BigEndian.Uint16(seg[0:2]), binary.BigEndian.Uint16(seg[2:4])) && !e.detect(p.src, p.dst, seg, p.v6, data, ci, ahead, link, file, num) {
		e.stats.TCP++
		e.stats.OtherPort++
		return
	}
	e.assembleSegment(data, &p, ci, link, file, num)
}

// assembleSegment gives p.tcp, the TCP segment of packet data, to the
// assembler (assembleTCP): Packet calls it for a segment of an MSNP
// connection, and replayHeld for a held one. The segment passed Packet's
// checks. The caller has set e.cur.ts to the packet's time on the clock.
func (e *Engine) assembleSegment(data []byte, p *ipPacket, ci gopacket.CaptureInfo, link layers.LinkType, file string, num int64) {
	if e.opt.OnPacket != nil {
		e.opt.OnPacket(data, ci, link)
	}
	if err := e.tcp.DecodeFromBytes(p.tcp, gopacket.NilDecodeFeedback); err != nil {
		// Packet's checks leave DecodeFromBytes nothing to refuse.
		e.stats.Decode[DecodeTCP]++
		return
	}
	e.stats.TCP++
	e.stats.Assembled++

	e.cur.v6, e.cur.src, e.cur.dst, e.cur.file, e.cur.num = p.v6, p.src, p.dst, file, num
	e.pktID++
	e.pkt = pktRef{ts: ci.Timestamp, clock: e.cur.ts, id: e.pktID, rst: e.tcp.RST}
	e.assembleTCP()
}

// countTruncated counts a packet captured shorter than it was sent.
func (e *Engine) countTruncated(ci gopacket.CaptureInfo, n int, ipTrunc bool) {
	if ci.Length > n || ipTrunc {
		e.stats.Truncated++
	}
}

// resetPending closes, with synthetic resets, the halves the assembler
// still has open for streams that already ended. The assembler lets a
// connection go only when both halves close, and starts a new one on its
// 4-tuple only after that.
func (e *Engine) resetPending() {
	for len(e.pending) > 0 {
		s := e.pending[len(e.pending)-1]
		e.pending = e.pending[:len(e.pending)-1]
		for i := range s.done {
			if !s.done[i] {
				e.reset(s, i)
			}
		}
	}
}

// reset assembles a synthetic RST on half i of s, at the half's next
// sequence number (see tcpStream.accept), which closes the half unless
// queued bytes follow it.
func (e *Engine) reset(s *tcpStream, i int) {
	if s.anext != nil { // held by the assembler
		e.pktID++
		c := pktRef{ts: e.now, clock: e.now, id: e.pktID, synthetic: true}
		e.synTCP = layers.TCP{RST: true}
		e.segment(s, i, &e.synTCP, &c)
	}
	// A half that has no packets yet is closed by the reset.
	s.done[i] = true
}

// tick advances packet time to t and flushes when FlushInterval has passed.
func (e *Engine) tick(t time.Time) {
	if t.After(e.now) {
		e.now = t
	}
	if e.nextFlush.IsZero() {
		e.nextFlush = e.now.Add(e.opt.FlushInterval)
		return
	}
	if e.now.Before(e.nextFlush) {
		return
	}
	e.nextFlush = e.now.Add(e.opt.FlushInterval)
	e.deferring = true
	e.flush(e.now.Add(-e.opt.ReorderWindow), e.now.Add(-e.opt.IdleTimeout), e.now.Add(-e.opt.HalfCloseTimeout))
	e.endFinished(e.now.Add(-e.opt.ReorderWindow))
	e.evict()
	e.resetPending()
	e.deliverDeferred()
	e.closed.expire(e.now.Add(-e.opt.IdleTimeout))
	e.expireFragments(e.now.Add(-fragmentTimeout))
}

// endFinished ends the streams whose FINs were seen both ways, silent since
// before t, that the assembler still holds open: the bytes before a FIN were
// lost (no page is kept for a bare FIN, so no flush gets past the hole)
// and would otherwise keep the connection until IdleTimeout. The bytes
// missing before each FIN are reported as a Gap.
func (e *Engine) endFinished(t time.Time) {
	// Only the streams in finished can qualify, so the open ones need not
	// all be walked. Those that ended otherwise are dropped.
	due, kept := e.due[:0], e.finished[:0]
	for _, s := range e.finished {
		switch {
		case s.ended:
		case s.last.Before(t):
			due = append(due, s)
		default:
			kept = append(kept, s)
		}
	}
	clear(e.finished[len(kept):])
	e.finished = kept
	// They are ended in the order they were created, as a walk of the
	// open streams would, each at the packet that closed it.
	slices.SortFunc(due, func(a, b *tcpStream) int { return cmp.Compare(a.id, b.id) })
	for _, s := range due {
		s.end(s.closedAt, true)
	}
	clear(due)
	e.due = due[:0]
}

// evict ends the least recently active open connections when there are
// more than MaxConnections, oldest first, until nine tenths of the limit
// remain.
func (e *Engine) evict() {
	if e.nopen <= e.opt.MaxConnections {
		return
	}
	all := make([]*tcpStream, 0, e.nopen)
	for s := e.open.next; s != &e.open; s = s.next {
		all = append(all, s)
	}
	slices.SortFunc(all, func(a, b *tcpStream) int {
		if c := a.last.Compare(b.last); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	n := len(all) - e.opt.MaxConnections*9/10
	for _, s := range all[:n] {
		s.evicted = true
		e.stats.Evicted++
		s.end(s.last, false)
	}
}

// deferCall holds back a Stream call made during a flush.
func (e *Engine) deferCall(c deferredCall) { e.deferred = append(e.deferred, c) }

// deliverDeferred makes the calls held back during a flush: stream by
// stream in the order the streams were created, each stream's calls in the
// order they were made.
func (e *Engine) deliverDeferred() {
	e.deferring = false
	if len(e.deferred) == 0 {
		return
	}
	slices.SortStableFunc(e.deferred, func(a, b deferredCall) int { return cmp.Compare(a.s.id, b.s.id) })
	for i := range e.deferred {
		c := &e.deferred[i]
		switch c.kind {
		case evFeed:
			c.s.out.Feed(c.dir, c.t, e.deferBuf[c.off:c.off+c.n:c.off+c.n])
		case evGap:
			c.s.out.Gap(c.dir, c.t, c.n)
		case evEvict:
			evictStream(c.s.out, c.t)
		case evTimeJump:
			timeJump(c.s.out, c.dir, c.t, time.Duration(c.n))
		case evEnd:
			c.s.out.End(c.t, c.closed)
		}
	}
	clear(e.deferred)
	e.deferred = e.deferred[:0]
	e.deferBuf = e.deferBuf[:0]
	if cap(e.deferBuf) > maxDeferBufKeep {
		e.deferBuf = nil
	}
}

// Finish delivers all data still held, after a Gap for each hole that
// remains, and ends every open Stream at time t (or the Engine's Clock, if
// later), with closed=false, except those whose FINs or a RST were seen:
// they end closed, at the packet that closed them. Held IPv4 fragments are
// dropped. The Engine may be given more packets afterwards, but then needs
// another Finish.
func (e *Engine) Finish(t time.Time) {
	if e.pend.held {
		e.settle(time.Time{}) // no packet confirms it: a lone jump
	}
	if t.Before(e.now) {
		t = e.now
	}
	e.finishHeld() // connections on other ports still held are decided
	e.finishing, e.endTime = true, t
	e.deferring = true
	e.flushAll()
	e.resetPending()
	e.deliverDeferred()
	// flushAll has closed every connection the assembler holds; this only
	// ends streams it would have lost track of.
	for e.open.next != &e.open {
		e.open.next.end(t, false)
	}
	e.resetPending()
	e.finishing = false
	e.dropFragments(func(fragKey, fragHeld) bool { return true })
	e.frag.d = nil
}
