package reassembly

import (
	"net/netip"
	"sort"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/msnsniff/msnsniff/dissect"
)

// newStream opens a Stream for the first segment of a connection, e.tcp,
// whose key and direction makeConnKey (or curKey4) gave. A segment with
// neither payload nor SYN opens none: it is the tail of a connection that
// is over or was never seen.
func (e *Engine) newStream(key connKey, swapped bool) *tcpStream {
	tcp := &e.tcp
	c := &e.pkt
	sp, dp := uint16(tcp.SrcPort), uint16(tcp.DstPort)
	if e.closed.late(key, tcp.SYN, c.clock) {
		// The assembler let the connection go when it closed: this is
		// one of its last ACKs or retransmissions.
		e.stats.Late++
		return nil
	}
	if len(tcp.Payload) == 0 && !tcp.SYN {
		e.stats.Stray++
		return nil
	}
	// The server is the endpoint on an MSNP port. When both are, a SYN
	// tells, and otherwise the lower port is taken for the server.
	serverIsDst := e.ports.has(dp)
	detectedBy := "port"
	syn := tcp.SYN
	if !e.ports.either(sp, dp) {
		var synSeen bool
		serverIsDst, synSeen, _ = e.detectedServer(key, e.cur.dst, dp)
		detectedBy = "content"
		syn = syn || synSeen
	} else if e.ports.both(sp, dp) {
		switch {
		case tcp.SYN && !tcp.ACK:
			serverIsDst = true
		case tcp.SYN:
			serverIsDst = false
		default:
			serverIsDst = dp <= sp
		}
	}
	src := netip.AddrPortFrom(e.addr(e.cur.src), sp)
	dst := netip.AddrPortFrom(e.addr(e.cur.dst), dp)
	info := dissect.ConnInfo{
		Client:     src,
		Server:     dst,
		Start:      c.clock, // not a lone jump's time: sessions are linked and ordered by it
		SYN:        syn,
		File:       e.cur.file,
		Packet:     e.cur.num,
		DetectedBy: detectedBy,
	}
	if !serverIsDst {
		info.Client, info.Server = dst, src
	}
	e.streams++
	s := &tcpStream{
		e:        e,
		id:       e.streams,
		firstC2S: serverIsDst,
		swapped:  swapped,
		key:      key,
		last:     c.clock,
	}
	for i := range s.h {
		s.h[i] = half{nextSeq: noSeq, finSeq: noSeq, lastSeen: c.clock}
	}
	s.out = e.sink.Open(info)
	if s.out == nil {
		s.out = discard{}
	}
	if e.rec != nil {
		if p, ok := s.out.(*pipeStream); ok {
			s.pipe, s.slot = true, p.slot
		}
	}
	e.stats.Connections++
	e.nopen++
	s.prev, s.next = e.open.prev, &e.open
	e.open.prev.next = s
	e.open.prev = s
	return s
}

// addr converts a 4 or 16 byte address of the current packet.
func (e *Engine) addr(b []byte) netip.Addr {
	if e.cur.v6 {
		return netip.AddrFrom16([16]byte(b))
	}
	return netip.AddrFrom4([4]byte(b))
}

// discard is the Stream of a connection the Sink did not want.
type discard struct{}

func (discard) Feed(dissect.Dir, time.Time, []byte) {}
func (discard) Gap(dissect.Dir, time.Time, int)     {}
func (discard) End(time.Time, bool)                 {}

