package gpref

import (
	"bytes"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	gpreassembly "github.com/gopacket/gopacket/reassembly"
	"github.com/msnsniff/msnsniff/dissect"
)

// packetContext is the AssemblerContext of one packet. gopacket keeps it with
// every page of out-of-order data cut from the packet, so a context that
// may have been queued belongs to its packet and is never changed
// afterwards; one that was not is used again (Engine.newContext).
type packetContext struct {
	ts        time.Time     // the packet's own time, which Feed and Gap carry
	ahead     time.Duration // how far ts lies from the clock, for a lone jump (Engine.packet)
	file      string
	num       int64
	anc       [1]any // holds the context itself, see GetCaptureInfo
	rst       bool
	synthetic bool // a reset made up by the Engine, see Engine.reset
	queued    bool // gopacket may have kept pages of the packet, see Accept
}

// GetCaptureInfo returns the packet's time on the clock, with the context
// itself in AncillaryData[0] so that ScatterGather.CaptureInfo leads back
// to it. gopacket times its flushes of held data and idle connections by
// this timestamp, as Accept does the connection's last packet and close.
func (c *packetContext) GetCaptureInfo() gopacket.CaptureInfo {
	return gopacket.CaptureInfo{Timestamp: c.clock(), AncillaryData: c.anc[:]}
}

// clock returns the packet's time on the Engine's clock: its own time,
// unless it is a lone jump (Engine.Packet).
func (c *packetContext) clock() time.Time { return c.ts.Add(-c.ahead) }

// contextOf returns the packetContext behind ac, or nil.
func contextOf(ac gpreassembly.AssemblerContext) *packetContext {
	c, _ := ac.(*packetContext)
	return c
}

// contextAt returns the context of the packet that holds byte off of sg, or
// nil when off is out of range (CaptureInfo returns an empty value then).
func contextAt(sg gpreassembly.ScatterGather, off int) *packetContext {
	ci := sg.CaptureInfo(off)
	if len(ci.AncillaryData) == 0 {
		return nil
	}
	c, _ := ci.AncillaryData[0].(*packetContext)
	return c
}

// factory is the Engine's gopacket StreamFactory.
type factory struct{ e *Engine }

