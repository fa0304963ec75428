package reassembly

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/msnsniff/msnsniff/dissect"
	"github.com/msnsniff/msnsniff/reassembly/internal/gpref"
)

// FuzzAssemblerDiff feeds the same TCP packets to an Engine and to the
// Engine as it was on gopacket's Assembler (internal/gpref), and requires
// the same Sink and Stream calls, in the same order, and the same Stats.
// The input drives a generator (diffScript) of a few connections on one or
// two 4-tuples, IPv4 or IPv6: handshakes or mid-stream starts, SYN retransmissions, new
// SYNs on a used 4-tuple, random segment splits, reordering, duplicates,
// overlaps with the same and with other bytes, loss, FINs and RSTs
// anywhere, keep-alives, sequence numbers near the wrap and the quarter
// bounds of the sequence space, and packet times with gaps past the
// reorder window, the flush interval and the idle timeout, over small
// page and connection limits.
//
// Segments carry at most pageBytes of payload: gopacket's pages that come
// back from its sync.Pool keep the end flag of their last use when they
// are not the last page of a segment, which makes its output depend on
// the pool for longer segments (ours are cleared).
func FuzzAssemblerDiff(f *testing.F) {
	for i := range 40 {
		r := rand.New(rand.NewPCG(uint64(i), 99))
		b := make([]byte, 64+r.IntN(600))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		opt, pkts := diffScript(in)
		got, gotStats := runDiffNew(opt, pkts)
		want, wantStats := runDiffOld(opt, pkts)
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Fatalf("call %d: got %s, want %s (gopacket)\ncalls before: %q", i, got[i], want[i], got[max(0, i-8):i])
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%d calls, want %d (gopacket): got %q, want %q", len(got), len(want), got[min(len(got), len(want)):], want[min(len(got), len(want)):])
		}
		if g, w := fmt.Sprintf("%+v", gotStats), fmt.Sprintf("%+v", wantStats); g != w {
			t.Fatalf("Stats = %s\nwant %s (gopacket)", g, w)
		}
	})
}

// diffPkt is one packet of a FuzzAssemblerDiff capture.
type diffPkt struct {
	ts   time.Time
	data []byte // raw IPv4
}

// fuzzBytes hands out the fuzzer's bytes, then zeros.
type fuzzBytes []byte

func (b *fuzzBytes) byte() byte {
	if len(*b) == 0 {
		return 0
	}
	c := (*b)[0]
	*b = (*b)[1:]
	return c
}

func (b *fuzzBytes) intn(n int) int { return int(b.byte()) % n }

func (b *fuzzBytes) u32() uint32 {
	return uint32(b.byte())<<24 | uint32(b.byte())<<16 | uint32(b.byte())<<8 | uint32(b.byte())
}

// diffSeg is a segment of the script before it is timed and framed.
type diffSeg struct {
	conn    int // index of the 4-tuple
	c2s     bool
	seq     uint32
	flags   byte // TCP flag bits
	payload []byte
}

const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpPSH = 0x08
	tcpACK = 0x10
)

