package capgen

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/msnsniff/msnsniff/dissect"
)

// Packet is one captured link-layer frame.
type Packet struct {
	// Time is the capture time.
	Time time.Time
	// Data is the frame as captured: at most the snapshot length, so
	// possibly cut.
	Data []byte
	// OrigLen is the length of the whole frame on the wire; it is at least
	// len(Data).
	OrigLen int
}

// TCP header flags (RFC 9293 §3.1).
const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagPSH = 0x08
	flagACK = 0x10
)

// pcgStream is the second PCG seed word. Any constant works; Options.Seed
// supplies the first.
const pcgStream = 0x6d736e70 // "msnp"

// seg is one TCP segment to send, before link, IP and time are chosen.
type seg struct {
	conn    int
	dir     dissect.Dir // the sender
	flags   uint8
	seq     uint32
	ack     uint32
	payload []byte        // borrowed from the transcript
	base    time.Duration // time of the event that sent it, from Start
	dup     bool          // a duplicate of an earlier segment
}

// isData reports whether s carries payload bytes.
func (s *seg) isData() bool { return len(s.payload) > 0 }

// conn is the state of one connection while its segments are built and
// rendered. Arrays are indexed by dissect.Dir: [dissect.C2S] is the client
// side, [dissect.S2C] the server side.
type conn struct {
	ep          [2]netip.AddrPort // unmapped, no zone
	mac         [2][6]byte
	v6          bool
	first, last int // indexes of the first and last event, -1 if none
	isn         [2]uint32
	nxt         [2]uint32 // next sequence number each side sends
	unacked     [2]int    // bytes each side sent that the peer has not acknowledged
	ipid        [2]uint16 // next IPv4 id each side uses
	lastAck     [2]uint32 // acknowledgment number each side sent last
}

// Packets returns the frames that a capture of transcript t shows, in
// capture order, built as the Options say. The returned packets and their
// Data are owned by the caller; Data slices share one backing array but
// have their capacity limited, so appending to one does not clobber
// another. At most MaxPackets frames are built; larger outputs fail with
// ErrTooManyPackets. Invalid options fail with ErrOptions, transcripts that
// TCP cannot carry with ErrTranscript.
func Packets(t *dissect.Transcript, opt Options) ([]Packet, error) {
	opt, err := opt.normalize()
	if err != nil {
		return nil, err
	}
	cs, err := newConns(t, opt)
	if err != nil {
		return nil, err
	}
	segs, err := build(t, opt, cs)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(uint64(opt.Seed), pcgStream))
	reorder(segs, len(cs), opt.Reorder, rng)
	if segs, err = duplicate(segs, opt.Duplicate, rng); err != nil {
		return nil, err
	}
	return render(segs, cs, opt), nil
}

// newConns checks the transcript's connections and events and returns the
// initial state of each connection.
func newConns(t *dissect.Transcript, opt Options) ([]conn, error) {
	if t == nil {
		return nil, fmt.Errorf("%w: nil transcript", ErrTranscript)
	}
	cs := make([]conn, len(t.Conns))
	for i, tc := range t.Conns {
		c := &cs[i]
		c.ep[dissect.C2S], c.ep[dissect.S2C] = unmap(tc.Client), unmap(tc.Server)
		for d, ap := range c.ep {
			if !ap.Addr().IsValid() {
				return nil, fmt.Errorf("%w: connection %d: invalid %s address", ErrTranscript, i, sideName(dissect.Dir(d)))
			}
			c.mac[d] = macFor(ap.Addr())
		}
		if c.ep[0].Addr().Is4() != c.ep[1].Addr().Is4() {
			return nil, fmt.Errorf("%w: connection %d: client %v and server %v differ in IP version", ErrTranscript, i, tc.Client, tc.Server)
		}
		if c.ep[0] == c.ep[1] {
			return nil, fmt.Errorf("%w: connection %d: client and server are both %v", ErrTranscript, i, tc.Client)
		}
		c.v6 = !c.ep[0].Addr().Is4()
		c.first, c.last = -1, -1
		for d := range c.isn {
			h := mix(uint64(i)<<1 | uint64(d))
			switch {
			case opt.WrapSeq:
				c.isn[d] = WrapISN
			case opt.ISN != 0:
				c.isn[d] = opt.ISN
			default:
				c.isn[d] = uint32(h)
			}
			c.ipid[d] = uint16(h >> 48)
		}
	}
	for i, ev := range t.Events {
		if ev.Conn < 0 || ev.Conn >= len(cs) {
			return nil, fmt.Errorf("%w: event %d: connection %d out of range [0, %d)", ErrTranscript, i, ev.Conn, len(cs))
		}
		if ev.Dir != dissect.C2S && ev.Dir != dissect.S2C {
			return nil, fmt.Errorf("%w: event %d: invalid direction %d", ErrTranscript, i, ev.Dir)
		}
		if ev.Wait < 0 {
			return nil, fmt.Errorf("%w: event %d: negative wait %v", ErrTranscript, i, ev.Wait)
		}
		c := &cs[ev.Conn]
		if c.first < 0 {
			c.first = i
		}
		c.last = i
	}
	if err := checkOverlap(cs); err != nil {
		return nil, err
	}
	return cs, nil
}

