package reassembly

import (
	"bytes"
	"encoding/binary"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/msnsniff/msnsniff/dissect"
)

// Detection of MSNP on ports outside Options.Ports.
//
// The packets of a connection on another port are held, not assembled,
// until its first bytes tell what it carries: every packet (SYN, ACKs,
// data, both directions) is copied and kept in capture order. Each
// direction's first bytes are joined in sequence order from where the
// direction starts (after its SYN, or at its first captured data segment
// when the SYN was not captured, where the assembler would start it too),
// so a first line cut into small segments, reordered or retransmitted
// reads as one. A direction is decided by dissect.Sniff once its first
// CRLF is in, or found not MSNP as soon as its bytes can no longer begin
// an MSNP line (mayStartLine) or reach holdLine bytes without a CRLF.
//
// The first direction found to start with an MSNP line makes the
// connection MSNP, whichever side spoke first. Its server is the endpoint
// a captured SYN went to (or a SYN-ACK came from), else the side Sniff
// names: "VER 1 MSNP8 CVR0" is a client's line, but servers answer with
// the same one, and the answer decides when the client's first segment
// was lost. The held packets are then assembled in the order they were
// captured, with their times, packet numbers and, for -w, their frames,
// before the packet that decided it: the connection reaches the Sink as
// it would on an MSNP port, only later (its Stream opens when it is
// decided, after those opened meanwhile).
//
// A connection is not MSNP when both directions were found not to be, or
// when it gives up and is not found MSNP on what it holds. It gives up
// when its held packets reach holdPackets or holdBytes, when it has been
// held for holdTimeout of packet time (checked when a packet of a
// connection not yet decided comes), when both FINs or a RST are seen,
// when all connections together hold more than holdTotal (the oldest
// gives up first), and at Finish. The held packets of a connection that
// is not MSNP are dropped: they were counted as OtherPort when they came,
// and those of an MSNP connection move to Assembled as they are assembled.
//
// A connection that gives up decides on what it holds: a direction whose
// first bytes were lost (captured after a hole, with its SYN seen) or cut
// by a hole before their first CRLF is judged on the bytes after the
// hole, from their first byte and, failing that, from the line after their
// first CRLF (a lost segment usually ends inside a line), as the
// dissector resynchronizes there. A connection that holds no data when it
// gives up is not decided: its packets are dropped, a SYN among them is
// remembered, and its later packets are held anew.

// maxDetected bounds the connections remembered as detected (and as
// checked and found not MSNP). Past it the oldest are forgotten: a
// forgotten MSNP connection is then only reassembled while the assembler
// still holds it, and a forgotten other one may be sniffed again. A forgotten
// connection that was still held drops its packets.
const maxDetected = 1 << 16

// holdLine is how many of a direction's first bytes are joined and looked
// at: dissect.Sniff reads no more than 512 bytes, so a direction without a
// CRLF in its first 512 bytes is not MSNP.
const holdLine = 512

// holdPackets bounds the packets held for one connection, of either
// direction and with or without data. A first line of 36 bytes (MSNP7's
// VER with five dialects) cut into 1-byte segments comes with its
// handshake and an ACK for each segment in about 75 packets; 128 leaves
// room for retransmissions.
const holdPackets = 128

// holdBytes bounds what one connection holds: the bytes of its held
// packets (frame and TCP segment) plus heldOverhead for each. 32 KiB holds
// holdPackets packets of 1 byte of data each, frames kept for -w (about
// 240 bytes each in all), or some fifteen full-sized segments of a
// connection that sends without a CRLF.
const holdBytes = 32 << 10

// holdTotal bounds what all held connections hold together, as counted in
// holdBytes: 8 MiB is 256 connections at holdBytes, or some 40000 held
// SYNs. Past it the connection held the longest gives up.
const holdTotal = 8 << 20

// heldOverhead is the memory a held packet costs beyond its bytes: its
// heldPacket record (152 bytes on 64-bit machines), counted against
// holdBytes and holdTotal so that tiny packets are bounded too.
const heldOverhead = 160

// holdTimeout is the packet time a connection is held at most. An MSNP
// client sends its first line as soon as it is connected and the server
// answers at once; 10 s also covers the retransmission of a first segment
// lost before the capture point (RFC 6298 sets the retransmission timeout
// to 1 s, doubled on each retry).
const holdTimeout = 10 * time.Second

