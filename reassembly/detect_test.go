package reassembly

import (
	"bufio"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/msnsniff/msnsniff/dissect"
)

// otherServer is the server of the detection tests: not on an MSNP port.
const otherServer = "207.46.104.20:8080"

// split returns the segments that carry s in direction d, n bytes each.
func (c *conv) split(d dissect.Dir, s string, n int) []pkt {
	var p []pkt
	for len(s) > 0 {
		k := min(n, len(s))
		p = append(p, c.seg(d, "PA", s[:k]))
		s = s[k:]
	}
	return p
}

// swapped returns p with packets i and i+1 swapped for each i in at; each
// keeps its time slot, as a capture point sees reordered segments.
func swapped(p []pkt, at ...int) []pkt {
	p = append([]pkt(nil), p...)
	for _, i := range at {
		p[i].data, p[i+1].data = p[i+1].data, p[i].data
	}
	return p
}

// runEngine gives pkts to a fresh Engine one by one, checking after each
// that every TCP segment is counted once and that detection holds no more
// than its limits, then finishes it. decided, when not 0, is the number of
// packets after which nothing may be held any more; -1 says something is
// held until Finish.
func runEngine(t *testing.T, opt Options, lim holdLimits, pkts []pkt, decided int) (*recSink, *Engine) {
	t.Helper()
	sink := &recSink{}
	e := NewEngine(sink, opt)
	e.det.lim = lim
	l := e.det.limits()
	for i, p := range pkts {
		e.Packet(p.data, captureInfo(p), layers.LinkTypeEthernet, "f.pcap", int64(i+1))
		if st := e.Stats(); st.TCP != st.Assembled+st.OtherPort {
			t.Fatalf("after packet %d: TCP %d, Assembled %d + OtherPort %d", i+1, st.TCP, st.Assembled, st.OtherPort)
		}
		// One packet (the last) may take the total past its bound.
		if e.det.held > l.total+len(p.data)*2+heldOverhead {
			t.Fatalf("after packet %d: %d bytes held, limit %d", i+1, e.det.held, l.total)
		}
		for h := e.det.oldest(); h != nil; h = h.next {
			if h == &e.det.list {
				break
			}
			if len(h.pkts) > l.packets || h.size > l.bytes+len(p.data)*2+heldOverhead {
				t.Fatalf("after packet %d: a connection holds %d packets, %d bytes", i+1, len(h.pkts), h.size)
			}
		}
		if held := e.det.conns > 0; decided > 0 && held != (i+1 < decided) {
			t.Errorf("after packet %d: held = %v, want decided after packet %d", i+1, held, decided)
		}
	}
	if decided < 0 && e.det.conns == 0 {
		t.Errorf("nothing held before Finish")
	}
	e.Finish(pkts[len(pkts)-1].ts)
	checkInvariants(t, sink, e.Stats())
	if e.det.held != 0 || e.det.conns != 0 || e.det.oldest() != nil {
		t.Errorf("after Finish: %d bytes of %d connections held", e.det.held, e.det.conns)
	}
	return sink, e
}