// checkOverlap fails when two connections with the same address and port
// pair are open at the same time: TCP could not tell them apart.
func checkOverlap(cs []conn) error {
	byPair := make(map[[2]netip.AddrPort][]int)
	for i := range cs {
		c := &cs[i]
		if c.first < 0 {
			continue
		}
		key := c.ep
		if key[1].Addr().Less(key[0].Addr()) || key[1].Addr() == key[0].Addr() && key[1].Port() < key[0].Port() {
			key[0], key[1] = key[1], key[0]
		}
		byPair[key] = append(byPair[key], i)
	}
	for _, idx := range byPair {
		slices.SortFunc(idx, func(a, b int) int { return cs[a].first - cs[b].first })
		last, lastConn := -1, -1
		for _, i := range idx {
			if cs[i].first <= last {
				return fmt.Errorf("%w: connections %d and %d use the same addresses and ports at the same time", ErrTranscript, lastConn, i)
			}
			if cs[i].last > last {
				last, lastConn = cs[i].last, i
			}
		}
	}
	return nil
}

// build returns the segments of the transcript in sending order, without
// impairments.
func build(t *dissect.Transcript, opt Options, cs []conn) ([]seg, error) {
	var (
		segs []seg
		base time.Duration
	)
	add := func(s seg) error {
		if len(segs) >= MaxPackets {
			return fmt.Errorf("%w: more than %d", ErrTooManyPackets, MaxPackets)
		}
		segs = append(segs, s)
		return nil
	}
	for i, ev := range t.Events {
		step := opt.Step
		if i == 0 {
			step = 0
		}
		next, ok := addDur(base, step)
		if ok {
			next, ok = addDur(next, ev.Wait)
		}
		if !ok {
			return nil, fmt.Errorf("%w: event %d: packet time overflows", ErrTimestamp, i)
		}
		base = next
		c := &cs[ev.Conn]
		if i == c.first {
			c.nxt = c.isn
			if !opt.NoHandshake {
				for _, s := range c.handshake() {
					s.conn, s.base = ev.Conn, base
					if err := add(s); err != nil {
						return nil, err
					}
				}
			} else {
				// As if the SYNs had gone by.
				c.nxt[dissect.C2S]++
				c.nxt[dissect.S2C]++
			}
		}
		d := ev.Dir
		for p := ev.Data; len(p) > 0; {
			n := min(len(p), opt.Segment)
			flags := uint8(flagACK)
			if n == len(p) {
				flags |= flagPSH
			}
			s := seg{conn: ev.Conn, dir: d, flags: flags, seq: c.nxt[d], ack: c.nxt[1-d], payload: p[:n:n], base: base}
			if err := add(s); err != nil {
				return nil, err
			}
			p = p[n:]
			c.nxt[d] += uint32(n)
			c.unacked[d] += n
			c.unacked[1-d] = 0
			if c.unacked[d] >= AckThreshold {
				r := d.Reverse()
				s := seg{conn: ev.Conn, dir: r, flags: flagACK, seq: c.nxt[r], ack: c.nxt[d], base: base}
				if err := add(s); err != nil {
					return nil, err
				}
				c.unacked[d] = 0
			}
		}
		if i == c.last && !opt.NoFIN {
			for _, s := range c.close() {
				s.conn, s.base = ev.Conn, base
				if err := add(s); err != nil {
					return nil, err
				}
			}
		}
	}
	return segs, nil
}

// handshake returns the three-way handshake of c (RFC 9293 §3.5) and
// advances c's sequence numbers past the SYNs.
func (c *conn) handshake() [3]seg {
	const cl, sv = dissect.C2S, dissect.S2C
	hs := [3]seg{
		{dir: cl, flags: flagSYN, seq: c.isn[cl]},
		{dir: sv, flags: flagSYN | flagACK, seq: c.isn[sv], ack: c.isn[cl] + 1},
		{dir: cl, flags: flagACK, seq: c.isn[cl] + 1, ack: c.isn[sv] + 1},
	}
	c.nxt[cl]++
	c.nxt[sv]++
	return hs
}

// close returns the FIN exchange of c (RFC 9293 §3.6): the client's FIN,
// the server's FIN-ACK and the client's last ACK.
func (c *conn) close() [3]seg {
	const cl, sv = dissect.C2S, dissect.S2C
	fin := [3]seg{
		{dir: cl, flags: flagFIN | flagACK, seq: c.nxt[cl], ack: c.nxt[sv]},
		{dir: sv, flags: flagFIN | flagACK, seq: c.nxt[sv], ack: c.nxt[cl] + 1},
		{dir: cl, flags: flagACK, seq: c.nxt[cl] + 1, ack: c.nxt[sv] + 1},
	}
	c.nxt[cl]++
	c.nxt[sv]++
	c.unacked = [2]int{}
	return fin
}