// tcpStream is one connection: the assembler's state of its two halves
// and the Sink's Stream it feeds. Indexes [0] and [1] of its arrays are
// the halves: [0] is the direction of the connection's first packet. The
// fields used for every packet come first, in the first cache line, and the
// halves' state follows inline: a stream is touched once per packet and its
// first touch is usually a cache miss.
type tcpStream struct {
	e        *Engine
	pipe     bool  // out is a pipelined Run's pipeStream, in slot
	slot     int32 // see pipe
	out      Stream
	last     time.Time // latest packet time of the connection, on the clock
	swapped  bool      // key.b is the source of the first packet
	firstC2S bool      // the first packet went client to server
	ended    bool      // End was called
	started  [2]bool   // nextSeq is set
	fsm      tcpFSM
	h        [2]half   // the assembler's state of each half
	nextSeq  [2]uint32 // sequence number after the last byte delivered
	isn      [2]uint32 // sequence number of the SYN of each half (assumed for a forced start)
	finSeq   [2]uint32 // where a FIN seen in accept ends each half
	finSeen  [2]bool   // finSeq is set
	fed      [2]bool   // bytes were delivered
	done     [2]bool   // the assembler closed the half
	endSeen  [2]bool   // the half ended with a FIN or RST
	rst      bool      // a RST ended the connection
	rstSeen  bool      // a RST was accepted, maybe ahead of a hole
	evicted  bool      // ended by Options.MaxConnections
	jumpTold uint64    // id of the last packet whose lone jump was told (tellJump)

	// closedAt is the time of the packet that closed the connection: the
	// second FIN or the first RST accepted. The End of a closed
	// connection is at that packet even when a hole kept the connection
	// open in the assembler until a flush, endFinished, Finish or a new
	// SYN (see end).
	closedAt time.Time

	id  int64 // order of creation, from 1
	key connKey
	// prev and next link the Engine's list of streams not yet ended.
	prev, next *tcpStream
	// aprev and anext link the assembler's list of connections (conns);
	// anext is nil when the assembler does not hold the connection.
	aprev, anext *tcpStream
}

// dir converts half index i to a client/server direction.
func (s *tcpStream) dir(i int) dissect.Dir {
	if (i == 0) == s.firstC2S {
		return dissect.C2S
	}
	return dissect.S2C
}

// accept is called for every segment of half i before it is assembled,
// with the half's next sequence number. It forces a start on halves whose
// SYN was not captured, so that connections caught mid-stream flow at
// once, and drops control segments that break the TCP state machine.
// Segments with payload are never dropped while the connection lasts. A
// synthetic reset (Engine.reset) is moved to the half's next sequence
// number, *sq.
func (s *tcpStream) accept(tcp *layers.TCP, sq *seq, i int, nextSeq seq, start *bool, c *pktRef) bool {
	if c.synthetic {
		if nextSeq < 0 {
			*start = true
		} else {
			*sq = nextSeq
		}
		return true
	}
	if s.ended {
		s.e.stats.Late++
		return false
	}
	if tcp.SYN && !tcp.ACK && nextSeq >= 0 && !(s.started[i] && tcp.Seq == s.isn[i]) {
		// A new connection on the same addresses and ports: end this
		// one and assemble the SYN again once the assembler let it go.
		// One seen to close, held open by a hole, was not cut short.
		if s.closedAt.IsZero() {
			s.e.stats.Superseded++
		}
		s.end(s.last, false)
		s.e.replay = true
		return false
	}
	if c.clock.After(s.last) {
		s.last = c.clock
	}
	if !s.fsm.check(tcp, i == 1) {
		if len(tcp.Payload) == 0 {
			s.e.stats.Rejected++
			return false
		}
		s.e.stats.StateAnomalies++
	}
	switch {
	case nextSeq >= 0:
		s.nextSeq[i] = uint32(nextSeq)
	case tcp.SYN:
		s.isn[i] = tcp.Seq
		s.nextSeq[i] = tcp.Seq + 1
	default:
		// A SYN of this connection arriving late would have the
		// sequence number before the first byte seen.
		*start = true
		s.isn[i] = tcp.Seq - 1
		s.nextSeq[i] = tcp.Seq
	}
	s.started[i] = true
	if tcp.FIN {
		// The first FIN of the second half to send one: FINs are now
		// seen both ways, and s joins the Engine's finished list.
		both := !s.finSeen[i] && s.finSeen[1-i]
		s.finSeq[i] = tcp.Seq + uint32(len(tcp.Payload))
		s.finSeen[i] = true
		if both {
			s.e.finished = append(s.e.finished, s)
			s.closing(c.clock)
		}
	}
	// The assembler acts on a RST only at the expected sequence number;
	// one ahead of a hole still means the connection is closed.
	if tcp.RST {
		s.rstSeen = true
		s.closing(c.clock)
	}
	return true
}

