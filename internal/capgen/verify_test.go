package capgen

import (
	"bytes"
	"fmt"
	"net/netip"
	"time"

	"github.com/msnsniff/msnsniff/dissect"
)

// stats counts what verify saw.
type stats struct {
	packets    int
	data       int // data segments, duplicates included
	pureACKs   int // ACKs without data outside handshake and FIN exchange
	outOfOrder int // data segments that start before data already seen
	duplicates int // data segments whose bytes were all seen before
	wrapped    bool
}

// side is what verify tracks for one direction of one connection.
type side struct {
	isn      uint32
	seenEnd  int64 // end of the sequence space seen, relative to isn+1
	lastAck  int64 // relative to the peer's isn+1; -2 before any
	ipid     int   // last IPv4 id, -1 before any
	stream   []byte
	filled   []bool
	pushes   int
	syn, fin bool
}

// verify checks recs, the frames of a capture of transcript tr made with
// opt, and returns what it counted. Frames must be uncut.
func verify(tr *dissect.Transcript, opt Options, linkType uint32, recs []record) (stats, error) {
	var st stats
	segLimit := opt.Segment
	if segLimit == 0 {
		segLimit = DefaultSegment
	}
	strict := opt.Reorder == 0 && opt.Duplicate == 0
	start := opt.Start
	if start.IsZero() {
		start = time.Date(2024, 9, 14, 13, 52, 40, 0, time.UTC)
	}

	// Expected streams and pushes per side.
	type key struct {
		conn int
		dir  dissect.Dir
	}
	want := map[key][]byte{}
	events := map[key]int{}
	used := map[int]bool{}
	for _, ev := range tr.Events {
		k := key{ev.Conn, ev.Dir}
		want[k] = append(want[k], ev.Data...)
		if len(ev.Data) > 0 {
			events[k]++
		}
		used[ev.Conn] = true
	}
	byPair := map[[2]netip.AddrPort]key{}
	for i, c := range tr.Conns {
		cl := netip.AddrPortFrom(c.Client.Addr().Unmap(), c.Client.Port())
		sv := netip.AddrPortFrom(c.Server.Addr().Unmap(), c.Server.Port())
		byPair[[2]netip.AddrPort{cl, sv}] = key{i, dissect.C2S}
		byPair[[2]netip.AddrPort{sv, cl}] = key{i, dissect.S2C}
	}

	// First pass: decode, and find each side's ISN.
	frames := make([]*frame, len(recs))
	keys := make([]key, len(recs))
	sides := map[key]*side{}
	for i, r := range recs {
		if r.orig != len(r.data) {
			return st, fmt.Errorf("packet %d: cut to %d of %d bytes", i+1, len(r.data), r.orig)
		}
		f, err := decodeFrame(linkType, r.data)
		if err != nil {
			return st, fmt.Errorf("packet %d: %w", i+1, err)
		}
		k, ok := byPair[[2]netip.AddrPort{f.src, f.dst}]
		if !ok {
			return st, fmt.Errorf("packet %d: %v > %v is no transcript connection", i+1, f.src, f.dst)
		}
		frames[i], keys[i] = f, k
		s := sides[k]
		if s == nil {
			s = &side{isn: f.seq - 1, lastAck: -2, ipid: -1, seenEnd: -1}
			if opt.NoHandshake {
				s.seenEnd = 0
			}
			sides[k] = s
		}
		if f.flags&0x02 != 0 {
			s.isn = f.seq
		} else if int32(f.seq-1-s.isn) < 0 && !s.syn {
			s.isn = f.seq - 1
		}
		if f.flags&0x02 != 0 {
			s.syn = true
		}
	}
	for k, s := range sides {
		switch {
		case opt.WrapSeq && s.isn != 1<<32-1000:
			return st, fmt.Errorf("conn %d %v: ISN %d, want 2^32-1000", k.conn, k.dir, s.isn)
		case opt.ISN != 0 && s.isn != opt.ISN:
			return st, fmt.Errorf("conn %d %v: ISN %d, want %d", k.conn, k.dir, s.isn, opt.ISN)
		}
		s.syn = false
	}

	// Second pass: the TCP rules, in capture order.
	closed := map[int]bool{}
	var prev time.Time
	for i, f := range frames {
		r, k := recs[i], keys[i]
		s, peer := sides[k], sides[key{k.conn, k.dir.Reverse()}]
		at := fmt.Sprintf("packet %d (conn %d %v)", i+1, k.conn, k.dir)
		st.packets++
		if ev0 := tr.Events[0]; i == 0 && ev0.Wait == 0 && (len(ev0.Data) > 0 || !opt.NoHandshake) && !r.time.Equal(start) {
			return st, fmt.Errorf("%s: first time %v, want %v", at, r.time, start)
		}
		if i > 0 && !r.time.After(prev) {
			return st, fmt.Errorf("%s: time %v not after %v", at, r.time, prev)
		}
		prev = r.time
		if !used[k.conn] {
			return st, fmt.Errorf("%s: connection has no events", at)
		}
		if closed[k.conn] {
			return st, fmt.Errorf("%s: packet after the FIN exchange", at)
		}
		if f.window != 65535 {
			return st, fmt.Errorf("%s: window %d", at, f.window)
		}

		// Link layer.
		if f.src.Addr().Is4() && f.srcMAC != nil {
			a4 := f.src.Addr().As4()
			if want := append([]byte{2, 0}, a4[:]...); !bytes.Equal(f.srcMAC, want) {
				return st, fmt.Errorf("%s: source MAC % x, want % x", at, f.srcMAC, want)
			}
		}
		if f.dstMAC != nil && f.dst.Addr().Is4() {
			a4 := f.dst.Addr().As4()
			if want := append([]byte{2, 0}, a4[:]...); !bytes.Equal(f.dstMAC, want) {
				return st, fmt.Errorf("%s: destination MAC % x, want % x", at, f.dstMAC, want)
			}
		}
		wantVLAN, wantSLL := -1, -1
		switch opt.Link {
		case EthernetVLAN:
			wantVLAN = 100
		case LinuxSLL:
			wantSLL = 0
			if k.dir == dissect.C2S {
				wantSLL = 4
			}
		}
		if f.vlan != wantVLAN || f.sllType != wantSLL {
			return st, fmt.Errorf("%s: VLAN %d SLL type %d, want %d %d", at, f.vlan, f.sllType, wantVLAN, wantSLL)
		}
		if f.src.Addr().Is4() {
			if s.ipid >= 0 && int(f.ipid) != (s.ipid+1)&0xffff {
				return st, fmt.Errorf("%s: IP id %d after %d", at, f.ipid, s.ipid)
			}
			s.ipid = int(f.ipid)
		}

		// Flags.
		const fin, syn, psh, ack = 0x01, 0x02, 0x08, 0x10
		switch f.flags {
		case syn:
			if k.dir != dissect.C2S || s.syn || peer != nil && peer.syn {
				return st, fmt.Errorf("%s: unexpected SYN", at)
			}
		case syn | ack:
			if k.dir != dissect.S2C || s.syn || peer == nil || !peer.syn {
				return st, fmt.Errorf("%s: unexpected SYN-ACK", at)
			}
		case ack, ack | psh, fin | ack:
		default:
			return st, fmt.Errorf("%s: flags %#x", at, f.flags)
		}
		if f.flags&syn != 0 {
			if opt.NoHandshake {
				return st, fmt.Errorf("%s: SYN with NoHandshake", at)
			}
			if f.mss != max(segLimit, DefaultSegment) {
				return st, fmt.Errorf("%s: MSS %d", at, f.mss)
			}
			s.syn = true
		} else {
			if f.mss != -1 {
				return st, fmt.Errorf("%s: MSS option without SYN", at)
			}
			if !opt.NoHandshake && (!s.syn || peer == nil || !peer.syn) {
				return st, fmt.Errorf("%s: sent before the handshake", at)
			}
		}
		if f.flags&fin != 0 {
			if opt.NoFIN || s.fin || len(f.payload) > 0 {
				return st, fmt.Errorf("%s: unexpected FIN", at)
			}
			if k.dir == dissect.S2C && (peer == nil || !peer.fin) {
				return st, fmt.Errorf("%s: server FIN before client FIN", at)
			}
			s.fin = true
		}
		if f.flags&psh != 0 {
			s.pushes++
		}

		// Sequence numbers.
		rel := int64(int32(f.seq - s.isn - 1))
		if f.seq < s.isn {
			st.wrapped = true
		}
		n := int64(len(f.payload))
		end := rel + n
		if f.flags&(syn|fin) != 0 {
			end++
		}
		if n > int64(segLimit) {
			return st, fmt.Errorf("%s: %d bytes of payload, limit %d", at, n, segLimit)
		}
		if strict && rel != s.seenEnd {
			return st, fmt.Errorf("%s: relative seq %d, want %d", at, rel, s.seenEnd)
		}
		if n > 0 {
			st.data++
			if rel < 0 {
				return st, fmt.Errorf("%s: data before the ISN", at)
			}
			if rel < s.seenEnd {
				allSeen := end <= int64(len(s.filled))
				for j := rel; allSeen && j < end; j++ {
					allSeen = s.filled[j]
				}
				if allSeen {
					st.duplicates++
				} else {
					st.outOfOrder++
				}
			}
			for int64(len(s.stream)) < end {
				s.stream = append(s.stream, 0)
				s.filled = append(s.filled, false)
			}
			for j, c := range f.payload {
				p := rel + int64(j)
				if s.filled[p] && s.stream[p] != c {
					return st, fmt.Errorf("%s: byte %d differs from its earlier copy", at, p)
				}
				s.stream[p], s.filled[p] = c, true
			}
		} else if f.flags == ack {
			handshakeACK := !opt.NoHandshake && k.dir == dissect.C2S && s.lastAck == -2
			finalACK := s.fin && peer != nil && peer.fin
			if !handshakeACK && !finalACK {
				st.pureACKs++
			}
		}
		s.seenEnd = max(s.seenEnd, end)

		// Acknowledgments: never for bytes the capture has not shown, never
		// going back, and in strict mode always for everything seen.
		if f.flags&ack != 0 {
			if peer == nil {
				if !opt.NoHandshake {
					return st, fmt.Errorf("%s: ACK for a peer that sends nothing", at)
				}
				continue // the peer's ISN is unknown
			}
			a := int64(int32(f.ack - peer.isn - 1))
			if a > peer.seenEnd {
				return st, fmt.Errorf("%s: acknowledges %d, peer only sent up to %d", at, a, peer.seenEnd)
			}
			if a < s.lastAck {
				return st, fmt.Errorf("%s: acknowledgment went back from %d to %d", at, s.lastAck, a)
			}
			if strict && a != peer.seenEnd {
				return st, fmt.Errorf("%s: acknowledges %d, want %d", at, a, peer.seenEnd)
			}
			s.lastAck = a
			if peer.fin && s.fin && k.dir == dissect.C2S && f.flags == ack {
				closed[k.conn] = true
			}
		} else if f.ack != 0 {
			return st, fmt.Errorf("%s: acknowledgment number without ACK", at)
		}
	}

	// Whole streams.
	for i := range tr.Conns {
		if !used[i] {
			continue
		}
		for _, d := range []dissect.Dir{dissect.C2S, dissect.S2C} {
			k := key{i, d}
			s := sides[k]
			if s == nil {
				// Only a silent side without handshake, FIN or ACKs
				// sends nothing.
				if len(want[k]) == 0 && opt.NoHandshake && opt.NoFIN {
					continue
				}
				return st, fmt.Errorf("conn %d %v: no packets", i, d)
			}
			for j, ok := range s.filled {
				if !ok {
					return st, fmt.Errorf("conn %d %v: byte %d missing", i, d, j)
				}
			}
			if !bytes.Equal(s.stream, want[k]) {
				return st, fmt.Errorf("conn %d %v: stream of %d bytes differs from the %d transcript bytes", i, d, len(s.stream), len(want[k]))
			}
			if s.syn == opt.NoHandshake {
				return st, fmt.Errorf("conn %d %v: SYN %v with NoHandshake %v", i, d, s.syn, opt.NoHandshake)
			}
			if s.fin == opt.NoFIN {
				return st, fmt.Errorf("conn %d %v: FIN %v with NoFIN %v", i, d, s.fin, opt.NoFIN)
			}
			if s.pushes < events[k] || opt.Duplicate == 0 && s.pushes != events[k] {
				return st, fmt.Errorf("conn %d %v: %d PSH segments for %d events", i, d, s.pushes, events[k])
			}
		}
		if !opt.NoFIN && !closed[i] {
			return st, fmt.Errorf("conn %d: FIN exchange incomplete", i)
		}
	}
	return st, nil
}

// recordsOf returns pkts as records, as a capture file would hold them.
func recordsOf(pkts []Packet) []record {
	recs := make([]record, len(pkts))
	for i, p := range pkts {
		recs[i] = record{time: p.Time, data: p.Data, orig: p.OrigLen}
	}
	return recs
}
