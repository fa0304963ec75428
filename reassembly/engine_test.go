package reassembly

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/msnsniff/msnsniff/dissect"
)

const (
	client = "192.168.1.20:1042"
	server = "207.46.104.20:1863"
	verC   = "VER 1 MSNP8 CVR0\r\n"
	verS   = "VER 1 MSNP8 CVR0\r\n"
	cvrC   = "CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.2.0137 MSMSGS alice@example.com\r\n"
	cvrS   = "CVR 2 6.2.0208 6.2.0208 6.2.0208 http://download.example.com/ http://www.example.com/\r\n"
	usrC   = "USR 3 TWN I alice@example.com\r\n"
)

// want describes the expected result for one stream.
type want struct {
	c2s, s2c string
	syn      bool
	closed   bool
}

func checkStream(t *testing.T, s *recStream, w want) {
	t.Helper()
	if got := string(s.data[dissect.C2S]); got != w.c2s {
		t.Errorf("c2s = %q, want %q", got, w.c2s)
	}
	if got := string(s.data[dissect.S2C]); got != w.s2c {
		t.Errorf("s2c = %q, want %q", got, w.s2c)
	}
	if s.info.SYN != w.syn {
		t.Errorf("ConnInfo.SYN = %v, want %v", s.info.SYN, w.syn)
	}
	if s.ends != 1 || s.closed != w.closed {
		t.Errorf("End called %d times, closed=%v; want once, closed=%v", s.ends, s.closed, w.closed)
	}
}