// reassembled delivers the next bytes of half i, the pages of ret, split
// into one Feed per captured packet so that each carries its own time,
// after a Gap for any bytes skipped (skip, -1 when the half's position was
// not known). end tells that they end the half. ac is the packet being
// assembled, or the first page's for a flush.
func (s *tcpStream) reassembled(i int, ret []*page, skip int, end bool, ac *pktRef) {
	if end {
		s.done[i] = true
	}
	if s.ended {
		return
	}
	n := 0
	for _, p := range ret {
		n += len(p.bytes)
	}
	dir := s.dir(i)
	// The time is the packet's of the first byte, if any.
	c := ac
	for _, p := range ret {
		if len(p.bytes) > 0 {
			c = &p.pkt
			break
		}
	}
	t := c.ts
	if n > 0 {
		// A Gap before the bytes carries their packet's time too.
		s.tellJump(dir, c)
	}
	switch {
	case skip > 0:
		s.gap(dir, t, skip)
		s.nextSeq[i] += uint32(skip)
	case skip < 0 && s.fed[i]:
		// The assembler did not know where the half stood (skip -1):
		// bytes may be missing, how many is unknown. Before the first
		// bytes this is just a stream caught mid-way.
		s.gap(dir, t, 0)
	}
	if n > 0 {
		if len(ret) == 1 || len(ret[0].bytes) >= n {
			// One page, or the first holds all the bytes.
			s.emit(dir, c, ret[0].bytes[:n])
		} else {
			s.feed(ret, n, dir)
		}
		s.fed[i] = true
		s.nextSeq[i] += uint32(n)
	}
	if end {
		s.endSeen[i] = true
		if ac.rst && !ac.synthetic {
			s.rst = true
		}
		if s.rst {
			s.end(s.last, true)
		}
	}
}

// gap reports n lost bytes.
func (s *tcpStream) gap(dir dissect.Dir, t time.Time, n int) {
	s.e.stats.Gaps++
	if n == 0 {
		s.e.stats.UnknownGaps++
	}
	s.e.stats.GapBytes += int64(n)
	if s.e.deferring {
		s.e.deferCall(deferredCall{s: s, kind: evGap, dir: dir, t: t, n: n})
		return
	}
	s.out.Gap(dir, t, n)
}

// tellJump tells the Stream (a TimeJumper), once per packet, that the time
// of packet c is a lone jump (its time on the clock is not its own), before
// the first Gap or Feed that carries it.
func (s *tcpStream) tellJump(dir dissect.Dir, c *pktRef) {
	ahead := c.ts.Sub(c.clock)
	if ahead == 0 || s.jumpTold == c.id {
		return
	}
	s.jumpTold = c.id
	if e := s.e; e.deferring {
		e.deferCall(deferredCall{s: s, kind: evTimeJump, dir: dir, t: c.ts, n: int(ahead)})
		return
	}
	// s.out is the pipeStream in a pipelined Run: rare enough to read it.
	timeJump(s.out, dir, c.ts, ahead)
}

// emit delivers b, bytes of packet c, to the Stream, or holds a copy back
// during a flush.
func (s *tcpStream) emit(dir dissect.Dir, c *pktRef, b []byte) {
	s.tellJump(dir, c)
	t := c.ts
	if e := s.e; e.deferring {
		e.deferCall(deferredCall{s: s, kind: evFeed, dir: dir, t: t, n: len(b), off: len(e.deferBuf)})
		e.deferBuf = append(e.deferBuf, b...)
		return
	}
	if s.pipe {
		// What s.out.Feed does, without reading the pipeStream.
		s.e.rec.feed(s.slot, dir, t, b)
		return
	}
	s.out.Feed(dir, t, b)
}