// maxFreeHoldings bounds the released holdings kept for reuse, and
// maxFreeHoldingBuf the buffer capacity each may keep.
const (
	maxFreeHoldings   = 64
	maxFreeHoldingBuf = 4 << 10
)

// holdLimits are the bounds of the held packets; the zero value means the
// constants above (tests lower them).
type holdLimits struct {
	packets, bytes, total int
	timeout               time.Duration
}

func (l holdLimits) withDefaults() holdLimits {
	if l.packets <= 0 {
		l.packets = holdPackets
	}
	if l.bytes <= 0 {
		l.bytes = holdBytes
	}
	if l.total <= 0 {
		l.total = holdTotal
	}
	if l.timeout <= 0 {
		l.timeout = holdTimeout
	}
	return l
}

// detection is what is known of a connection on another port.
type detection struct {
	// checked is set once its first bytes were sniffed; msnp says
	// whether it was MSNP. synSeen records a SYN seen before that, so
	// that a detected connection whose start was captured is not partial.
	checked, msnp, synSeen bool
	// serverPort and serverAddr name the server side of an MSNP one, or
	// of one whose SYN was seen.
	serverPort uint16
	serverAddr [16]byte
	// hold holds its packets while it is not checked.
	hold *holding
}

// verdict is what a direction's first bytes say.
type verdict uint8

const (
	undecided verdict = iota
	notMSNP
	isMSNP
)

// holding is a connection whose packets are held until it is decided.
type holding struct {
	key  connKey
	pkts []heldPacket
	buf  []byte // the held packets' bytes
	size int    // counted against holdBytes and holdTotal
	// since is the latest packet time (Engine.now) when the first packet
	// was held: captures are not always in time order, and a packet
	// older than those before it must not time out at once.
	since time.Time
	dirs  [2]holdDir // [0] from key.a to key.b, [1] the other way
	fin   [2]bool
	rst   bool
	// syn is set when a SYN was held; serverB then says whether it
	// names key.b the server (a SYN goes to the server, a SYN-ACK comes
	// from it).
	syn, serverB bool
	// prev and next link the detector's list of holdings, oldest first.
	prev, next *holding
}

// holdDir is one direction of a holding. Sequence numbers are relative to
// start, the sequence number of the direction's first byte.
type holdDir struct {
	started bool   // start is known: a SYN or a data segment was held
	start   uint32 // sequence number of the first byte
	data    bool   // a data segment was held
	spoke   int    // 1 + index of the direction's first data packet
	verdict verdict
	client  bool // the direction's line is a client's (verdict isMSNP)
}

// heldPacket is one held packet: where its bytes are in holding.buf and
// what Engine.Packet was told of it.
type heldPacket struct {
	ci         gopacket.CaptureInfo
	ahead      time.Duration // see Engine.packet
	link       layers.LinkType
	file       string
	num        int64
	d          int    // direction: index into holding.dirs
	frame, seg [2]int // start and end in holding.buf; frame is empty without OnPacket
}

type detector struct {
	m     map[connKey]detection
	order []connKey
	head  int

	lim     holdLimits
	limSet  bool
	list    holding // sentinel of the list of holdings, oldest first
	held    int     // bytes held, as counted in holding.size
	conns   int     // connections held
	free    []*holding
	scratch []byte // a direction's first bytes while they are judged
}

func (d *detector) remember(k connKey, v detection) {
	if d.m == nil {
		d.m = map[connKey]detection{}
	}
	if _, ok := d.m[k]; !ok {
		if len(d.order) < maxDetected {
			d.order = append(d.order, k)
		} else {
			old := d.order[d.head]
			if h := d.m[old].hold; h != nil {
				d.drop(h)
			}
			delete(d.m, old)
			d.order[d.head] = k
			d.head = (d.head + 1) % maxDetected
		}
	}
	d.m[k] = v
}

// limits returns the hold limits in force.
func (d *detector) limits() holdLimits {
	if !d.limSet {
		d.lim, d.limSet = d.lim.withDefaults(), true
	}
	return d.lim
}

// newHolding returns an empty holding for k, last in the list.
func (d *detector) newHolding(k connKey, t time.Time) *holding {
	var h *holding
	if n := len(d.free); n > 0 {
		h = d.free[n-1]
		d.free = d.free[:n-1]
		*h = holding{pkts: h.pkts[:0], buf: h.buf[:0]}
	} else {
		h = &holding{}
	}
	h.key, h.since = k, t
	if d.list.next == nil {
		d.list.next, d.list.prev = &d.list, &d.list
	}
	h.prev, h.next = d.list.prev, &d.list
	d.list.prev.next = h
	d.list.prev = h
	d.conns++
	return h
}

