package reassembly

import (
	"encoding/binary"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// The Engine's TCP assembler. It keeps the rules of the gopacket
// reassembly.Assembler the Engine used before (v1.7.7, tcpassembly.go), so
// that every Stream gets the same calls (FuzzAssemblerDiff compares the
// two), but is made for one goroutine and one Stream type: a connection is
// found with one map lookup on a comparable key (12 bytes for IPv4), its
// two halves live in its tcpStream, and nothing is locked, called through
// an interface or allocated for a segment that arrives in order.
//
// The rules, per half (direction) of a connection:
//
//   - The half starts at its SYN, or at its first segment (tcpStream.accept
//     forces the start of a connection caught mid-stream). A SYN on a half
//     that started is dropped (a retransmission; a new connection on the
//     4-tuple is seen by accept, which ends the old one first).
//   - A segment at or before the next expected sequence number is
//     delivered at once, less the bytes already delivered, followed by the
//     queued bytes it makes contiguous. One after it is copied into pages
//     of at most pageBytes, in sequence order; where it overlaps queued
//     bytes, the newer bytes win.
//   - A RST counts only at the expected sequence number, and a RST or FIN
//     that lies wholly before it is dropped. A FIN queued ahead of a hole
//     ends the half once the bytes reach it.
//   - At the page limits (Options.MaxBufferedPagesPerConn and
//     MaxBufferedPagesTotal), the hole in front of the first queued page is
//     given up at once. A flush gives up the holes in front of pages seen
//     before ReorderWindow, and closes the halves with nothing queued of
//     connections silent for IdleTimeout. Unlike gopacket's, it does so
//     after HalfCloseTimeout for a connection with a FIN seen one way only.
//   - Sequence numbers compare as gopacket's did (seq.diff): numbers in the
//     first quarter of the space follow those in the last quarter.
//   - When both halves are closed, the connection is complete and let go.
//     A stream that ended earlier (a new SYN, endFinished, eviction) has
//     its open halves reset (Engine.reset), which closes them as a RST at
//     their next sequence number would.
//
// One difference: gopacket's pages came back from a sync.Pool with the end
// flag of their last use when they were not the last page of a segment,
// so a segment of more than pageBytes could end a half early, depending on
// the pool; pages here start clear.

// seq is a TCP sequence number in [0, 1<<32), or noSeq.
type seq int64

// noSeq marks a half whose next sequence number is not known yet.
const noSeq seq = -1

const seqMax = 0xFFFFFFFF

// diff returns how far t lies after s (negative when before). Any number
// in the first quarter of the sequence space is taken to follow any in the
// last quarter, as gopacket's Sequence.Difference does.
func (s seq) diff(t seq) int {
	if s > seqMax-seqMax/4 && t < seqMax/4 {
		t += seqMax + 1
	} else if t > seqMax-seqMax/4 && s < seqMax/4 {
		s += seqMax + 1
	}
	return int(t - s)
}

// add returns s moved by n, wrapped.
func (s seq) add(n int) seq { return (s + seq(n)) & seqMax }

// pageBytes is the most bytes a page holds: a segment queued out of order
// is cut into pages of this size, which the limits
// (Options.MaxBufferedPagesPerConn and MaxBufferedPagesTotal) count.
const pageBytes = 1900

// pktRef is what the assembler keeps of the packet that carried some
// bytes: its times, and an id that tells packets apart.
type pktRef struct {
	ts        time.Time // the packet's own time, which Feed and Gap carry
	clock     time.Time // its time on the Engine's clock (see Engine.packet)
	id        uint64    // distinct for each segment assembled
	rst       bool
	synthetic bool // a reset made up by the Engine, see Engine.reset
}

// page holds bytes of a half: the segment being assembled (Engine.live,
// whose bytes are a view of the packet) or a page of out-of-order bytes
// (a copy). The pages of a half are a list in sequence order.
type page struct {
	bytes      []byte
	seq        seq
	prev, next *page
	pkt        pktRef
	seen       time.Time // when the bytes came (the packet's clock), for flushes
	start, end bool
}

// maxFreePages bounds the pages kept for reuse: enough for the usual
// out-of-order traffic (a few pages per connection), while a burst that
// needed more gives its pages back to the collector.
const maxFreePages = 1024

// half is the assembler state of one direction of a connection.
type half struct {
	first, last *page // out-of-order bytes, in sequence order
	nextSeq     seq   // sequence number of the next byte to deliver
	finSeq      seq   // where a FIN seen ahead of nextSeq ends the half, or noSeq
	lastSeen    time.Time
	pages       int
	closed      bool
}

// lastSeen returns the latest time either half was seen.
func (s *tcpStream) lastSeen() time.Time {
	if s.h[0].lastSeen.Before(s.h[1].lastSeen) {
		return s.h[1].lastSeen
	}
	return s.h[0].lastSeen
}

// newPage returns a page for n bytes seen at t.
func (e *Engine) newPage(n int, t time.Time) *page {
	var p *page
	if k := len(e.freePages); k > 0 {
		p = e.freePages[k-1]
		e.freePages = e.freePages[:k-1]
	} else {
		p = new(page)
	}
	if cap(p.bytes) < n {
		p.bytes = make([]byte, n, max(n, 256))
	}
	p.bytes = p.bytes[:n]
	p.seen = t
	e.pagesUsed++
	return p
}

// release gives back a page of out-of-order bytes. The live page is not
// one.
func (e *Engine) release(p *page) int {
	if p == &e.live {
		return 0
	}
	e.pagesUsed--
	b := p.bytes
	*p = page{}
	if len(e.freePages) < maxFreePages {
		p.bytes = b[:0]
		e.freePages = append(e.freePages, p)
	}
	return 1
}

// conns is the assembler's map of the connections it holds, IPv4 ones
// under a short key. A connection is in it from its first segment until
// both halves are closed (complete).
type conns struct {
	v4 map[closedKey4]*tcpStream
	v6 map[connKey]*tcpStream
	// peak is the most connections held since the maps were made: a Go
	// map does not shrink, so shrink makes them again when far fewer
	// are left.
	peak int
	// head is the sentinel of the list of the connections held, in the
	// order they came, which flushes walk.
	head tcpStream
}

func (c *conns) init() {
	c.v4 = make(map[closedKey4]*tcpStream)
	c.head.anext, c.head.aprev = &c.head, &c.head
}

func (c *conns) put(s *tcpStream) {
	if s.key.v6 {
		if c.v6 == nil {
			c.v6 = make(map[connKey]*tcpStream)
		}
		c.v6[s.key] = s
	} else {
		c.v4[key4(s.key)] = s
	}
	c.peak = max(c.peak, len(c.v4)+len(c.v6))
	s.aprev, s.anext = c.head.aprev, &c.head
	c.head.aprev.anext = s
	c.head.aprev = s
}

func (c *conns) remove(s *tcpStream) {
	if s.anext == nil {
		return // not held
	}
	if s.key.v6 {
		delete(c.v6, s.key)
	} else {
		delete(c.v4, key4(s.key))
	}
	s.aprev.anext, s.anext.aprev = s.anext, s.aprev
	s.aprev, s.anext = nil, nil
}

// minShrink is the fewest connections held at the peak for which shrink
// makes the maps again: below it they weigh less than a megabyte.
const minShrink = 1 << 14

// shrink makes the maps again, with only the connections held, when these
// are fewer than an eighth of the peak.
func (c *conns) shrink() {
	n := len(c.v4) + len(c.v6)
	if c.peak < minShrink || n >= c.peak/8 {
		return
	}
	// maps.Clone would keep the size of the tables.
	v4 := make(map[closedKey4]*tcpStream, len(c.v4))
	for k, s := range c.v4 {
		v4[k] = s
	}
	c.v4 = v4
	if c.v6 != nil {
		v6 := make(map[connKey]*tcpStream, len(c.v6))
		for k, s := range c.v6 {
			v6[k] = s
		}
		c.v6 = v6
	}
	c.peak = n
}

// assembleTCP assembles e.tcp, the segment of the current packet, whose
// context is e.pkt: the one lookup of its connection, which is created
// when the segment may open one, then the segment, then the resets of the
// connections that ended meanwhile. A SYN that replaces a connection is
// assembled again once the old one is gone.
func (e *Engine) assembleTCP() {
	tcp := &e.tcp
	sp, dp := uint16(tcp.SrcPort), uint16(tcp.DstPort)
	var (
		key     connKey
		k4      closedKey4
		swapped bool
	)
	if e.cur.v6 {
		key, swapped = makeConnKey(e.cur.src, e.cur.dst, sp, dp, true)
	} else {
		k4, swapped = e.curKey4(sp, dp)
	}
	for {
		var s *tcpStream
		if e.cur.v6 {
			s = e.conns.v6[key]
		} else {
			s = e.conns.v4[k4]
		}
		if s == nil {
			if !e.cur.v6 {
				key = k4.long()
			}
			if s = e.newStream(key, swapped); s == nil {
				return
			}
			e.conns.put(s)
		}
		i := 0
		if swapped != s.swapped {
			i = 1
		}
		e.segment(s, i, tcp, &e.pkt)
		e.resetPending()
		if !e.replay {
			return
		}
		e.replay = false
	}
}

// curKey4 is makeConnKey for the current packet, IPv4, in the short form.
func (e *Engine) curKey4(sp, dp uint16) (k closedKey4, swapped bool) {
	k = closedKey4{a: [4]byte(e.cur.src), b: [4]byte(e.cur.dst), pa: sp, pb: dp}
	a, b := binary.BigEndian.Uint32(k.a[:]), binary.BigEndian.Uint32(k.b[:])
	if a > b || (a == b && sp > dp) {
		k.a, k.b, k.pa, k.pb = k.b, k.a, k.pb, k.pa
		swapped = true
	}
	return k, swapped
}

// long returns the connKey whose short form is k (see key4).
func (k closedKey4) long() connKey {
	c := connKey{pa: k.pa, pb: k.pb}
	copy(c.a[:], k.a[:])
	copy(c.b[:], k.b[:])
	return c
}

// segment assembles one segment of half i of s (gopacket's
// AssembleWithContext once the connection is found).
func (e *Engine) segment(s *tcpStream, i int, t *layers.TCP, ac *pktRef) {
	h := &s.h[i]
	if h.lastSeen.Before(ac.clock) {
		h.lastSeen = ac.clock
	}
	// start is set by accept when the half may start without a SYN; a
	// SYN starts it anyway (below).
	start := false
	sq := seq(t.Seq)
	if !s.accept(t, &sq, i, h.nextSeq, &start, ac) {
		return
	}
	if h.closed {
		return
	}
	// A SYN on a synchronized half is answered with a challenge ACK and
	// dropped by the receiver (RFC 5961): its payload is not stream data.
	if t.SYN && h.nextSeq != noSeq {
		return
	}
	bytes := t.Payload
	queue := true
	if h.nextSeq == noSeq {
		switch {
		case t.SYN:
			sq = sq.add(1)
			h.nextSeq = sq
			queue = false
		case start:
			h.nextSeq = sq
			queue = false
		}
	} else {
		d := h.nextSeq.diff(sq)
		switch {
		case d > 0:
		case (t.RST && d < 0) || (t.FIN && h.nextSeq.diff(sq.add(len(bytes))) < 0):
			// The RST/FIN lies before nextSeq: the receiver drops it
			// as out of window, so it must not end the stream.
			return
		default:
			queue = false
		}
	}
	// A RST that is not at nextSeq is dropped by the receiver (RFC 5961).
	if t.RST && queue {
		return
	}
	// A FIN queued ahead of the stream is not stored when it has no
	// payload, so remember where it ends the stream.
	if t.FIN && queue {
		h.finSeq = sq.add(len(bytes))
	}
	e.ret = e.ret[:0] // a guard: send leaves e.ret empty
	e.handleBytes(bytes, sq, s, i, t.SYN, t.RST || t.FIN, queue, ac)
	if len(e.ret) > 0 {
		next := e.send(s, i, ac)
		h.nextSeq = next
		if t.FIN {
			h.nextSeq = h.nextSeq.add(1)
		}
	}
}

// handleBytes delivers the bytes of a segment or queues them.
func (e *Engine) handleBytes(b []byte, sq seq, s *tcpStream, i int, start, end, queue bool, ac *pktRef) {
	lp := &e.live
	lp.bytes, lp.seq, lp.start, lp.end, lp.pkt = b, sq, start, end, *ac
	h := &s.h[i]
	if queue {
		e.checkOverlap(h, true)
		if h.pages >= e.opt.MaxBufferedPagesPerConn || e.pagesUsed >= e.opt.MaxBufferedPagesTotal {
			e.addNext(h)
		}
		return
	}
	lp.bytes, lp.seq = overlapExisting(h, sq, lp.bytes)
	e.checkOverlap(h, false)
	if len(lp.bytes) != 0 || end || start {
		e.ret = append(e.ret, lp)
	}
}

// overlapExisting cuts the bytes already delivered off the front of b.
func overlapExisting(h *half, start seq, b []byte) ([]byte, seq) {
	if h.nextSeq == noSeq {
		return b, start
	}
	d := start.diff(h.nextSeq)
	if d == 0 {
		return b, start
	}
	d = min(d, len(b))
	return b[d:], h.nextSeq
}

// checkOverlap resolves the overlaps of the live page with the queued
// pages: the newer bytes win. With queue, the live page's bytes that are
// left are copied into new pages and queued.
func (e *Engine) checkOverlap(h *half, queue bool) {
	var next *page
	cur := h.last
	lp := &e.live
	b := lp.bytes
	start := lp.seq
	end := start.add(len(b))
	for cur != nil {
		// after is how far the page starts after the bytes end.
		after := end.diff(cur.seq)
		// The page lies after the bytes.
		if after > 0 {
			next = cur
			cur = cur.prev
			continue
		}
		curEnd := cur.seq.add(len(cur.bytes))
		// The page lies before the bytes: so do the ones before it.
		if start.diff(curEnd) <= 0 {
			break
		}
		dStart := start.diff(cur.seq)
		dEnd := end.diff(curEnd)
		// The bytes cover the page: drop it.
		if dEnd <= 0 && dStart >= 0 {
			if cur.prev != nil {
				cur.prev.next = cur.next
			} else {
				h.first = cur.next
			}
			if cur.next != nil {
				cur.next.prev = cur.prev
			} else {
				h.last = cur.prev
			}
			tmp := cur.prev
			h.pages -= e.release(cur)
			cur = tmp
			continue
		}
		switch {
		case dEnd < 0:
			// The bytes start inside the page (before its end, or the
			// loop would have stopped above): cut its end.
			cur.bytes = cur.bytes[:-dStart]
			goto insert
		case dStart > 0 && after < 0:
			// The bytes end inside the page: cut its start.
			n := -after
			cur.bytes = cur.bytes[n:]
			cur.seq = cur.seq.add(n)
			next = cur
		case dEnd >= 0 && dStart <= 0:
			// The bytes lie inside the page: they replace its own.
			copy(cur.bytes[-dStart:-dStart+len(b)], b)
			b = b[:0]
		default:
			next = cur
		}
		cur = cur.prev
	}
insert:
	lp.bytes = b
	lp.seq = start
	if len(b) == 0 || !queue {
		return
	}
	// Cut the bytes into pages and link them between cur and next.
	first := e.newPage(min(len(b), pageBytes), lp.pkt.clock)
	p := first
	n := 1
	sq := start
	for {
		p.pkt = lp.pkt
		m := len(p.bytes)
		copy(p.bytes, b[:m])
		p.seq = sq
		b = b[m:]
		if len(b) == 0 {
			p.end = lp.end
			p.next = nil
			break
		}
		sq = sq.add(m)
		q := e.newPage(min(len(b), pageBytes), lp.pkt.clock)
		p.next, q.prev = q, p
		p = q
		n++
	}
	h.pages += n
	if cur != nil {
		cur.next = first
		first.prev = cur
	} else {
		h.first = first
	}
	if next != nil {
		p.next = next
		next.prev = p
	} else {
		h.last = p
	}
}

// addNext moves the first queued page of h to e.ret.
func (e *Engine) addNext(h *half) {
	p := h.first
	if p == nil {
		return
	}
	e.ret = append(e.ret, p)
	h.first = p.next
	if h.first != nil {
		h.first.prev = nil
	} else {
		h.last = nil
	}
}

// addContiguous moves the queued pages that follow last without a hole to
// e.ret, and returns the sequence number after them.
func (e *Engine) addContiguous(h *half, last seq) seq {
	p := h.first
	if p == nil {
		return last
	}
	if last == noSeq {
		last = p.seq
	}
	for p != nil && last.diff(p.seq) == 0 {
		last = last.add(len(p.bytes))
		e.addNext(h)
		p = h.first
	}
	return last
}

// send delivers e.ret, with the queued bytes that follow it, to half i of
// s, closes the half when they end it, and returns the sequence number
// after them.
func (e *Engine) send(s *tcpStream, i int, ac *pktRef) seq {
	h := &s.h[i]
	skip := -1
	if h.nextSeq != noSeq {
		skip = h.nextSeq.diff(e.ret[0].seq)
	}
	last := e.ret[0].seq.add(len(e.ret[0].bytes))
	next := e.addContiguous(h, last)
	// The bytes reached a FIN that came ahead of them: they end the half.
	if h.finSeq != noSeq && next == h.finSeq {
		e.ret[len(e.ret)-1].end = true
		h.finSeq = noSeq
	}
	end := e.ret[len(e.ret)-1].end
	s.reassembled(i, e.ret, skip, end, ac)
	for _, p := range e.ret {
		h.pages -= e.release(p)
	}
	clear(e.ret)
	e.ret = e.ret[:0]
	if end {
		e.closeHalf(s, i)
	}
	return next
}

// skipFlush gives up the hole in front of the first queued page of half
// i, delivering that page and the ones that follow it; a half with no page
// queued is closed.
func (e *Engine) skipFlush(s *tcpStream, i int) {
	h := &s.h[i]
	if h.first == nil {
		e.closeHalf(s, i)
		return
	}
	e.ret = e.ret[:0] // a guard: send leaves e.ret empty
	e.addNext(h)
	ac := e.ret[0].pkt
	if next := e.send(s, i, &ac); next != noSeq {
		h.nextSeq = next
	}
}

// closeHalf closes half i of s and drops its pages. When both halves are
// closed the connection is complete and let go.
func (e *Engine) closeHalf(s *tcpStream, i int) {
	h := &s.h[i]
	h.closed = true
	var next *page
	for p := h.first; p != nil; p = next {
		next = p.next
		e.release(p)
		h.pages--
	}
	h.first, h.last = nil, nil
	if s.h[0].closed && s.h[1].closed {
		s.complete()
		e.conns.remove(s)
	}
}

// flushHalf delivers the pages of half i seen before t, each after the
// hole in front of it, and closes the half when nothing is queued and the
// connection was last seen before tc, or before thc when a FIN was seen
// one way only (HalfCloseTimeout).
func (e *Engine) flushHalf(s *tcpStream, i int, t, tc, thc time.Time) {
	h := &s.h[i]
	if h.closed {
		return
	}
	// Pages are sorted by sequence number, not by age, and can only be
	// pushed in that order: a page must not wait longer than the ones
	// queued behind it.
	for p := h.last; p != nil && p.prev != nil; p = p.prev {
		if p.seen.Before(p.prev.seen) {
			p.prev.seen = p.seen
		}
	}
	for h.first != nil && h.first.seen.Before(t) {
		e.skipFlush(s, i)
		if h.closed {
			return
		}
	}
	if h.first == nil && (s.lastSeen().Before(tc) || s.finSeen[0] != s.finSeen[1] && s.lastSeen().Before(thc)) {
		e.closeHalf(s, i)
	}
}

// flush flushes every connection held (see flushHalf), in the order they
// came.
func (e *Engine) flush(t, tc, thc time.Time) {
	head := &e.conns.head
	for s := head.anext; s != head; {
		next := s.anext
		for _, i := range [2]int{1, 0} {
			e.flushHalf(s, i, t, tc, thc)
		}
		s = next
	}
	e.conns.shrink()
}

// flushAll delivers everything queued, after the holes, and closes every
// connection held.
func (e *Engine) flushAll() {
	head := &e.conns.head
	for s := head.anext; s != head; {
		next := s.anext
		for _, i := range [2]int{1, 0} {
			for !s.h[i].closed {
				e.skipFlush(s, i)
			}
		}
		s = next
	}
}