// TestDetectSplitFirstLine builds each connection twice, with the server
// on port 1863 and on port 8080: the one found by content must reach the
// Sink exactly as the one on the MSNP port (same ConnInfo but for the port
// and DetectedBy, same Feed and Gap calls with the same times, same End),
// with the same counts, whatever the segmentation of its first lines.
func TestDetectSplitFirstLine(t *testing.T) {
	tests := []struct {
		name string
		// decided is the packet that decides (see runEngine).
		decided int
		build   func(c *conv) []pkt
	}{
		{"whole lines", 4, func(c *conv) []pkt {
			return join(c.handshake(), []pkt{c.seg(dissect.C2S, "PA", verC), c.seg(dissect.S2C, "PA", verS), c.seg(dissect.C2S, "PA", cvrC)}, c.close())
		}},
		{"3-byte segments", 9, func(c *conv) []pkt {
			return join(c.handshake(), c.split(dissect.C2S, verC, 3), c.split(dissect.S2C, verS, 3), c.split(dissect.C2S, cvrC, 3), c.close())
		}},
		{"1-byte segments, reordered", 0, func(c *conv) []pkt {
			p := join(c.handshake(), c.split(dissect.C2S, verC+cvrC, 1), c.split(dissect.S2C, verS, 1), c.close())
			return swapped(p, 3, 6, 9, 20, 40, 3+len(verC+cvrC)+2)
		}},
		{"first segment last", 8, func(c *conv) []pkt {
			p := join(c.handshake(), c.split(dissect.C2S, verC, 4))
			p = join(p[:3], p[4:], p[3:4])
			return join(p, c.split(dissect.S2C, verS, 5), c.close())
		}},
		{"CRLF split", 5, func(c *conv) []pkt {
			return join(c.handshake(), c.split(dissect.C2S, verC, len(verC)-1), []pkt{c.seg(dissect.S2C, "PA", verS)}, c.close())
		}},
		{"retransmitted overlapping", 5, func(c *conv) []pkt {
			p := join(c.handshake(), []pkt{c.seg(dissect.C2S, "PA", verC[:5])})
			c.seq[dissect.C2S] -= 3
			return join(p, []pkt{c.seg(dissect.C2S, "PA", verC[2:])}, []pkt{c.seg(dissect.S2C, "PA", verS)}, c.close())
		}},
		{"server speaks first", 10, func(c *conv) []pkt {
			return join(c.handshake(), c.split(dissect.S2C, "VER 1 MSNP8\r\n", 2), c.split(dissect.C2S, cvrC, 7), c.close())
		}},
		{"server's line only", 10, func(c *conv) []pkt {
			return join(c.handshake(), c.split(dissect.S2C, "VER 1 MSNP8\r\n", 2))
		}},
		{"server speaks first, no handshake", 7, func(c *conv) []pkt {
			return join(c.split(dissect.S2C, "VER 1 MSNP8\r\n", 2), c.split(dissect.C2S, cvrC, 7), c.close())
		}},
		{"no handshake", 6, func(c *conv) []pkt {
			return join(c.split(dissect.C2S, verC, 3), c.split(dissect.S2C, verS, 3), c.close())
		}},
		{"client's first segment lost, the server's line decides", 12, func(c *conv) []pkt {
			p := c.handshake()
			c.skip(dissect.C2S, 3)
			return join(p, c.split(dissect.C2S, verC[3:], 5), c.split(dissect.S2C, verS, 3), c.close())
		}},
		{"first line cut by a hole, decided on the next line at the end", -1, func(c *conv) []pkt {
			p := join(c.handshake(), []pkt{c.seg(dissect.C2S, "PA", verC[:6])})
			c.skip(dissect.C2S, 4)
			return join(p, c.split(dissect.C2S, verC[10:]+cvrC, 9))
		}},
		{"first segment lost, decided on the next line at the packet limit", holdPackets, func(c *conv) []pkt {
			p := c.handshake()
			c.skip(dissect.C2S, 3)
			p = join(p, c.split(dissect.C2S, verC[3:]+cvrC+usrC+cvrC, 1))
			return join(p, []pkt{c.seg(dissect.S2C, "PA", verS)}, c.close())
		}},
		{"capture out of time order", 0, func(c *conv) []pkt {
			web := newConv(t, "192.168.1.21:1044", "10.9.9.9:80", 7, 7)
			web.ts = c.ts.Add(time.Hour)
			// The connection's packets come after one an hour later.
			return join([]pkt{web.seg(dissect.C2S, "S", "")}, c.handshake(), c.split(dissect.C2S, verC, 3), []pkt{c.seg(dissect.S2C, "PA", verS)}, c.close())
		}},
		{"reset while held, decided on the line after the hole", 0, func(c *conv) []pkt {
			p := join(c.handshake(), []pkt{c.seg(dissect.C2S, "PA", verC[:6])})
			c.skip(dissect.C2S, 4)
			return join(p, c.split(dissect.C2S, verC[10:]+cvrC, 20), []pkt{c.seg(dissect.S2C, "R", "")})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref, refE := runEngine(t, Options{}, holdLimits{}, tt.build(newConv(t, client, server, 1000, 5000)), 0)
			got, e := runEngine(t, Options{}, holdLimits{}, tt.build(newConv(t, client, otherServer, 1000, 5000)), tt.decided)
			if len(ref.streams) != 1 {
				t.Fatalf("reference: %d streams", len(ref.streams))
			}
			if len(got.streams) != 1 {
				t.Fatalf("detected %d streams, want 1 (stats %+v)", len(got.streams), e.Stats())
			}
			r, g := ref.streams[0], got.streams[0]
			wantInfo := r.info
			wantInfo.Server = netip.MustParseAddrPort(otherServer)
			wantInfo.DetectedBy = "content"
			if g.info != wantInfo {
				t.Errorf("ConnInfo = %+v\nwant       %+v", g.info, wantInfo)
			}
			if diff := cmp.Diff(r.events, g.events); diff != "" {
				t.Errorf("calls differ (-port +content):\n%s", diff)
			}
			if diff := cmp.Diff(r.feeds, g.feeds, cmp.AllowUnexported(feedRec{})); diff != "" {
				t.Errorf("Feed times differ (-port +content):\n%s", diff)
			}
			if !g.endT.Equal(r.endT) || g.closed != r.closed {
				t.Errorf("End(%v, %v), want End(%v, %v)", g.endT, g.closed, r.endT, r.closed)
			}
			st, refSt := e.Stats(), refE.Stats()
			if st.Detected != 1 {
				t.Errorf("Detected = %d, want 1", st.Detected)
			}
			st.Detected = 0
			if st != refSt {
				t.Errorf("Stats = %+v\nwant    %+v", st, refSt)
			}
		})
	}
}