// drop forgets h and its packets and keeps it for reuse.
func (d *detector) drop(h *holding) {
	h.prev.next, h.next.prev = h.next, h.prev
	h.prev, h.next = nil, nil
	d.held -= h.size
	d.conns--
	if len(d.free) < maxFreeHoldings && cap(h.buf) <= maxFreeHoldingBuf && cap(h.pkts) <= holdPackets {
		clear(h.pkts[:cap(h.pkts)]) // let go of the file names and capture infos
		d.free = append(d.free, h)
	}
}

// oldest returns the holding held the longest, or nil.
func (d *detector) oldest() *holding {
	if d.list.next == nil || d.list.next == &d.list {
		return nil
	}
	return d.list.next
}

// detect decides whether a segment on ports outside Options.Ports belongs
// to an MSNP connection and reports whether the segment is to be assembled
// now. The packets of a connection not yet decided are held (see the
// comment at the top of this file) and reported as not to be assembled;
// when this segment decides the connection is MSNP, the packets held
// before it are assembled first. data, ci, ahead, link, file and num are
// those of Engine.packet; they are copied when held.
func (e *Engine) detect(src, dst, seg []byte, v6 bool, data []byte, ci gopacket.CaptureInfo, ahead time.Duration, link layers.LinkType, file string, num int64) bool {
	if e.opt.NoDetect {
		return false
	}
	sp, dp := binary.BigEndian.Uint16(seg[0:2]), binary.BigEndian.Uint16(seg[2:4])
	k, swapped := makeConnKey(src, dst, sp, dp, v6)
	v := e.det.m[k]
	if v.checked {
		return v.msnp
	}
	lim := e.det.limits()
	if h := e.det.oldest(); h != nil && e.now.Sub(h.since) > lim.timeout {
		e.expireHeld(e.now.Add(-lim.timeout))
		if v = e.det.m[k]; v.checked {
			return v.msnp
		}
	}

	h := v.hold
	if h == nil {
		h = e.det.newHolding(k, e.now)
		v.hold = h
		e.det.remember(k, v)
	}
	d := 0
	if swapped {
		d = 1
	}
	before := h.size
	p := heldPacket{ci: ci, ahead: ahead, link: link, file: file, num: num, d: d}
	if e.opt.OnPacket != nil {
		p.frame[0] = len(h.buf)
		h.buf = append(h.buf, data...)
		p.frame[1] = len(h.buf)
	}
	p.seg[0] = len(h.buf)
	h.buf = append(h.buf, seg...)
	p.seg[1] = len(h.buf)
	h.pkts = append(h.pkts, p)
	h.size += p.frame[1] - p.frame[0] + len(seg) + heldOverhead
	e.det.held += h.size - before

	flags := seg[13]
	if flags&0x02 != 0 && !h.syn {
		h.syn, h.serverB = true, (d == 0) == (flags&0x10 == 0)
	}
	h.rst = h.rst || flags&0x04 != 0
	h.fin[d] = h.fin[d] || flags&0x01 != 0
	hd := &h.dirs[d]
	seq := binary.BigEndian.Uint32(seg[4:8])
	payload := len(seg) - int(seg[12]>>4)*4
	switch {
	case hd.started:
	case flags&0x02 != 0:
		hd.started, hd.start = true, seq+1
	case payload > 0:
		hd.started, hd.start = true, seq
	}
	if payload > 0 && !hd.data {
		hd.data, hd.spoke = true, len(h.pkts)
	}

	// Bound the memory of the other connections first; this one is
	// bounded by its own limits below.
	for e.det.held > lim.total {
		o := e.det.oldest()
		if o == h {
			break
		}
		e.giveUp(o)
	}
	if payload > 0 && hd.verdict == undecided {
		hd.verdict, hd.client = e.det.judge(h, d, false)
	}
	final := len(h.pkts) >= lim.packets || h.size >= lim.bytes || h.rst || (h.fin[0] && h.fin[1])
	if !e.decide(h, final) {
		return false
	}
	// Assemble what was held before this packet; the caller assembles
	// this one.
	h.pkts = h.pkts[:len(h.pkts)-1]
	e.replayHeld(h)
	return true
}