func TestEngineStreams(t *testing.T) {
	tests := []struct {
		name  string
		isnC  uint32
		isnS  uint32
		build func(c *conv) []pkt
		want  want
		gaps  []string // the gap events, in order
	}{
		{
			name: "in order with handshake and FIN",
			isnC: 1000, isnS: 5000,
			build: func(c *conv) []pkt {
				return join(c.handshake(), []pkt{
					c.seg(dissect.C2S, "PA", verC),
					c.seg(dissect.S2C, "PA", verS),
					c.seg(dissect.C2S, "PA", cvrC),
					c.seg(dissect.S2C, "PA", cvrS),
				}, c.close())
			},
			want: want{c2s: verC + cvrC, s2c: verS + cvrS, syn: true, closed: true},
		},
		{
			name: "reordered and duplicated",
			isnC: 1000, isnS: 5000,
			build: func(c *conv) []pkt {
				hs := c.handshake()
				a := c.seg(dissect.C2S, "PA", "VER 1 ")
				b := c.seg(dissect.C2S, "PA", "MSNP8 ")
				d := c.seg(dissect.C2S, "PA", "CVR0\r\n")
				r := c.seg(dissect.S2C, "PA", verS)
				return join(hs, []pkt{d, b, d, a, b, r, a}, c.close())
			},
			want: want{c2s: verC, s2c: verS, syn: true, closed: true},
		},
		{
			name: "no SYN",
			isnC: 1000, isnS: 5000,
			build: func(c *conv) []pkt {
				return []pkt{
					c.seg(dissect.C2S, "PA", usrC),
					c.seg(dissect.S2C, "PA", "USR 3 TWN S lc=1033\r\n"),
				}
			},
			want: want{c2s: usrC, s2c: "USR 3 TWN S lc=1033\r\n", syn: false, closed: false},
		},
		{
			name: "lost segment",
			isnC: 1000, isnS: 5000,
			build: func(c *conv) []pkt {
				hs := c.handshake()
				a := c.seg(dissect.C2S, "PA", verC)
				c.skip(dissect.C2S, len(cvrC))
				b := c.seg(dissect.C2S, "PA", usrC)
				r := c.seg(dissect.S2C, "PA", verS)
				return join(hs, []pkt{a, b, r}, c.close())
			},
			want: want{c2s: verC + fmt.Sprintf("<gap %d>", len(cvrC)) + usrC, s2c: verS, syn: true, closed: true},
			gaps: []string{fmt.Sprintf("c2s gap %d", len(cvrC))},
		},
		{
			name: "lost segment before FIN",
			isnC: 1000, isnS: 5000,
			build: func(c *conv) []pkt {
				hs := c.handshake()
				a := c.seg(dissect.C2S, "PA", verC)
				c.skip(dissect.C2S, len(cvrC))
				r := c.seg(dissect.S2C, "PA", verS)
				return join(hs, []pkt{a, r}, c.close())
			},
			// The FIN never reaches the assembled data, so gopacket keeps
			// the half open; the missing bytes are reported at End.
			want: want{c2s: verC + fmt.Sprintf("<gap %d>", len(cvrC)), s2c: verS, syn: true, closed: true},
			gaps: []string{fmt.Sprintf("c2s gap %d", len(cvrC))},
		},
		{
			name: "sequence numbers wrap",
			isnC: 0xffffffff - 20, isnS: 0xfffffff0,
			build: func(c *conv) []pkt {
				return join(c.handshake(), []pkt{
					c.seg(dissect.C2S, "PA", verC),
					c.seg(dissect.S2C, "PA", verS),
					c.seg(dissect.C2S, "PA", cvrC),
					c.seg(dissect.S2C, "PA", cvrS),
				}, c.close())
			},
			want: want{c2s: verC + cvrC, s2c: verS + cvrS, syn: true, closed: true},
		},
		{
			name: "wrap with reordering",
			isnC: 0xffffffff - 10, isnS: 5000,
			build: func(c *conv) []pkt {
				hs := c.handshake()
				a := c.seg(dissect.C2S, "PA", verC)
				b := c.seg(dissect.C2S, "PA", cvrC)
				d := c.seg(dissect.C2S, "PA", usrC)
				return join(hs, []pkt{d, b, a}, c.close())
			},
			want: want{c2s: verC + cvrC + usrC, syn: true, closed: true},
		},
		{
			name: "server speaks first mid-stream",
			isnC: 1000, isnS: 5000,
			build: func(c *conv) []pkt {
				return []pkt{
					c.seg(dissect.S2C, "PA", "CHL 0 29409134351025259292\r\n"),
					c.seg(dissect.C2S, "PA", "QRY 10 msmsgs@msnmsgr.com 32\r\n"),
				}
			},
			want: want{c2s: "QRY 10 msmsgs@msnmsgr.com 32\r\n", s2c: "CHL 0 29409134351025259292\r\n"},
		},
		{
			name: "capture starts at SYN-ACK",
			isnC: 1000, isnS: 5000,
			build: func(c *conv) []pkt {
				hs := c.handshake()
				return join(hs[1:], []pkt{
					c.seg(dissect.C2S, "PA", verC),
					c.seg(dissect.S2C, "PA", verS),
				}, c.close())
			},
			want: want{c2s: verC, s2c: verS, syn: true, closed: true},
		},
		{
			name: "reset by server",
			isnC: 1000, isnS: 5000,
			build: func(c *conv) []pkt {
				return join(c.handshake(), []pkt{
					c.seg(dissect.C2S, "PA", verC),
					c.seg(dissect.S2C, "PA", verS),
					c.seg(dissect.S2C, "R", ""),
					c.seg(dissect.C2S, "PA", cvrC), // too late
				})
			},
			want: want{c2s: verC, s2c: verS, syn: true, closed: true},
		},
		{
			name: "server closes first, client sends after",
			isnC: 1000, isnS: 5000,
			build: func(c *conv) []pkt {
				return join(c.handshake(), []pkt{
					c.seg(dissect.C2S, "PA", verC),
					c.seg(dissect.S2C, "PA", verS),
					c.seg(dissect.S2C, "FA", ""),
					c.seg(dissect.C2S, "PA", "OUT\r\n"),
					c.seg(dissect.C2S, "FA", ""),
					c.seg(dissect.S2C, "A", ""),
				})
			},
			want: want{c2s: verC + "OUT\r\n", s2c: verS, syn: true, closed: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newConv(t, client, server, tt.isnC, tt.isnS)
			p := tt.build(c)
			sink, _ := runPackets(t, layers.LinkTypeEthernet, Options{}, p)
			if len(sink.streams) != 1 {
				t.Fatalf("got %d streams, want 1", len(sink.streams))
			}
			s := sink.streams[0]
			checkStream(t, s, tt.want)
			var gaps []string
			for _, ev := range s.events {
				if strings.Contains(ev, " gap ") {
					gaps = append(gaps, ev)
				}
			}
			if strings.Join(gaps, ",") != strings.Join(tt.gaps, ",") {
				t.Errorf("gaps = %q, want %q", gaps, tt.gaps)
			}
			if s.info.Client != netip.MustParseAddrPort(client) || s.info.Server != netip.MustParseAddrPort(server) {
				t.Errorf("ConnInfo client %v server %v, want %v %v", s.info.Client, s.info.Server, client, server)
			}
			if s.info.DetectedBy != "port" || s.info.Packet != 1 || !s.info.Start.Equal(p[0].ts) || !strings.HasSuffix(s.info.File, "msnp.pcap") {
				t.Errorf("ConnInfo = %+v, want DetectedBy port, Packet 1, Start %v, File msnp.pcap", s.info, p[0].ts)
			}
		})
	}
}