// New opens a Stream for the first segment of a connection. A segment with
// neither payload nor SYN opens none: it is the tail of a connection that is
// over or was never seen.
func (f *factory) New(netFlow, tcpFlow gopacket.Flow, tcp *layers.TCP, ac gpreassembly.AssemblerContext) gpreassembly.Stream {
	e := f.e
	c := contextOf(ac)
	if c == nil || c.synthetic {
		return nil
	}
	sp, dp := uint16(tcp.SrcPort), uint16(tcp.DstPort)
	key, swapped := e.curKey(sp, dp)
	if e.closed.late(key, tcp.SYN, c.clock()) {
		// gopacket let the connection go when it closed: this is one of
		// its last ACKs or retransmissions.
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
		serverIsDst, synSeen, _ = e.detectedServer(e.cur.src, e.cur.dst, sp, dp)
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
		Start:      c.clock(), // not a lone jump's time: sessions are linked and ordered by it
		SYN:        syn,
		File:       c.file,
		Packet:     c.num,
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
		fsm:      *gpreassembly.NewTCPSimpleFSM(gpreassembly.TCPSimpleFSMOptions{SupportMissingEstablishment: true}),
		last:     c.clock(),
	}
	s.out = e.sink.Open(info)
	if s.out == nil {
		s.out = discard{}
	}
	if e.rec != nil {
		s.pipe, _ = s.out.(*pipeStream)
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

// tcpStream is the gopacket Stream of one connection. It turns gopacket's
// callbacks into calls of the Sink's Stream. Indexes [0] and [1] of its
// arrays are gopacket's halves: [0] is the direction of the connection's
// first packet. The fields used for every packet come first, in the first
// two cache lines, and the state machine is kept inline: a stream is
// touched once per packet and its first touch is usually a cache miss.
type tcpStream struct {
	e       *Engine
	out     Stream
	pipe    *pipeStream // out, when the Sink is a pipelined Run's recorder
	last    time.Time   // latest packet time of the connection, on the clock
	fsm     gpreassembly.TCPSimpleFSM
	nextSeq [2]uint32 // sequence number after the last byte delivered
	isn     [2]uint32 // sequence number of the SYN of each half (assumed for a forced start)
	finSeq  [2]uint32 // where a FIN seen in Accept ends each half
	started [2]bool   // nextSeq is set
	finSeen [2]bool   // finSeq is set
	fed     [2]bool   // bytes were delivered
	done    [2]bool   // gopacket closed the half
	endSeen [2]bool   // the half ended with a FIN or RST
	ended   bool      // End was called
	rst     bool      // a RST ended the connection
	rstSeen bool      // a RST was accepted, maybe ahead of a hole
	evicted bool      // ended by Options.MaxConnections

	// closedAt is the time of the packet that closed the connection: the
	// second FIN or the first RST accepted. The End of a closed
	// connection is at that packet even when a hole kept the connection
	// open in gopacket until a flush, endFinished, Finish or a new SYN
	// (see end).
	closedAt time.Time

	firstC2S bool  // the first packet went client to server
	swapped  bool  // key.b is the source of the first packet
	id       int64 // order of creation, from 1
	key      connKey
	// prev and next link the Engine's list of streams not yet ended.
	prev, next *tcpStream
}

// half returns the index of gopacket direction d.
func half(d gpreassembly.TCPFlowDirection) int {
	if d == gpreassembly.TCPDirClientToServer {
		return 0
	}
	return 1
}

// dir converts half index i to a client/server direction.
func (s *tcpStream) dir(i int) dissect.Dir {
	if (i == 0) == s.firstC2S {
		return dissect.C2S
	}
	return dissect.S2C
}

// Accept is called by gopacket for every segment of the connection before
// it is assembled. It forces a start on halves whose SYN was not captured,
// so that connections caught mid-stream flow at once, and drops control
// segments that break the TCP state machine. Segments with payload are never
// dropped while the connection lasts.
func (s *tcpStream) Accept(tcp *layers.TCP, ci gopacket.CaptureInfo, d gpreassembly.TCPFlowDirection, nextSeq gpreassembly.Sequence, start *bool, ac gpreassembly.AssemblerContext) bool {
	i := half(d)
	c := contextOf(ac)
	if c != nil && c.synthetic {
		if nextSeq < 0 {
			*start = true
		} else {
			tcp.Seq = uint32(nextSeq)
		}
		return true
	}
	if s.ended {
		s.e.stats.Late++
		return false
	}
	if tcp.SYN && !tcp.ACK && nextSeq >= 0 && !(s.started[i] && tcp.Seq == s.isn[i]) {
		// A new connection on the same addresses and ports: end this
		// one and assemble the SYN again once gopacket let it go. One
		// seen to close, held open by a hole, was not cut short.
		if s.closedAt.IsZero() {
			s.e.stats.Superseded++
		}
		s.end(s.last, false)
		s.e.replay = true
		return false
	}
	if ci.Timestamp.After(s.last) {
		s.last = ci.Timestamp
	}
	if !s.fsm.CheckState(tcp, d) {
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
			s.closing(ci.Timestamp)
		}
	}
	// gopacket acts on a RST only at the expected sequence number; one
	// ahead of a hole still means the connection is closed.
	if tcp.RST {
		s.rstSeen = true
		s.closing(ci.Timestamp)
	}
	// gopacket queues a segment's payload, with the context, in pages only
	// when it starts past the half's next sequence number: before the
	// half started it is started here (start or SYN). This is a superset
	// of the segments it queues (it may still drop the segment), which is
	// all newContext needs.
	if c != nil && len(tcp.Payload) > 0 && nextSeq >= 0 && nextSeq.Difference(gpreassembly.Sequence(tcp.Seq)) > 0 {
		c.queued = true
	}
	return true
}

// ReassembledSG delivers the next bytes of one direction, split into one
// Feed per captured packet so that each carries its own time, after a Gap
// for any bytes skipped.
func (s *tcpStream) ReassembledSG(sg gpreassembly.ScatterGather, ac gpreassembly.AssemblerContext) {
	d, _, end, skip := sg.Info()
	i := half(d)
	n, _ := sg.Lengths()
	if end {
		s.done[i] = true
	}
	if s.ended {
		return
	}
	dir := s.dir(i)
	var b []byte
	var c *packetContext
	live := false // all the bytes come from the segment being assembled
	if n > 0 {
		b = sg.Fetch(n)
		// Fetch returns a view of the first chunk when it holds all the
		// bytes. When that chunk is the segment being assembled, its
		// context is ac, and sg need not be asked: most segments come
		// in order and are delivered alone.
		if live = viewOf(b, s.e.tcp.Payload); live {
			c = contextOf(ac)
		}
	}
	if c == nil {
		c = contextAt(sg, 0)
	}
	var t time.Time
	if c != nil {
		t = c.ts
	} else if c := contextOf(ac); c != nil {
		t = c.ts
	} else {
		t = s.last
	}
	switch {
	case skip > 0:
		s.gap(dir, t, skip)
		s.nextSeq[i] += uint32(skip)
	case skip < 0 && s.fed[i]:
		// gopacket did not know where the half stood (skip -1): bytes
		// may be missing, how many is unknown. Before the first bytes
		// this is just a stream caught mid-way.
		s.gap(dir, t, 0)
	}
	if n > 0 {
		if live {
			s.emit(dir, t, b)
		} else {
			s.feed(sg, b, dir, t)
		}
		s.fed[i] = true
		s.nextSeq[i] += uint32(n)
	}
	if end {
		s.endSeen[i] = true
		if c := contextOf(ac); c != nil && c.rst && !c.synthetic {
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

// emit delivers b to the Stream, or holds a copy back during a flush.
func (s *tcpStream) emit(dir dissect.Dir, t time.Time, b []byte) {
	if e := s.e; e.deferring {
		e.deferCall(deferredCall{s: s, kind: evFeed, dir: dir, t: t, n: len(b), off: len(e.deferBuf)})
		e.deferBuf = append(e.deferBuf, b...)
		return
	}
	if s.pipe != nil {
		// What s.out.Feed does, without reading the pipeStream.
		s.e.rec.feed(s.pipe, dir, t, b)
		return
	}
	s.out.Feed(dir, t, b)
}

// viewOf tells whether b is a non-empty view of p's bytes that ends where
// p's capacity ends, as gopacket's views of a segment's payload do.
func viewOf(b, p []byte) bool {
	if len(b) == 0 || cap(b) > cap(p) {
		return false
	}
	return &p[:cap(p)][cap(p)-cap(b)] == &b[0]
}

// feed delivers b, the available bytes of sg, one Feed per run of bytes
// from the same packet. Runs are found by binary search on the packet
// context of an offset: a packet's bytes are contiguous in the stream.
func (s *tcpStream) feed(sg gpreassembly.ScatterGather, b []byte, dir dissect.Dir, t time.Time) {
	n := len(b)
	if sg.Stats().Chunks <= 1 {
		s.emit(dir, t, b)
		return
	}
	for off := 0; off < n; {
		c := contextAt(sg, off)
		if c == nil {
			s.emit(dir, t, b[off:])
			return
		}
		lo, hi := off+1, n
		if contextAt(sg, n-1) == c {
			lo = n // the rest comes from one packet
		}
		for lo < hi {
			mid := int(uint(lo+hi) >> 1)
			if contextAt(sg, mid) == c {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		t = c.ts
		s.emit(dir, t, b[off:lo])
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

// ReassemblyComplete is called by gopacket when both halves are closed. It
// ends the Stream if it has not ended yet and lets gopacket drop the
// connection. A connection seen to close (FINs or a RST), or ended by
// Finish, is remembered for IdleTimeout, so that its last ACKs and
// retransmissions are recognised as late rather than opening a new
// connection; a new SYN still starts one.
func (s *tcpStream) ReassemblyComplete(gpreassembly.AssemblerContext) bool {
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
	return true
}

// end reports any bytes missing before a FIN that never got delivered, calls
// End once, and has the Engine close the halves gopacket still has open.
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
// endpoint that sorts first comes first.
type connKey struct {
	a, b   [16]byte
	pa, pb uint16
	v6     bool
}

// curKey returns the key of the current packet's connection, and whether
// the packet goes from the key's b to its a.
func (e *Engine) curKey(sp, dp uint16) (k connKey, swapped bool) {
	k = connKey{pa: sp, pb: dp, v6: e.cur.v6}
	copy(k.a[:], e.cur.src)
	copy(k.b[:], e.cur.dst)
	if c := bytes.Compare(k.a[:], k.b[:]); c > 0 || (c == 0 && sp > dp) {
		k.a, k.b, k.pa, k.pb = k.b, k.a, k.pb, k.pa
		swapped = true
	}
	return k, swapped
}

// evictStream tells out, when it wants to know, that its connection is
// being ended by Options.MaxConnections.
func evictStream(out Stream, t time.Time) {
	if ev, ok := out.(Evicter); ok {
		ev.Evict(t)
	}
}