// expireHeld makes the connections held since before t give up.
func (e *Engine) expireHeld(t time.Time) {
	for h := e.det.oldest(); h != nil && h.since.Before(t); h = e.det.oldest() {
		e.giveUp(h)
	}
}

// finishHeld makes every held connection give up, oldest first. Finish
// calls it before it flushes the assembler.
func (e *Engine) finishHeld() {
	for h := e.det.oldest(); h != nil; h = e.det.oldest() {
		e.giveUp(h)
	}
}

// giveUp decides h on what it holds: its packets are assembled when it is
// MSNP and dropped otherwise.
func (e *Engine) giveUp(h *holding) {
	if e.decide(h, true) {
		e.replayHeld(h)
	}
}

// decide decides h when its directions allow it, or on what it holds when
// final is set, and records the decision. It reports whether h is MSNP:
// then the caller assembles its packets with replayHeld. Otherwise h is
// dropped, unless it is not decided yet and stays held.
func (e *Engine) decide(h *holding, final bool) (msnp bool) {
	if final {
		for d := range h.dirs {
			if h.dirs[d].data && h.dirs[d].verdict == undecided {
				h.dirs[d].verdict, h.dirs[d].client = e.det.judge(h, d, true)
			}
		}
	}
	// The direction that spoke first decides when both are MSNP.
	first := -1
	for d := range h.dirs {
		if hd := &h.dirs[d]; hd.verdict == isMSNP && (first < 0 || hd.spoke < h.dirs[first].spoke) {
			first = d
		}
	}
	// A SYN, held now or before, tells the server.
	v := detection{synSeen: h.syn}
	serverB := h.serverB
	if old := e.det.m[h.key]; old.synSeen {
		v.synSeen = true
		serverB = old.serverPort == h.key.pb && old.serverAddr == h.key.b
	}
	if v.synSeen {
		v.serverPort, v.serverAddr = h.key.pa, h.key.a
		if serverB {
			v.serverPort, v.serverAddr = h.key.pb, h.key.b
		}
	}
	switch {
	case first >= 0:
		v.checked, v.msnp = true, true
		if !v.synSeen {
			// A client's line goes to the server; a server's comes
			// from it.
			v.serverPort, v.serverAddr = h.key.pb, h.key.b
			if (first == 0) != h.dirs[first].client {
				v.serverPort, v.serverAddr = h.key.pa, h.key.a
			}
		}
		e.stats.Detected++
		e.det.remember(h.key, v)
		return true
	case h.dirs[0].verdict == notMSNP && h.dirs[1].verdict == notMSNP:
		v.checked = true
	case !final:
		return false // it stays held
	case !h.dirs[0].data && !h.dirs[1].data:
		// Nothing to judge: forget the packets, not the connection.
	default:
		v.checked = true
	}
	e.det.remember(h.key, v)
	e.det.drop(h)
	return false
}

// replayHeld assembles the packets held in h, in the order they were
// captured, and lets h go. The Engine's current packet is left as it was.
func (e *Engine) replayHeld(h *holding) {
	cur := e.cur
	a, b := h.key.a[:4], h.key.b[:4]
	if h.key.v6 {
		a, b = h.key.a[:], h.key.b[:]
	}
	for i := range h.pkts {
		p := &h.pkts[i]
		e.stats.TCP--
		e.stats.OtherPort--
		ip := ipPacket{v6: h.key.v6, src: a, dst: b, tcp: h.buf[p.seg[0]:p.seg[1]:p.seg[1]]}
		if p.d == 1 {
			ip.src, ip.dst = b, a
		}
		e.cur.ts = p.ci.Timestamp.Add(-p.ahead) // see Engine.packet
		e.assembleSegment(h.buf[p.frame[0]:p.frame[1]:p.frame[1]], &ip, p.ci, p.link, p.file, p.num)
	}
	e.cur = cur
	e.det.drop(h)
}