// TestFeedTimes checks that data released at once is split per packet, each
// Feed with its packet's time.
func TestFeedTimes(t *testing.T) {
	c := newConv(t, client, server, 1000, 5000)
	hs := c.handshake()
	a := c.seg(dissect.C2S, "PA", "aaaa")
	b := c.seg(dissect.C2S, "PA", strings.Repeat("b", 3000)) // two pages
	d := c.seg(dissect.C2S, "PA", "dd")
	e := c.seg(dissect.C2S, "PA", "eeeeee")
	b.ts, d.ts, e.ts, a.ts = a.ts.Add(time.Millisecond), a.ts.Add(2*time.Millisecond), a.ts.Add(3*time.Millisecond), a.ts.Add(4*time.Millisecond)
	sink, _ := runPackets(t, layers.LinkTypeEthernet, Options{}, join(hs, []pkt{b, d, e, a}))
	s := sink.streams[0]
	want := []feedRec{
		{dissect.C2S, a.ts, "aaaa"},
		{dissect.C2S, b.ts, strings.Repeat("b", 3000)},
		{dissect.C2S, d.ts, "dd"},
		{dissect.C2S, e.ts, "eeeeee"},
	}
	if len(s.feeds) != len(want) {
		t.Fatalf("got %d feeds, want %d: %+v", len(s.feeds), len(want), s.feeds)
	}
	for i, f := range s.feeds {
		if f.dir != want[i].dir || !f.t.Equal(want[i].t) || f.b != want[i].b {
			t.Errorf("feed %d = %v %v %d bytes, want %v %v %d bytes", i, f.dir, f.t, len(f.b), want[i].dir, want[i].t, len(want[i].b))
		}
	}
}

// TestFlushOnPacketTime checks that data behind a hole is delivered once the
// hole is older than the reorder window, without waiting for the end.
func TestFlushOnPacketTime(t *testing.T) {
	c := newConv(t, client, server, 1000, 5000)
	hs := c.handshake()
	a := c.seg(dissect.C2S, "PA", verC)
	c.skip(dissect.C2S, 10)
	b := c.seg(dissect.C2S, "PA", cvrC)
	c.ts = c.ts.Add(time.Minute)
	late := c.seg(dissect.S2C, "PA", verS)
	sink := &recSink{}
	e := NewEngine(sink, Options{})
	for i, p := range join(hs, []pkt{a, b, late}) {
		e.Packet(p.data, captureInfo(p), layers.LinkTypeEthernet, "f", int64(i+1))
	}
	s := sink.streams[0]
	if got, want := string(s.data[dissect.C2S]), verC+"<gap 10>"+cvrC; got != want {
		t.Errorf("before Finish c2s = %q, want %q", got, want)
	}
	e.Finish(c.ts)
	checkInvariants(t, sink, e.Stats())
	if st := e.Stats(); st.Gaps != 1 || st.GapBytes != 10 {
		t.Errorf("Gaps %d GapBytes %d, want 1 and 10", st.Gaps, st.GapBytes)
	}
}

// TestIdleTimeout checks that a silent connection is ended with closed=false
// at its last packet time, and that a later packet opens a new stream.
func TestIdleTimeout(t *testing.T) {
	c := newConv(t, client, server, 1000, 5000)
	first := join(c.handshake(), []pkt{c.seg(dissect.C2S, "PA", verC)})
	last := first[len(first)-1].ts
	other := newConv(t, "10.0.0.1:2000", "10.0.0.2:1863", 1, 1)
	other.ts = last.Add(6 * time.Minute)
	later := []pkt{other.seg(dissect.C2S, "PA", verC), other.seg(dissect.C2S, "PA", verC)}
	c.ts = other.ts.Add(time.Second)
	sink, _ := runPackets(t, layers.LinkTypeEthernet, Options{IdleTimeout: 5 * time.Minute}, join(first, later, []pkt{c.seg(dissect.C2S, "PA", cvrC)}))
	if len(sink.streams) != 3 {
		t.Fatalf("got %d streams, want 3", len(sink.streams))
	}
	s := sink.streams[0]
	if s.closed || !s.endT.Equal(last) {
		t.Errorf("idle stream ended closed=%v at %v, want closed=false at %v", s.closed, s.endT, last)
	}
	if s.events[len(s.events)-1] != "end closed=false" || string(s.data[dissect.C2S]) != verC {
		t.Errorf("idle stream events %q", s.events)
	}
	if got := string(sink.streams[2].data[dissect.C2S]); got != cvrC {
		t.Errorf("stream after idle c2s = %q, want %q", got, cvrC)
	}
}