// diffScript turns the fuzzer's bytes into Options and packets.
func diffScript(in []byte) (Options, []diffPkt) {
	b := fuzzBytes(in)
	opt := Options{
		MaxBufferedPagesPerConn: 1 + b.intn(6),
		MaxBufferedPagesTotal:   1 + b.intn(12),
		MaxConnections:          1 + b.intn(4),
		FlushInterval:           time.Duration(1+b.intn(20)) * 100 * time.Millisecond,
		ReorderWindow:           time.Duration(1+b.intn(30)) * 100 * time.Millisecond,
		IdleTimeout:             time.Duration(5+b.intn(120)) * time.Second,
	}
	if b.intn(4) == 0 {
		opt = Options{}
	}
	// gopacket's assembler ended a half-closed connection only when it
	// went idle; the half-close timeout is tested on its own
	// (TestHalfCloseTimeout).
	opt.HalfCloseTimeout = cmp.Or(opt.IdleTimeout, DefaultIdleTimeout)
	v6 := b.intn(5) == 0
	tuples := 1 + b.intn(2)
	// Per 4-tuple and direction, the next sequence number and the bytes
	// sent so far.
	type dirState struct {
		isn  uint32
		next uint32
	}
	var st [2][2]dirState
	isn := func() uint32 {
		switch b.intn(6) {
		case 0:
			return 0xFFFFFFFF - uint32(b.intn(64))
		case 1:
			return 0x3FFFFFFF - uint32(b.intn(64)) // a quarter bound of diff
		case 2:
			return 0xBFFFFFFF - uint32(b.intn(64))
		case 3:
			return uint32(b.intn(16))
		default:
			return b.u32()
		}
	}
	var segs []diffSeg
	open := func(c int, handshake bool) {
		for d := range 2 {
			st[c][d].isn = isn()
			st[c][d].next = st[c][d].isn + 1
		}
		if handshake {
			segs = append(segs,
				diffSeg{conn: c, c2s: true, seq: st[c][0].isn, flags: tcpSYN},
				diffSeg{conn: c, c2s: false, seq: st[c][1].isn, flags: tcpSYN | tcpACK},
				diffSeg{conn: c, c2s: true, seq: st[c][0].next, flags: tcpACK})
		}
	}
	// content makes n bytes of direction d at sequence number sq; other
	// bytes differ from the first ones sent there.
	content := func(c, d int, sq uint32, n int, other bool) []byte {
		p := make([]byte, n)
		for i := range p {
			v := byte(sq+uint32(i)) ^ byte(c<<4|d<<6)
			if other {
				v ^= 0x5a
			}
			p[i] = v
		}
		return p
	}
	for c := range tuples {
		open(c, b.intn(3) != 0)
	}
	steps := 4 + b.intn(120)
	for range steps {
		c := b.intn(tuples)
		d := b.intn(2)
		s := &st[c][d]
		op := b.intn(16)
		switch {
		case op < 9: // data
			var n int
			switch b.intn(8) {
			case 0:
				n = 1
			case 1:
				n = 500 + b.intn(256)*5 // up to pageBytes
			default:
				n = 1 + b.intn(90)
			}
			segs = append(segs, diffSeg{conn: c, c2s: d == 0, seq: s.next, flags: tcpACK | tcpPSH, payload: content(c, d, s.next, n, false)})
			s.next += uint32(n)
		case op == 9: // a hole: bytes never sent
			s.next += uint32(1 + b.intn(40))
		case op == 10: // FIN, maybe with data
			n := b.intn(3) * 7
			segs = append(segs, diffSeg{conn: c, c2s: d == 0, seq: s.next, flags: tcpFIN | tcpACK, payload: content(c, d, s.next, n, false)})
			s.next += uint32(n) + 1
		case op == 11: // RST, at the next sequence number or off it
			sq := s.next
			if b.intn(3) == 0 {
				sq += uint32(b.intn(20)) - 10
			}
			segs = append(segs, diffSeg{conn: c, c2s: d == 0, seq: sq, flags: tcpRST | byte(b.intn(2))*tcpACK})
		case op == 12: // a SYN again: retransmitted, or a new connection
			if b.intn(2) == 0 {
				segs = append(segs, diffSeg{conn: c, c2s: true, seq: st[c][0].isn, flags: tcpSYN})
			} else {
				open(c, true)
			}
		case op == 13: // overlap with the bytes sent before: same or other
			back := 1 + b.intn(60)
			n := back + b.intn(30)
			sq := s.next - uint32(back)
			segs = append(segs, diffSeg{conn: c, c2s: d == 0, seq: sq, flags: tcpACK, payload: content(c, d, sq, n, b.intn(2) == 0)})
			if n > back {
				s.next = sq + uint32(n)
			}
		case op == 14: // keep-alive or bare ACK
			sq := s.next - uint32(b.intn(2))
			segs = append(segs, diffSeg{conn: c, c2s: d == 0, seq: sq, flags: tcpACK, payload: content(c, d, sq, b.intn(2), false)})
		default: // bytes ahead of a hole
			gap := 1 + b.intn(100)
			n := 1 + b.intn(80)
			sq := s.next + uint32(gap)
			segs = append(segs, diffSeg{conn: c, c2s: d == 0, seq: sq, flags: tcpACK, payload: content(c, d, sq, n, b.intn(3) == 0)})
		}
	}
	// Perturb the order: duplicates, losses, swaps and moves.
	for range b.intn(40) {
		if len(segs) == 0 {
			break
		}
		i := b.intn(len(segs)) % len(segs)
		switch b.intn(4) {
		case 0:
			segs = append(segs, diffSeg{})
			j := i + b.intn(8)
			if j >= len(segs) {
				j = len(segs) - 1
			}
			copy(segs[j+1:], segs[j:])
			segs[j] = segs[i]
		case 1:
			segs = append(segs[:i], segs[i+1:]...)
		case 2:
			if i+1 < len(segs) {
				segs[i], segs[i+1] = segs[i+1], segs[i]
			}
		default:
			j := i + b.intn(12)
			if j >= len(segs) {
				j = len(segs) - 1
			}
			s := segs[i]
			copy(segs[i:], segs[i+1:j+1])
			segs[j] = s
		}
	}
	// Time them: mostly close together, with waits past the windows.
	ts := t0
	pkts := make([]diffPkt, 0, len(segs))
	for _, s := range segs {
		switch b.intn(10) {
		case 0:
			ts = ts.Add(time.Duration(b.intn(60)) * 100 * time.Millisecond)
		case 1:
			ts = ts.Add(time.Duration(b.intn(200)) * time.Second)
		case 2:
			ts = ts.Add(-time.Duration(b.intn(20)) * time.Millisecond)
		case 3:
			if b.intn(4) == 0 {
				ts = ts.Add(time.Duration(b.intn(3)) * time.Hour)
			}
		default:
			ts = ts.Add(time.Duration(b.intn(50)) * time.Millisecond)
		}
		pkts = append(pkts, diffPkt{ts: ts, data: diffFrame(s, v6)})
	}
	return opt, pkts
}