// reorder swaps, with probability p, each data segment with the next
// segment of its connection when that one is data in the same direction
// and of the same event. A segment moves at most once. The packet times
// stay in place, so the capture's timing is that of the clean capture.
// Segments of different events are never swapped: the later event may be
// sent seconds later (an @wait), and a capture cannot see a segment
// before it was sent.
func reorder(segs []seg, nconns int, p float64, rng *rand.Rand) {
	if p == 0 {
		return
	}
	next := make([]int, len(segs))
	following := make([]int, nconns)
	for i := range following {
		following[i] = -1
	}
	for i := len(segs) - 1; i >= 0; i-- {
		next[i] = following[segs[i].conn]
		following[segs[i].conn] = i
	}
	moved := make([]bool, len(segs))
	for i := range segs {
		if moved[i] || !segs[i].isData() || rng.Float64() >= p {
			continue
		}
		j := next[i]
		if j < 0 || moved[j] || !segs[j].isData() || segs[j].dir != segs[i].dir || segs[j].base != segs[i].base {
			continue
		}
		segs[i], segs[j] = segs[j], segs[i]
		segs[i].base, segs[j].base = segs[j].base, segs[i].base // times stay in place
		moved[i], moved[j] = true, true
	}
}

// maxDupDelay is how many packets may come between a segment and its
// duplicate: "a few", enough to separate them in a capture viewer.
const maxDupDelay = 3

// duplicate returns segs with, at probability p, a copy of each data
// segment inserted right after it or up to maxDupDelay packets later, but
// before its connection's first FIN.
func duplicate(segs []seg, p float64, rng *rand.Rand) ([]seg, error) {
	if p == 0 {
		return segs, nil
	}
	type pending struct {
		left int // packets still to pass before the copy goes out
		s    seg
	}
	var (
		out  = make([]seg, 0, len(segs)+len(segs)/4)
		pend []pending
	)
	add := func(s seg) error {
		if len(out) >= MaxPackets {
			return fmt.Errorf("%w: more than %d", ErrTooManyPackets, MaxPackets)
		}
		out = append(out, s)
		return nil
	}
	// flush sends the pending copies that keep rejects, in order.
	flush := func(keep func(pending) bool) error {
		kept := pend[:0]
		for _, q := range pend {
			if keep(q) {
				kept = append(kept, q)
			} else if err := add(q.s); err != nil {
				return err
			}
		}
		pend = kept
		return nil
	}
	for _, s := range segs {
		if s.flags&flagFIN != 0 {
			if err := flush(func(q pending) bool { return q.s.conn != s.conn }); err != nil {
				return nil, err
			}
		}
		if err := add(s); err != nil {
			return nil, err
		}
		if s.isData() && rng.Float64() < p {
			d := s
			d.dup = true
			pend = append(pend, pending{left: rng.IntN(maxDupDelay + 1), s: d})
		}
		if err := flush(func(q pending) bool { return q.left > 0 }); err != nil {
			return nil, err
		}
		for k := range pend {
			pend[k].left--
		}
	}
	for _, q := range pend {
		if err := add(q.s); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// render returns the frames of segs: times, IP ids, headers and checksums,
// cut to the snapshot length.
func render(segs []seg, cs []conn, opt Options) []Packet {
	mss := uint16(max(opt.Segment, DefaultSegment))
	size := 0
	for i := range segs {
		size += frameLen(opt.Link, cs[segs[i].conn].v6, &segs[i])
	}
	arena := make([]byte, 0, size)
	pkts := make([]Packet, len(segs))
	var prev time.Time
	for i := range segs {
		s := &segs[i]
		c := &cs[s.conn]
		t := opt.Start.Add(s.base)
		if earliest := prev.Add(PacketGap); i > 0 && t.Before(earliest) {
			t = earliest
		}
		prev = t
		if s.dup {
			s.ack = c.lastAck[s.dir]
		} else if s.flags&flagACK != 0 {
			c.lastAck[s.dir] = s.ack
		}
		start := len(arena)
		arena = appendFrame(arena, opt.Link, c, s, c.ipid[s.dir], mss)
		c.ipid[s.dir]++
		n := len(arena) - start
		k := min(n, opt.Snaplen)
		pkts[i] = Packet{Time: t, Data: arena[start : start+k : start+k], OrigLen: n}
	}
	return pkts
}

// addDur returns a+b for non-negative durations, and false if the sum
// overflows.
func addDur(a, b time.Duration) (time.Duration, bool) {
	s := a + b
	return s, s >= a
}

// unmap returns ap with an IPv4-mapped address turned into IPv4 and the
// IPv6 zone dropped, as the wire carries it.
func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port())
}

// sideName names the endpoint that sends in direction d.
func sideName(d dissect.Dir) string {
	if d == dissect.S2C {
		return "server"
	}
	return "client"
}

// mix is the SplitMix64 finalizer: a fixed, well-spread function of x,
// used for the default ISNs and first IP ids.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