// TestHalfCloseTimeout checks that a connection closed one way only (the
// other FIN lost) is ended with closed=false at its last packet once it
// has been silent for HalfCloseTimeout, not IdleTimeout, and that a
// packet after that starts a new connection, as after an idle end.
func TestHalfCloseTimeout(t *testing.T) {
	for _, tt := range []struct {
		name    string
		silence time.Duration // before the other connection's packets
		opt     Options
		noFIN   bool // an open connection, only silent
		hole    bool // the client's last bytes before its FIN lost
		ended   bool // by the half-close timeout, before Finish
	}{
		{"past the default", 3 * time.Minute, Options{}, false, false, true},
		{"within the default", 90 * time.Second, Options{}, false, false, false},
		{"past a longer one", 3 * time.Minute, Options{HalfCloseTimeout: 10 * time.Minute}, false, false, false},
		{"past the idle timeout, shorter", 3 * time.Minute, Options{IdleTimeout: time.Minute, HalfCloseTimeout: 10 * time.Minute}, false, false, true},
		{"no FIN", 3 * time.Minute, Options{}, true, false, false},
		{"FIN after a hole", 3 * time.Minute, Options{}, false, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newConv(t, client, server, 1000, 5000)
			flags := "FA"
			if tt.noFIN {
				flags = "A"
			}
			first := join(c.handshake(), []pkt{c.seg(dissect.C2S, "PA", verC), c.seg(dissect.S2C, "PA", verS)})
			if tt.hole {
				c.seg(dissect.C2S, "PA", "OUT\r\n") // lost
			}
			first = append(first, c.seg(dissect.C2S, flags, ""), c.seg(dissect.S2C, "A", ""))
			last := first[len(first)-1].ts
			other := newConv(t, "10.0.0.1:2000", "10.0.0.2:1863", 1, 1)
			other.ts = last.Add(tt.silence)
			later := []pkt{other.seg(dissect.C2S, "PA", verC), other.seg(dissect.C2S, "PA", verC)}
			// The first connection's server speaks again.
			c.ts = other.ts.Add(11 * time.Second)
			again := c.seg(dissect.S2C, "PA", cvrC)
			sink, _ := runPackets(t, layers.LinkTypeEthernet, tt.opt, join(first, later, []pkt{again}))
			s := sink.streams[0]
			if s.closed {
				t.Errorf("half-closed stream ended closed=true")
			}
			wantC2S := verC
			if tt.hole {
				// Reported when the connection ends.
				wantC2S += "<gap 5>"
			}
			if string(s.data[dissect.C2S]) != wantC2S {
				t.Errorf("half-closed stream c2s = %q, want %q", s.data[dissect.C2S], wantC2S)
			}
			if !tt.ended {
				// Still open: the late bytes are its own, and it ends
				// at Finish.
				if len(sink.streams) != 2 || string(s.data[dissect.S2C]) != verS+cvrC {
					t.Fatalf("%d streams, s2c %q: the stream was ended early", len(sink.streams), s.data[dissect.S2C])
				}
				return
			}
			if !s.endT.Equal(last) {
				t.Errorf("half-closed stream ended at %v, want its last packet, %v", s.endT, last)
			}
			if len(sink.streams) != 3 || string(s.data[dissect.S2C]) != verS {
				t.Fatalf("%d streams, s2c %q: the stream was not ended by the half-close timeout", len(sink.streams), s.data[dissect.S2C])
			}
			if got := string(sink.streams[2].data[dissect.S2C]); got != cvrC {
				t.Errorf("stream after the half-close s2c = %q, want %q", got, cvrC)
			}
		})
	}
}

func TestPortReuse(t *testing.T) {
	tests := []struct {
		name       string
		first      func(c *conv) []pkt
		closed     bool
		superseded int64
	}{
		{
			name: "FIN both ways",
			first: func(c *conv) []pkt {
				return join(c.handshake(), []pkt{c.seg(dissect.C2S, "PA", verC), c.seg(dissect.S2C, "PA", verS)}, c.close())
			},
			closed: true,
		},
		{
			name: "RST from the client",
			first: func(c *conv) []pkt {
				return join(c.handshake(), []pkt{c.seg(dissect.C2S, "PA", verC), c.seg(dissect.S2C, "PA", verS), c.seg(dissect.C2S, "R", "")})
			},
			closed: true,
		},
		{
			name: "FIN from the client only",
			first: func(c *conv) []pkt {
				return join(c.handshake(), []pkt{c.seg(dissect.C2S, "PA", verC), c.seg(dissect.S2C, "PA", verS), c.seg(dissect.C2S, "FA", "")})
			},
			superseded: 1,
		},
		{
			name: "never closed, caught mid-stream",
			first: func(c *conv) []pkt {
				return []pkt{c.seg(dissect.C2S, "PA", verC), c.seg(dissect.S2C, "PA", verS)}
			},
			superseded: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c1 := newConv(t, client, server, 1000, 5000)
			p1 := tt.first(c1)
			c2 := newConv(t, client, server, 900000, 700000)
			c2.ts = c1.ts.Add(time.Second)
			p2 := join(c2.handshake(), []pkt{
				c2.seg(dissect.C2S, "PA", cvrC),
				c2.seg(dissect.S2C, "PA", cvrS),
			}, c2.close())
			sink, st := runPackets(t, layers.LinkTypeEthernet, Options{}, join(p1, p2))
			if len(sink.streams) != 2 {
				t.Fatalf("got %d streams, want 2", len(sink.streams))
			}
			checkStream(t, sink.streams[0], want{c2s: verC, s2c: verS, syn: sink.streams[0].info.SYN, closed: tt.closed})
			checkStream(t, sink.streams[1], want{c2s: cvrC, s2c: cvrS, syn: true, closed: true})
			if st.Superseded != tt.superseded {
				t.Errorf("Superseded = %d, want %d", st.Superseded, tt.superseded)
			}
			if !sink.streams[1].info.Start.Equal(c1.ts.Add(time.Second)) {
				t.Errorf("second stream Start = %v, want %v", sink.streams[1].info.Start, c1.ts.Add(time.Second))
			}
		})
	}
}