// judge reads the first bytes of direction d of h. When giveUp is set the
// direction has no more to come: bytes that do not yet make a line are
// not MSNP, and the bytes after a hole are judged.
func (det *detector) judge(h *holding, d int, giveUp bool) (verdict, bool) {
	b, end := det.run(h, d, 0)
	if len(b) > 0 || !giveUp {
		if bytes.Contains(b, []byte("\r\n")) {
			ok, client := dissect.Sniff(b)
			if ok {
				return isMSNP, client
			}
			return notMSNP, false
		}
		if !mayStartLine(b) || len(b) >= holdLine {
			return notMSNP, false
		}
		if !giveUp {
			return undecided, false
		}
	}
	// The first line never completed: a hole cut it, or its start was
	// lost. Judge what follows the hole.
	next, ok := h.after(d, end)
	if !ok {
		return notMSNP, false
	}
	b, _ = det.run(h, d, next)
	if ok, client := dissect.Sniff(b); ok {
		return isMSNP, client
	}
	if i := bytes.Index(b, []byte("\r\n")); i >= 0 {
		if ok, client := dissect.Sniff(b[i+2:]); ok {
			return isMSNP, client
		}
	}
	return notMSNP, false
}

// payloadOf returns the sequence number of the first data byte of held
// packet p and its data.
func (h *holding) payloadOf(p *heldPacket) (uint32, []byte) {
	seg := h.buf[p.seg[0]:p.seg[1]]
	seq := binary.BigEndian.Uint32(seg[4:8])
	if seg[13]&0x02 != 0 {
		seq++ // data on a SYN follows the SYN's sequence number
	}
	return seq, seg[int(seg[12]>>4)*4:]
}

// run returns the bytes of direction d of h that are contiguous from
// offset from (relative to the direction's start), at most holdLine of
// them, in det.scratch, and the offset where they end.
func (det *detector) run(h *holding, d int, from int64) ([]byte, int64) {
	b := det.scratch[:0]
	start := h.dirs[d].start
	end := from
	for progress := true; progress && len(b) < holdLine; {
		progress = false
		for i := range h.pkts {
			p := &h.pkts[i]
			if p.d != d {
				continue
			}
			seq, pay := h.payloadOf(p)
			rel := int64(int32(seq - start))
			if len(pay) == 0 || rel > end || rel+int64(len(pay)) <= end {
				continue
			}
			pay = pay[end-rel:]
			pay = pay[:min(len(pay), holdLine-len(b))]
			b = append(b, pay...)
			end += int64(len(pay))
			progress = true
			if len(b) >= holdLine {
				break
			}
		}
	}
	det.scratch = b
	return b, end
}

// after returns the offset of the first held byte of direction d beyond
// end, relative to the direction's start.
func (h *holding) after(d int, end int64) (int64, bool) {
	best, found := int64(0), false
	start := h.dirs[d].start
	for i := range h.pkts {
		p := &h.pkts[i]
		if p.d != d {
			continue
		}
		seq, pay := h.payloadOf(p)
		rel := int64(int32(seq - start))
		if len(pay) == 0 || rel+int64(len(pay)) <= end {
			continue
		}
		rel = max(rel, end)
		if !found || rel < best {
			best, found = rel, true
		}
	}
	return best, found
}

// mayStartLine reports whether b, first bytes of a direction without a
// CRLF, can still begin a line dissect.Sniff accepts: a known three-byte
// verb, a space or the line's CR, then parameters of printable bytes
// (0x21 to 0x7e, or 0x80 and up) separated by single spaces (plausible in
// dissect/session.go). It never refuses a prefix of such a line.
func mayStartLine(b []byte) bool {
	if len(b) >= 3 && dissect.LookupVerb(string(b[:3])) == nil {
		return false
	}
	for i, c := range b {
		switch {
		case i < 3:
			// Every verb is three capital letters (verbs.go).
			if c < 'A' || c > 'Z' {
				return false
			}
		case i == 3:
			if c != ' ' && c != '\r' {
				return false
			}
		case c == '\r':
			// Its LF has not come yet, or b would hold a CRLF.
			return i == len(b)-1
		case c == ' ':
			if b[i-1] == ' ' {
				return false
			}
		case c < 0x21 || c == 0x7f:
			return false
		}
	}
	return true
}

// detectedServer reports, for a connection found by detection, whether the
// segment to dst:dp of connection k goes to the server and whether the
// connection's SYN was seen; found is false for connections on
// Options.Ports.
func (e *Engine) detectedServer(k connKey, dst []byte, dp uint16) (serverIsDst, synSeen, found bool) {
	if len(e.det.m) == 0 {
		return false, false, false
	}
	v, ok := e.det.m[k]
	if !ok || !v.msnp {
		return false, false, false
	}
	var d [16]byte
	copy(d[:], dst)
	return v.serverPort == dp && v.serverAddr == d, v.synSeen, true
}