// TestDetectNotMSNP checks connections on another port that are not MSNP:
// nothing is assembled, every packet counts as OtherPort, and the held
// packets are let go as soon as the connection is decided.
func TestDetectNotMSNP(t *testing.T) {
	long := "USR 1 " + strings.Repeat("a", 700)
	tests := []struct {
		name string
		lim  holdLimits
		// build returns the packets and how many of them are given before
		// nothing may be held any more.
		build func(c *conv) ([]pkt, int)
	}{
		{"HTTP in 3-byte segments, decided by both first lines", holdLimits{}, func(c *conv) ([]pkt, int) {
			p := join(c.handshake(), c.split(dissect.C2S, "GET / HTTP/1.0\r\n\r\n", 3))
			n := len(p) + 1
			return join(p, c.split(dissect.S2C, "HTTP/1.0 200 OK\r\n\r\nhello", 3), c.close()), n
		}},
		{"binary first bytes", holdLimits{}, func(c *conv) ([]pkt, int) {
			p := join(c.handshake(), c.split(dissect.C2S, "\x16\x03\x01\x02\x00\x01", 2))
			n := len(p) + 1
			return join(p, c.split(dissect.S2C, "\x16\x03\x03\x00\x40", 2)), n
		}},
		{"MSNP-looking line that is not", holdLimits{}, func(c *conv) ([]pkt, int) {
			p := join(c.handshake(), c.split(dissect.C2S, "VER  1 MSNP8\r\n", 3))
			n := len(p) + 1
			return join(p, c.split(dissect.S2C, "VERSION 2\r\n", 4)), n
		}},
		{"no CRLF in 512 bytes; the server silent until the byte limit", holdLimits{}, func(c *conv) ([]pkt, int) {
			p := join(c.handshake(), c.split(dissect.C2S, long, 100))
			for c.seq[dissect.C2S]-1000 < holdBytes {
				p = append(p, c.seg(dissect.C2S, "PA", strings.Repeat("b", 1000)))
			}
			return p, len(p)
		}},
		{"first line cut by a hole, nothing MSNP after it", holdLimits{packets: 20}, func(c *conv) ([]pkt, int) {
			p := join(c.handshake(), []pkt{c.seg(dissect.C2S, "PA", "VER 1 MSN")})
			c.skip(dissect.C2S, 10)
			p = join(p, c.split(dissect.C2S, "xx yy\r\nzz qq\r\n"+strings.Repeat("w", 40), 3))
			return p, 20
		}},
		{"held past the timeout", holdLimits{}, func(c *conv) ([]pkt, int) {
			p := join(c.handshake(), []pkt{c.seg(dissect.C2S, "PA", "GET / HTTP/1.0\r\n\r\n")})
			c.ts = c.ts.Add(holdTimeout + time.Second)
			web := newConv(t, "192.168.1.21:1044", "10.9.9.9:80", 7, 7)
			web.ts = c.ts
			p = append(p, web.seg(dissect.C2S, "S", ""))
			// The web SYN is held; the first connection is let go.
			return p, -1
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, n := tt.build(newConv(t, client, otherServer, 1000, 5000))
			sink := &recSink{}
			e := NewEngine(sink, Options{})
			e.det.lim = tt.lim
			for i, q := range p {
				e.Packet(q.data, captureInfo(q), layers.LinkTypeEthernet, "f.pcap", int64(i+1))
				if i+1 == n && (e.det.held != 0 || e.det.conns != 0) {
					t.Errorf("after packet %d: %d bytes of %d connections held, want none", n, e.det.held, e.det.conns)
				}
			}
			if n < 0 && e.det.conns != 1 {
				t.Errorf("%d connections held, want 1 (the new one)", e.det.conns)
			}
			if k, _ := makeConnKey(p[0].data[26:30], p[0].data[30:34], 1042, 8080, false); !e.det.m[k].checked || e.det.m[k].msnp {
				t.Errorf("connection remembered as %+v, want checked, not MSNP", e.det.m[k])
			}
			e.Finish(p[len(p)-1].ts)
			checkInvariants(t, sink, e.Stats())
			st := e.Stats()
			if len(sink.streams) != 0 || st.Detected != 0 || st.OtherPort != int64(len(p)) || st.Assembled != 0 {
				t.Errorf("%d streams, stats %+v; want none, all %d packets OtherPort", len(sink.streams), st, len(p))
			}
			if e.det.held != 0 || e.det.conns != 0 {
				t.Errorf("after Finish: %d bytes of %d connections held", e.det.held, e.det.conns)
			}
		})
	}
}