// TestSYNRetransmission checks that a repeated SYN does not start a new
// connection.
func TestSYNRetransmission(t *testing.T) {
	c := newConv(t, client, server, 1000, 5000)
	syn := c.seg(dissect.C2S, "S", "")
	c.seq[dissect.C2S]--
	syn2 := c.seg(dissect.C2S, "S", "")
	p := join([]pkt{syn, syn2, c.seg(dissect.S2C, "SA", ""), c.seg(dissect.C2S, "A", ""), c.seg(dissect.C2S, "PA", verC)}, c.close())
	sink, st := runPackets(t, layers.LinkTypeEthernet, Options{}, p)
	if len(sink.streams) != 1 || st.Superseded != 0 {
		t.Fatalf("got %d streams, %d superseded; want 1 and 0", len(sink.streams), st.Superseded)
	}
	checkStream(t, sink.streams[0], want{c2s: verC, syn: true, closed: true})
}

// TestServerPortSide checks the direction when the client's port is also an
// MSNP port, or the server sends the SYN-ACK first.
func TestServerPortSide(t *testing.T) {
	tests := []struct {
		name           string
		client, server string
		ports          []uint16
		syn            bool
	}{
		{"both on port, SYN tells", "10.0.0.1:1863", "10.0.0.2:1864", []uint16{1863, 1864}, true},
		{"both on port, lower port", "10.0.0.1:1864", "10.0.0.2:1863", []uint16{1863, 1864}, false},
		{"custom port", "10.0.0.1:40000", "10.0.0.2:7001", []uint16{7001}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newConv(t, tt.client, tt.server, 1, 2)
			var p []pkt
			if tt.syn {
				p = c.handshake()
			}
			p = append(p, c.seg(dissect.S2C, "PA", verS), c.seg(dissect.C2S, "PA", verC+"x"))
			sink, _ := runPackets(t, layers.LinkTypeEthernet, Options{Ports: tt.ports}, p)
			if len(sink.streams) != 1 {
				t.Fatalf("got %d streams", len(sink.streams))
			}
			s := sink.streams[0]
			if s.info.Client.String() != tt.client || s.info.Server.String() != tt.server {
				t.Errorf("client %v server %v, want %v %v", s.info.Client, s.info.Server, tt.client, tt.server)
			}
			if string(s.data[dissect.C2S]) != verC+"x" || string(s.data[dissect.S2C]) != verS {
				t.Errorf("c2s %q s2c %q", s.data[dissect.C2S], s.data[dissect.S2C])
			}
		})
	}
}

func TestLinkTypes(t *testing.T) {
	links := []struct {
		name string
		link layers.LinkType
	}{
		{"ethernet", layers.LinkTypeEthernet},
		{"vlan", testLinkVLAN},
		{"qinq", testLinkQinQ},
		{"sll", layers.LinkTypeLinuxSLL},
		{"sll2", layers.LinkTypeLinuxSLL2},
		{"raw", layers.LinkTypeRaw},
		{"raw12", linkTypeRawBSD1},
		{"raw14", linkTypeRawBSD2},
		{"null", layers.LinkTypeNull},
		{"null big-endian", testLinkNullBE},
		{"loop", layers.LinkTypeLoop},
	}
	addrs := []struct {
		name           string
		client, server string
	}{
		{"ipv4", client, server},
		{"ipv6", "[2001:db8::20]:1042", "[2001:db8:1::1]:1863"},
	}
	for _, l := range links {
		for _, a := range addrs {
			t.Run(l.name+"/"+a.name, func(t *testing.T) {
				c := newConv(t, a.client, a.server, 1000, 5000)
				c.link = l.link
				p := join(c.handshake(), []pkt{c.seg(dissect.C2S, "PA", verC), c.seg(dissect.S2C, "PA", verS)}, c.close())
				sink, st := runPackets(t, l.link, Options{}, p)
				if len(sink.streams) != 1 {
					t.Fatalf("got %d streams, stats %+v", len(sink.streams), st)
				}
				checkStream(t, sink.streams[0], want{c2s: verC, s2c: verS, syn: true, closed: true})
				if got := sink.streams[0].info.Server.String(); got != a.server {
					t.Errorf("server %v, want %v", got, a.server)
				}
			})
		}
	}
}