// diffFrame builds the raw IPv4 or IPv6 packet of s. 4-tuple c is
// 10.0.0.1:(4000+c) to 10.0.0.2:1863, or 2001:db8::1 to 2001:db8::2.
func diffFrame(s diffSeg, v6 bool) []byte {
	ipLen := 20
	a, z := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	if v6 {
		ipLen = 40
		a, z = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	}
	p := make([]byte, ipLen+20+len(s.payload))
	sp, dp := uint16(4000+s.conn), uint16(1863)
	if !s.c2s {
		a, z, sp, dp = z, a, dp, sp
	}
	if v6 {
		p[0] = 0x60
		binary.BigEndian.PutUint16(p[4:], uint16(len(p)-ipLen))
		p[6] = 6
		p[7] = 64
		copy(p[8:], a.AsSlice())
		copy(p[24:], z.AsSlice())
	} else {
		p[0] = 0x45
		binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
		p[8] = 64
		p[9] = 6
		copy(p[12:], a.AsSlice())
		copy(p[16:], z.AsSlice())
	}
	tcp := p[ipLen:]
	binary.BigEndian.PutUint16(tcp[0:], sp)
	binary.BigEndian.PutUint16(tcp[2:], dp)
	binary.BigEndian.PutUint32(tcp[4:], s.seq)
	tcp[12] = 5 << 4
	tcp[13] = s.flags
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	copy(tcp[20:], s.payload)
	return p
}

// diffLog records every Sink and Stream call in one list.
type diffLog struct {
	calls []string
	n     int
}

type diffStream struct {
	l  *diffLog
	id int
}

func (l *diffLog) open(c dissect.ConnInfo) *diffStream {
	l.n++
	l.calls = append(l.calls, fmt.Sprintf("open %d %+v", l.n, c))
	return &diffStream{l, l.n}
}

func (s *diffStream) Feed(d dissect.Dir, t time.Time, b []byte) {
	s.l.calls = append(s.l.calls, fmt.Sprintf("%d feed %v %s %q", s.id, d, t.Format(time.RFC3339Nano), b))
}

func (s *diffStream) Gap(d dissect.Dir, t time.Time, n int) {
	s.l.calls = append(s.l.calls, fmt.Sprintf("%d gap %v %s %d", s.id, d, t.Format(time.RFC3339Nano), n))
}

func (s *diffStream) End(t time.Time, closed bool) {
	s.l.calls = append(s.l.calls, fmt.Sprintf("%d end %s %v", s.id, t.Format(time.RFC3339Nano), closed))
}

func (s *diffStream) Evict(t time.Time) {
	s.l.calls = append(s.l.calls, fmt.Sprintf("%d evict %s", s.id, t.Format(time.RFC3339Nano)))
}

type diffSinkNew struct{ diffLog }

func (l *diffSinkNew) Open(c dissect.ConnInfo) Stream { return l.open(c) }

type diffSinkOld struct{ diffLog }

func (l *diffSinkOld) Open(c dissect.ConnInfo) gpref.Stream { return l.open(c) }

func diffCI(p diffPkt) gopacket.CaptureInfo {
	return gopacket.CaptureInfo{Timestamp: p.ts, CaptureLength: len(p.data), Length: len(p.data)}
}

func runDiffNew(opt Options, pkts []diffPkt) ([]string, Stats) {
	sink := &diffSinkNew{}
	e := NewEngine(sink, opt)
	for i, p := range pkts {
		e.Packet(p.data, diffCI(p), layers.LinkTypeRaw, "diff", int64(i+1))
	}
	e.Finish(t0)
	return sink.calls, e.Stats()
}

func runDiffOld(opt Options, pkts []diffPkt) ([]string, gpref.Stats) {
	sink := &diffSinkOld{}
	e := gpref.NewEngine(sink, gpref.Options{
		MaxBufferedPagesPerConn: opt.MaxBufferedPagesPerConn,
		MaxBufferedPagesTotal:   opt.MaxBufferedPagesTotal,
		MaxConnections:          opt.MaxConnections,
		FlushInterval:           opt.FlushInterval,
		ReorderWindow:           opt.ReorderWindow,
		IdleTimeout:             opt.IdleTimeout,
	})
	for i, p := range pkts {
		e.Packet(p.data, diffCI(p), layers.LinkTypeRaw, "diff", int64(i+1))
	}
	e.Finish(t0)
	return sink.calls, e.Stats()
}