// TestDetectHoldTotal opens many connections that send nothing but a SYN:
// what they hold together stays under the total limit, the oldest giving
// up first, and a connection that gave up with no data is not decided, so
// its first line, when it comes, is still found.
func TestDetectHoldTotal(t *testing.T) {
	lim := holdLimits{total: 20 * (heldOverhead + 200)}
	var p []pkt
	first := newConv(t, client, otherServer, 1000, 5000)
	p = append(p, first.seg(dissect.C2S, "S", ""))
	for i := range 100 {
		c := newConv(t, netip.AddrPortFrom(netip.MustParseAddr("10.1.0.1"), uint16(2000+i)).String(), otherServer, 1, 1)
		c.ts = first.ts
		p = append(p, c.seg(dissect.C2S, "S", ""))
		first.ts = first.ts.Add(time.Millisecond)
	}
	p = append(p, first.seg(dissect.S2C, "SA", ""), first.seg(dissect.C2S, "A", ""))
	p = join(p, first.split(dissect.C2S, verC, 4), first.close())
	sink, e := runEngine(t, Options{}, lim, p, 0)
	if len(sink.streams) != 1 || e.Stats().Detected != 1 {
		t.Fatalf("%d streams, %d detected; want 1", len(sink.streams), e.Stats().Detected)
	}
	s := sink.streams[0]
	// Its SYN was let go, but remembered.
	checkStream(t, s, want{c2s: verC, syn: true, closed: true})
	if s.info.Server != netip.MustParseAddrPort(otherServer) {
		t.Errorf("server %v", s.info.Server)
	}
}

// TestDetectNoDetect checks that --no-detect holds nothing.
func TestDetectNoDetect(t *testing.T) {
	c := newConv(t, client, otherServer, 1000, 5000)
	p := join(c.handshake(), c.split(dissect.C2S, verC, 3), c.close())
	sink := &recSink{}
	e := NewEngine(sink, Options{NoDetect: true})
	for i, q := range p {
		e.Packet(q.data, captureInfo(q), layers.LinkTypeEthernet, "f.pcap", int64(i+1))
		if e.det.conns != 0 || len(e.det.m) != 0 {
			t.Fatalf("packet %d held or remembered", i+1)
		}
	}
	e.Finish(time.Time{})
	if st := e.Stats(); len(sink.streams) != 0 || st.OtherPort != int64(len(p)) {
		t.Errorf("%d streams, %d OtherPort", len(sink.streams), st.OtherPort)
	}
}