// TestNotAnalysed checks that packets that are not MSNP are counted by kind.
func TestNotAnalysed(t *testing.T) {
	c := newConv(t, client, server, 1000, 5000)
	web := newConv(t, "192.168.1.20:1050", "10.1.1.1:80", 1, 1)
	udpIP := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: []byte{10, 0, 0, 1}, DstIP: []byte{10, 0, 0, 2}}
	udpL := &layers.UDP{SrcPort: 53, DstPort: 1863}
	if err := udpL.SetNetworkLayerForChecksum(udpIP); err != nil {
		t.Fatal(err)
	}
	udp := serialize(t,
		&layers.Ethernet{SrcMAC: macClient, DstMAC: macServer, EthernetType: layers.EthernetTypeIPv4},
		udpIP, udpL, gopacket.Payload("x"))
	arp := serialize(t,
		&layers.Ethernet{SrcMAC: macClient, DstMAC: macServer, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			SourceHwAddress: macClient, SourceProtAddress: []byte{10, 0, 0, 1}, DstHwAddress: macServer, DstProtAddress: []byte{10, 0, 0, 2}})
	good := c.seg(dissect.C2S, "PA", verC)
	badIP := append([]byte(nil), good.data...)
	badIP[14] = 0x43 // IHL 3
	badTCP := append([]byte(nil), good.data...)
	badTCP[14+20+12] = 0xf0 // data offset 60 > segment
	short := good.data[:20]
	p := []pkt{
		{ts: t0, data: udp},
		{ts: t0, data: arp},
		web.seg(dissect.C2S, "PA", "GET / HTTP/1.0\r\n\r\n"),
		{ts: t0, data: badIP},
		{ts: t0, data: badTCP},
		{ts: t0, data: short},
		good,
	}
	sink, st := runPackets(t, layers.LinkTypeEthernet, Options{}, p)
	if len(sink.streams) != 1 || string(sink.streams[0].data[dissect.C2S]) != verC {
		t.Fatalf("streams %d", len(sink.streams))
	}
	wantSt := Stats{Packets: 7, NonTCP: 1, NonIP: 1, OtherPort: 1, TCP: 2, Assembled: 1, Connections: 1}
	wantSt.Decode[DecodeIPv4] = 2 // IHL 3, and the 20-byte frame with a 6-byte IP header
	wantSt.Decode[DecodeTCP] = 1
	wantSt.Bytes = st.Bytes
	if !st.First.Equal(t0) || !st.Last.Equal(web.ts.Add(-web.step)) {
		t.Errorf("First, Last = %v, %v, want %v, %v", st.First, st.Last, t0, web.ts.Add(-web.step))
	}
	wantSt.First, wantSt.Last = st.First, st.Last
	if st != wantSt {
		t.Errorf("Stats = %+v\nwant    %+v", st, wantSt)
	}
	want := "[{unsupported_link 0} {non_ip 1} {non_tcp 1} {other_port 1} {ipv6_fragment 0} {ipv4_fragment_incomplete 0} " +
		"{decode_link 0} {decode_ip_version 0} {decode_ipv4 2} {decode_ipv6 0} {decode_tcp 1} {decode_ipv4_fragment 0}]"
	if got := fmt.Sprint(st.Skipped()); got != want {
		t.Errorf("Skipped() = %s, want %s", got, want)
	}
}

// TestTruncatedPackets checks that bytes cut by the snap length are counted
// and reported as a gap.
func TestTruncatedPackets(t *testing.T) {
	c := newConv(t, client, server, 1000, 5000)
	hs := c.handshake()
	a := c.seg(dissect.C2S, "PA", verC)
	a.orig = len(a.data)
	a.data = a.data[:len(a.data)-4]
	b := c.seg(dissect.C2S, "PA", cvrC)
	sink, st := runPackets(t, layers.LinkTypeEthernet, Options{}, join(hs, []pkt{a, b}))
	if st.Truncated != 1 {
		t.Errorf("Truncated = %d, want 1", st.Truncated)
	}
	if got, want := string(sink.streams[0].data[dissect.C2S]), verC[:len(verC)-4]+"<gap 4>"+cvrC; got != want {
		t.Errorf("c2s = %q, want %q", got, want)
	}
}

// TestIPv4Fragments checks that a fragmented segment is reassembled.
func TestIPv4Fragments(t *testing.T) {
	c := newConv(t, client, server, 1000, 5000)
	c.link = layers.LinkTypeRaw
	hs := c.handshake()
	whole := c.seg(dissect.C2S, "PA", cvrC)
	ip := whole.data
	hl := 20
	body := ip[hl:] // TCP header and payload
	cut := 48       // a multiple of 8
	frag := func(off int, part []byte, more bool) pkt {
		f := append(append([]byte(nil), ip[:hl]...), part...)
		f[2], f[3] = byte((hl+len(part))>>8), byte(hl+len(part))
		v := uint16(off / 8)
		if more {
			v |= 0x2000
		}
		f[6], f[7] = byte(v>>8), byte(v)
		f[4], f[5] = 0x12, 0x34
		return pkt{ts: whole.ts, data: f}
	}
	second := frag(cut, body[cut:], false)
	first := frag(0, body[:cut], true)
	after := c.seg(dissect.C2S, "PA", usrC)
	sink, st := runPackets(t, layers.LinkTypeRaw, Options{}, join(hs, []pkt{second, first, after}))
	if got := string(sink.streams[0].data[dissect.C2S]); got != cvrC+usrC {
		t.Errorf("c2s = %q, want %q", got, cvrC+usrC)
	}
	if st.FragmentsHeld != 1 || st.Datagrams != 1 || st.FragmentsDropped != 0 {
		t.Errorf("fragments held %d datagrams %d dropped %d, want 1 1 0", st.FragmentsHeld, st.Datagrams, st.FragmentsDropped)
	}
}