// feed delivers the n bytes of ret, which come in more than one page, one
// Feed per run of bytes from the same packet. Runs are found by binary
// search on the packet of an offset, as a packet's bytes are contiguous in
// the stream (not always: a packet that replaced a page in the middle of
// another's is taken for the other's, whose time the run carries).
func (s *tcpStream) feed(ret []*page, n int, dir dissect.Dir) {
	e := s.e
	b := e.feedBuf[:0]
	offs := e.feedOffs[:0]
	for _, p := range ret {
		offs = append(offs, len(b))
		b = append(b, p.bytes...)
	}
	e.feedBuf, e.feedOffs = b, offs
	// at returns the packet of the page that holds byte off: the last
	// page that starts at or before it (an empty page starts where the
	// next one does).
	at := func(off int) *pktRef {
		return &ret[sort.SearchInts(offs, off+1)-1].pkt
	}
	lastID := at(n - 1).id
	for off := 0; off < n; {
		c := at(off)
		lo, hi := off+1, n
		if lastID == c.id {
			lo = n // the rest comes from one packet
		}
		for lo < hi {
			mid := int(uint(lo+hi) >> 1)
			if at(mid).id == c.id {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		s.emit(dir, c, b[off:lo])
		off = lo
	}
}

// closing records t as the time the connection closed, unless it closed
// earlier.
func (s *tcpStream) closing(t time.Time) {
	if s.closedAt.IsZero() || t.Before(s.closedAt) {
		s.closedAt = t
	}
}

// complete is called by the assembler when both halves are closed, before
// it lets the connection go. It ends the Stream if it has not ended yet. A connection seen to close (FINs or a RST), or ended by
// Finish, is remembered for IdleTimeout, so that its last ACKs and
// retransmissions are recognised as late rather than opening a new
// connection; a new SYN still starts one.
func (s *tcpStream) complete() {
	s.done = [2]bool{true, true}
	t := s.last
	if s.e.finishing && s.e.endTime.After(t) {
		t = s.e.endTime
	}
	closed := s.rst || s.rstSeen || (s.finSeen[0] && s.finSeen[1])
	s.end(t, closed)
	if closed || s.e.finishing {
		s.e.closed.add(s.key, s.last)
	}
}

// end reports any bytes missing before a FIN that never got delivered, calls
// End once, and has the Engine close the halves the assembler still has
// open.
// t is when the connection ends if it was not seen to close: its last
// packet, or the time passed to Finish. A connection seen to close (the
// second FIN or a RST accepted, closedAt) ends at the packet that closed
// it, closed, whichever path ends it: a flush, endFinished, Finish, a new
// SYN on its 4-tuple or eviction. Its last ACKs and retransmissions came
// after the close and do not make it last longer. The missing bytes are
// reported at the End time: the FIN that bounds them was seen by then.
func (s *tcpStream) end(t time.Time, closed bool) {
	if s.ended {
		return
	}
	s.ended = true
	if !s.closedAt.IsZero() {
		t, closed = s.closedAt, true
	}
	for i := range 2 {
		if s.finSeen[i] && !s.endSeen[i] && s.started[i] {
			if n := int32(s.finSeq[i] - s.nextSeq[i]); n > 0 {
				s.gap(s.dir(i), t, int(n))
			}
		}
	}
	if s.e.deferring {
		if s.evicted {
			s.e.deferCall(deferredCall{s: s, kind: evEvict, t: t})
		}
		s.e.deferCall(deferredCall{s: s, kind: evEnd, t: t, closed: closed})
	} else {
		if s.evicted {
			evictStream(s.out, t)
		}
		s.out.End(t, closed)
	}
	s.e.nopen--
	s.prev.next, s.next.prev = s.next, s.prev
	if !s.done[0] || !s.done[1] {
		s.e.pending = append(s.e.pending, s)
	}
}

// connKey names a TCP connection whichever way its packets go: the
// endpoint that sorts first comes first. The assembler (IPv4 connections
// by the short form, closedKey4) and the detector name connections by it.
type connKey struct {
	a, b   [16]byte
	pa, pb uint16
	v6     bool
}

// makeConnKey returns the key of the connection of a segment from src:sp
// to dst:dp (addresses of 4 bytes, or 16 with v6), and whether the
// segment goes from the key's b to its a.
func makeConnKey(src, dst []byte, sp, dp uint16, v6 bool) (connKey, bool) {
	// Comparing local arrays as strings, then building the key, costs
	// less than building it, comparing with bytes.Compare and swapping.
	var x, y [16]byte
	copy(x[:], src)
	copy(y[:], dst)
	if string(x[:]) < string(y[:]) || (x == y && sp <= dp) {
		return connKey{a: x, b: y, pa: sp, pb: dp, v6: v6}, false
	}
	return connKey{a: y, b: x, pa: dp, pb: sp, v6: v6}, true
}

// evictStream tells out, when it wants to know, that its connection is
// being ended by Options.MaxConnections.
func evictStream(out Stream, t time.Time) {
	if ev, ok := out.(Evicter); ok {
		ev.Evict(t)
	}
}