// TestDetectIPv4IPv6Apart checks that an IPv6 connection is not taken for
// an IPv4 one on the same ports whose addresses are its addresses' first
// four bytes (1.2.3.4 and 102:304::): their keys differ in v6 only.
func TestDetectIPv4IPv6Apart(t *testing.T) {
	tests := []struct {
		name string
		web  func(c *conv) []pkt
	}{
		{"IPv4 one found not MSNP", func(c *conv) []pkt {
			return join(c.handshake(), []pkt{c.seg(dissect.C2S, "PA", "GET / HTTP/1.0\r\n\r\n")})
		}},
		{"IPv4 one held", func(c *conv) []pkt {
			return []pkt{c.seg(dissect.C2S, "S", "")}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			web := newConv(t, "1.2.3.4:1042", "5.6.7.8:8080", 1000, 5000)
			msn := newConv(t, "[102:304::]:1042", "[506:708::]:8080", 7000, 9000)
			p := tt.web(web)
			msn.ts = web.ts
			p = join(p, msn.handshake(), []pkt{msn.seg(dissect.C2S, "PA", verC), msn.seg(dissect.S2C, "PA", verS)}, msn.close())
			sink, _ := runEngine(t, Options{}, holdLimits{}, p, 0)
			if len(sink.streams) != 1 {
				t.Fatalf("%d streams, want 1 (the IPv6 one)", len(sink.streams))
			}
			s := sink.streams[0]
			if s.info.Client != msn.client || s.info.Server != msn.server {
				t.Errorf("stream %v to %v, want %v to %v", s.info.Client, s.info.Server, msn.client, msn.server)
			}
			checkStream(t, s, want{c2s: verC, s2c: verS, syn: true, closed: true})
		})
	}
}

// TestDetectOnPacket checks that the packets of a connection found by
// content reach OnPacket (what -w writes) in capture order, the SYN too,
// as those of a connection on an MSNP port do.
func TestDetectOnPacket(t *testing.T) {
	build := func(server string) []pkt {
		c := newConv(t, client, server, 1000, 5000)
		web := newConv(t, "192.168.1.21:1044", "10.9.9.9:80", 7, 7)
		p := join(c.handshake(), c.split(dissect.C2S, verC, 3))
		p = append(p, web.seg(dissect.C2S, "PA", "GET / HTTP/1.0\r\n\r\n"))
		return join(p, []pkt{c.seg(dissect.S2C, "PA", verS)}, c.close())
	}
	record := func(p []pkt) []time.Time {
		var got []time.Time
		opt := Options{OnPacket: func(data []byte, ci gopacket.CaptureInfo, link layers.LinkType) {
			got = append(got, ci.Timestamp)
		}}
		runEngine(t, opt, holdLimits{}, p, 0)
		return got
	}
	want := record(build(server))
	got := record(build(otherServer))
	if len(want) != len(build(server))-1 {
		t.Fatalf("reference wrote %d packets", len(want))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("OnPacket times (-port +content):\n%s", diff)
	}
}

// TestMayStartLine checks that mayStartLine never refuses a prefix of a
// line dissect.Sniff accepts (every line of the shipped transcripts), and
// refuses what cannot start one.
func TestMayStartLine(t *testing.T) {
	paths, _ := filepath.Glob("../testdata/*.txt")
	if len(paths) == 0 {
		t.Fatal("no transcripts")
	}
	lines := 0
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			l, ok := strings.CutPrefix(sc.Text(), "C: ")
			if !ok {
				l, ok = strings.CutPrefix(sc.Text(), "S: ")
			}
			if !ok {
				continue
			}
			line := []byte(l + "\r\n")
			if ok, _ := dissect.Sniff(line); !ok {
				continue
			}
			lines++
			for i := range len(line) - 1 {
				if !mayStartLine(line[:i]) {
					t.Errorf("mayStartLine(%q) = false, a prefix of %q", line[:i], line)
					break
				}
			}
		}
		f.Close()
	}
	if lines < 100 {
		t.Errorf("only %d lines sniffed", lines)
	}
	for _, b := range []string{"GET", "\x16\x03\x01", "VERS", "VER  1", "VER 1\x00", "VER 1\rx", "USR 1 a\tb", "HTTP/1.1"} {
		if mayStartLine([]byte(b)) {
			t.Errorf("mayStartLine(%q) = true, want false", b)
		}
	}
	for _, b := range []string{"", "V", "VE", "VER", "VER ", "OUT\r", "VER 1 MSNP8 CVR0\r", "MSG 1 N 12"} {
		if !mayStartLine([]byte(b)) {
			t.Errorf("mayStartLine(%q) = false, want true", b)
		}
	}
	for _, v := range dissect.Verbs() {
		if len(v.Verb) != 3 || strings.Trim(v.Verb, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			t.Errorf("verb %q is not three capital letters, as mayStartLine takes verbs to be", v.Verb)
		}
	}
}

// TestHeldOverhead checks that heldOverhead covers a held packet's record.
func TestHeldOverhead(t *testing.T) {
	if n := unsafe.Sizeof(heldPacket{}); n > heldOverhead {
		t.Errorf("a heldPacket takes %d bytes, heldOverhead is %d", n, heldOverhead)
	}
}