// TestZeroCopyReads checks that zero-copy reads are safe: out-of-order data
// is copied into pages before the packet buffer is overwritten by the next
// read, and in-order data is delivered before it.
func TestZeroCopyReads(t *testing.T) {
	c := newConv(t, client, server, 1000, 5000)
	var p []pkt
	p = append(p, c.handshake()...)
	var want strings.Builder
	for i := range 200 {
		line := strings.Repeat(string(rune('a'+i%26)), 100+i) + "\r\n"
		want.WriteString(line)
		p = append(p, c.seg(dissect.C2S, "PA", line))
	}
	// Reorder in pairs so that half the data goes through pages.
	for i := 3; i+1 < len(p); i += 2 {
		p[i], p[i+1] = p[i+1], p[i]
	}
	sink, _ := runPackets(t, layers.LinkTypeEthernet, Options{}, p)
	if got := string(sink.streams[0].data[dissect.C2S]); got != want.String() {
		t.Errorf("c2s differs: got %d bytes, want %d", len(got), want.Len())
	}
}

// TestEndTimes checks the time End reports for each way a connection ends.
func TestEndTimes(t *testing.T) {
	finish := t0.Add(time.Hour)
	tests := []struct {
		name   string
		build  func(c *conv) ([]pkt, time.Time) // packets and the wanted End time
		closed bool
	}{
		{"FIN both ways: the second FIN", func(c *conv) ([]pkt, time.Time) {
			p := join(c.handshake(), []pkt{c.seg(dissect.C2S, "PA", verC)}, c.close())
			return p, p[len(p)-2].ts
		}, true},
		{"RST: the reset", func(c *conv) ([]pkt, time.Time) {
			p := join(c.handshake(), []pkt{c.seg(dissect.C2S, "PA", verC), c.seg(dissect.S2C, "R", "")})
			return p, p[len(p)-1].ts
		}, true},
		{"open at the end: the Finish time", func(c *conv) ([]pkt, time.Time) {
			return join(c.handshake(), []pkt{c.seg(dissect.C2S, "PA", verC)}), finish
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newConv(t, client, server, 1000, 5000)
			p, wantT := tt.build(c)
			s := runFinish(t, p, finish).streams[0]
			if !s.endT.Equal(wantT) || s.closed != tt.closed {
				t.Errorf("End(%v, %v), want End(%v, %v)", s.endT, s.closed, wantT, tt.closed)
			}
		})
	}
}

// TestLateSYN checks that the SYN of a connection caught mid-stream, captured
// after its first data, does not replace the connection.
func TestLateSYN(t *testing.T) {
	c := newConv(t, client, server, 1000, 5000)
	hs := c.handshake()
	a := c.seg(dissect.C2S, "PA", verC)
	b := c.seg(dissect.S2C, "PA", verS)
	sink, st := runPackets(t, layers.LinkTypeEthernet, Options{}, join([]pkt{a, hs[0], b}, c.close()))
	if len(sink.streams) != 1 || st.Superseded != 0 {
		t.Fatalf("got %d streams, %d superseded; want 1, 0", len(sink.streams), st.Superseded)
	}
	checkStream(t, sink.streams[0], want{c2s: verC, s2c: verS, closed: true})
}

func TestOptionsDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Options
		want Options
	}{
		{"zero", Options{}, Options{Ports: []uint16{DefaultPort}, MaxBufferedPagesPerConn: DefaultMaxBufferedPagesPerConn,
			MaxBufferedPagesTotal: DefaultMaxBufferedPagesTotal, MaxConnections: DefaultMaxConnections, IdleTimeout: DefaultIdleTimeout,
			HalfCloseTimeout: DefaultHalfCloseTimeout, FlushInterval: DefaultFlushInterval, ReorderWindow: DefaultReorderWindow}},
		{"negative limits", Options{Ports: []uint16{7001}, MaxBufferedPagesPerConn: -1, MaxBufferedPagesTotal: -5, MaxConnections: -2, IdleTimeout: -time.Second, HalfCloseTimeout: -time.Second},
			Options{Ports: []uint16{7001}, MaxBufferedPagesPerConn: DefaultMaxBufferedPagesPerConn,
				MaxBufferedPagesTotal: DefaultMaxBufferedPagesTotal, MaxConnections: DefaultMaxConnections, IdleTimeout: DefaultIdleTimeout,
				HalfCloseTimeout: DefaultHalfCloseTimeout, FlushInterval: DefaultFlushInterval, ReorderWindow: DefaultReorderWindow}},
		{"set", Options{Ports: []uint16{1863, 443}, MaxBufferedPagesPerConn: 3, MaxBufferedPagesTotal: 9, MaxConnections: 7, IdleTimeout: time.Hour, HalfCloseTimeout: 5 * time.Minute, FlushInterval: time.Second, ReorderWindow: time.Millisecond},
			Options{Ports: []uint16{1863, 443}, MaxBufferedPagesPerConn: 3, MaxBufferedPagesTotal: 9, MaxConnections: 7, IdleTimeout: time.Hour, HalfCloseTimeout: 5 * time.Minute, FlushInterval: time.Second, ReorderWindow: time.Millisecond}},
		// The half-close timeout is never longer than the idle one.
		{"idle shorter", Options{IdleTimeout: time.Minute},
			Options{Ports: []uint16{DefaultPort}, MaxBufferedPagesPerConn: DefaultMaxBufferedPagesPerConn,
				MaxBufferedPagesTotal: DefaultMaxBufferedPagesTotal, MaxConnections: DefaultMaxConnections, IdleTimeout: time.Minute,
				HalfCloseTimeout: time.Minute, FlushInterval: DefaultFlushInterval, ReorderWindow: DefaultReorderWindow}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in.withDefaults()
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("withDefaults(%+v) = %+v, want %+v", tt.in, got, tt.want)
			}
			e := NewEngine(&recSink{}, tt.in)
			if e.opt.MaxBufferedPagesPerConn != tt.want.MaxBufferedPagesPerConn || e.opt.MaxBufferedPagesTotal != tt.want.MaxBufferedPagesTotal {
				t.Errorf("assembler limits %d %d, want %d %d", e.opt.MaxBufferedPagesPerConn, e.opt.MaxBufferedPagesTotal, tt.want.MaxBufferedPagesPerConn, tt.want.MaxBufferedPagesTotal)
			}
		})
	}
}

// TestFeedTimesOutOfOrder checks that every Feed carries the time of the
// packet its bytes came in, however the packets were reordered or lost:
// pages keep the time of the packet their bytes came in, whatever was
// delivered with them. Each payload repeats
// its packet's number, so a Feed tells which packet it came from.
func TestFeedTimesOutOfOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Options
	}{
		{"defaults", Options{}},
		{"page limits", Options{MaxBufferedPagesPerConn: 3, MaxBufferedPagesTotal: 8}},
		{"short windows", Options{FlushInterval: 30 * time.Millisecond, ReorderWindow: 20 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			type numbered struct {
				p   pkt
				num int // in the payload, 0 for none
			}
			rng := rand.New(rand.NewPCG(7, 11))
			var all []numbered
			num := 0
			for i := range 8 {
				c := newConv(t, fmt.Sprintf("10.0.0.%d:%d", i+1, 2000+i), server, rng.Uint32(), rng.Uint32())
				for _, p := range c.handshake() {
					all = append(all, numbered{p, 0})
				}
				var data []numbered
				for range 60 {
					num++
					n := 1 + rng.IntN(500) // records of 8 bytes: up to 4000 bytes, three pages
					p := c.seg(dissect.Dir(rng.IntN(2)), "PA", strings.Repeat(fmt.Sprintf("%07d;", num), n))
					data = append(data, numbered{p, num})
				}
				for j := range data {
					switch r := rng.Float64(); {
					case r < 0.15 && j+3 < len(data):
						k := j + 1 + rng.IntN(3)
						data[j], data[k] = data[k], data[j]
					case r < 0.20:
						data[j].p.data = nil // lost
					}
				}
				all = append(all, data...)
				for _, p := range c.close() {
					all = append(all, numbered{p, 0})
				}
			}
			// Interleave the connections a little.
			for j := range all {
				if k := j + rng.IntN(4); k < len(all) && rng.IntN(3) == 0 {
					all[j], all[k] = all[k], all[j]
				}
			}
			sink := &recSink{}
			e := NewEngine(sink, tc.opt)
			times := map[int]time.Time{}
			for j, np := range all {
				if np.p.data == nil {
					continue
				}
				np.p.ts = t0.Add(time.Duration(j) * 7 * time.Millisecond)
				times[np.num] = np.p.ts
				e.Packet(np.p.data, captureInfo(np.p), layers.LinkTypeEthernet, "f", int64(j+1))
			}
			e.Finish(t0.Add(time.Hour))
			feeds := 0
			for _, s := range sink.streams {
				for _, f := range s.feeds {
					feeds++
					if len(f.b) < 8 || len(f.b)%8 != 0 || strings.Count(f.b, f.b[:8]) != len(f.b)/8 {
						t.Fatalf("feed %q is not the bytes of one packet", f.b[:min(len(f.b), 40)])
					}
					n, err := strconv.Atoi(f.b[:7])
					if err != nil {
						t.Fatalf("feed %q: %v", f.b[:8], err)
					}
					if want := times[n]; !f.t.Equal(want) {
						t.Errorf("feed of packet %d at %v, want %v", n, f.t, want)
					}
				}
			}
			if feeds < 300 {
				t.Errorf("%d feeds, want at least 300", feeds)
			}
			checkInvariants(t, sink, e.Stats())
		})
	}
}
