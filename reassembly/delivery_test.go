package reassembly

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/msnsniff/msnsniff/dissect"
)

// clockSink records what an Engine reports, like recSink, and checks that
// every call comes in time: Open with the connection's first packet, and
// Feed, Gap and End at most bound of packet time after the packet they
// report. clock is the latest packet time given to the Engine.
type clockSink struct {
	tb    testing.TB
	rec   recSink
	clock time.Time
	bound time.Duration
}

func (k *clockSink) Open(c dissect.ConnInfo) Stream {
	if !k.clock.Equal(c.Start) {
		k.tb.Errorf("Open(%v) at packet time %v, want with its first packet at %v", c.Client, k.clock, c.Start)
	}
	return &clockStream{k: k, s: k.rec.Open(c).(*recStream)}
}

type clockStream struct {
	k *clockSink
	s *recStream
}

func (s *clockStream) check(call string, t time.Time) {
	if late := s.k.clock.Sub(t); late > s.k.bound {
		s.k.tb.Errorf("%v: %s of %v made at %v, %v late (at most %v)", s.s.info.Client, call, t, s.k.clock, late, s.k.bound)
	}
}

func (s *clockStream) Feed(d dissect.Dir, t time.Time, b []byte) {
	s.check(fmt.Sprintf("Feed(%v, %q)", d, b), t)
	s.s.Feed(d, t, b)
}

func (s *clockStream) Gap(d dissect.Dir, t time.Time, n int) {
	s.check(fmt.Sprintf("Gap(%v, %d)", d, n), t)
	s.s.Gap(d, t, n)
}

func (s *clockStream) End(t time.Time, closed bool) {
	s.check(fmt.Sprintf("End(closed=%v)", closed), t)
	s.s.End(t, closed)
}

// TestDeliveryBound checks the promise of doc.go and Options: a connection
// is opened with its first packet, and what it carries is delivered within
// ReorderWindow + FlushInterval of packet time, nothing lost, while other
// traffic goes on: for a connection whose client SYN was not captured (the
// capture starts at the server's SYN-ACK), one whose client SYN and
// SYN-ACK were both lost, one with a segment lost in the middle and one
// whose last data segment was lost before both FINs.
func TestDeliveryBound(t *testing.T) {
	const (
		cvrS2 = "CVR 2 6.2.0208 6.2.0208 6.2.0208 http://download.example.com/ http://www.example.com/\r\n"
		usrS  = "USR 3 TWN S lc=1033,id=507,tw=40,fs=1,ru=http%3A%2F%2Fmessenger%2Emsn%2Ecom,ct=1062764229,kpp=1,kv=5,ver=2.1.0173.1,tpf=43f8a4c8ed940c04e3740be46c4d1619\r\n"
	)
	for _, opt := range []Options{{}, {ReorderWindow: 500 * time.Millisecond, FlushInterval: time.Second}} {
		def := opt.withDefaults()
		bound := def.ReorderWindow + def.FlushInterval
		t.Run(fmt.Sprintf("bound %v", bound), func(t *testing.T) {
			// Background traffic: a ping every 250 ms both ways for two
			// minutes, so packet time moves on and flushes happen.
			bg := newConv(t, "10.0.0.1:2000", "10.0.0.2:1863", 1, 1)
			all := bg.handshake()
			var bgC2S, bgS2C strings.Builder
			for bg.ts.Before(t0.Add(2 * time.Minute)) {
				all = append(all, bg.seg(dissect.C2S, "PA", "PNG\r\n"), bg.seg(dissect.S2C, "PA", "QNG 50\r\n"))
				bgC2S.WriteString("PNG\r\n")
				bgS2C.WriteString("QNG 50\r\n")
				bg.ts = bg.ts.Add(250*time.Millisecond - 2*bg.step)
			}
			all = append(all, bg.close()...)

			type conn struct {
				client   string
				at       time.Duration
				build    func(c *conv) []pkt
				c2s, s2c string
				syn      bool
			}
			conns := []conn{
				{"192.168.1.20:1042", 20 * time.Second, func(c *conv) []pkt {
					// The client's SYN was lost: the first packet is
					// the server's SYN-ACK.
					hs := c.handshake()
					return join(hs[1:], []pkt{
						c.seg(dissect.C2S, "PA", verC), c.seg(dissect.S2C, "PA", verS),
						c.seg(dissect.C2S, "PA", cvrC), c.seg(dissect.S2C, "PA", cvrS2),
						c.seg(dissect.C2S, "PA", usrC), c.seg(dissect.S2C, "PA", usrS),
					}, c.close())
				}, verC + cvrC + usrC, verS + cvrS2 + usrS, true},
				{"192.168.1.21:1043", 35 * time.Second, func(c *conv) []pkt {
					// SYN and SYN-ACK lost: the first packet is the
					// client's ACK, then data both ways.
					hs := c.handshake()
					return join(hs[2:], []pkt{
						c.seg(dissect.C2S, "PA", verC), c.seg(dissect.S2C, "PA", verS),
					}, c.close())
				}, verC, verS, false},
				{"192.168.1.22:1044", 50 * time.Second, func(c *conv) []pkt {
					// A client segment lost in the middle: the bytes
					// after it wait for the reorder window.
					hs := c.handshake()
					a := c.seg(dissect.C2S, "PA", verC)
					r := c.seg(dissect.S2C, "PA", verS)
					c.skip(dissect.C2S, len(cvrC))
					b := c.seg(dissect.C2S, "PA", usrC)
					return join(hs, []pkt{a, r, b, c.seg(dissect.S2C, "PA", cvrS2)}, c.close())
				}, verC + fmt.Sprintf("<gap %d>", len(cvrC)) + usrC, verS + cvrS2, true},
				{"192.168.1.23:1045", 65 * time.Second, func(c *conv) []pkt {
					// The client's last segment lost before both FINs.
					hs := c.handshake()
					a := c.seg(dissect.C2S, "PA", verC)
					r := c.seg(dissect.S2C, "PA", verS)
					c.skip(dissect.C2S, len(cvrC))
					return join(hs, []pkt{a, r}, c.close())
				}, verC + fmt.Sprintf("<gap %d>", len(cvrC)), verS, true},
			}
			for i, cc := range conns {
				c := newConv(t, cc.client, server, uint32(1000*(i+1)), uint32(50000*(i+1)))
				c.ts = t0.Add(cc.at)
				all = append(all, cc.build(c)...)
			}
			slices.SortStableFunc(all, func(a, b pkt) int { return a.ts.Compare(b.ts) })

			sink := &clockSink{tb: t, bound: bound}
			e := NewEngine(sink, opt)
			for i, p := range all {
				sink.clock = p.ts
				e.Packet(p.data, captureInfo(p), layers.LinkTypeEthernet, "f", int64(i+1))
			}
			// Everything was delivered before Finish: the connections
			// ended long before the last packet.
			streams := sink.rec.streams
			if len(streams) != 1+len(conns) {
				t.Fatalf("got %d streams, want %d", len(streams), 1+len(conns))
			}
			for i, cc := range conns {
				s := streams[1+i]
				if s.info.Client.String() != cc.client {
					t.Fatalf("stream %d is %v, want %v", 1+i, s.info.Client, cc.client)
				}
				checkStream(t, s, want{c2s: cc.c2s, s2c: cc.s2c, syn: cc.syn, closed: true})
			}
			sink.clock = all[len(all)-1].ts
			e.Finish(sink.clock)
			checkInvariants(t, &sink.rec, e.Stats())
			checkStream(t, streams[0], want{c2s: bgC2S.String(), s2c: bgS2C.String(), syn: true, closed: true})
		})
	}
}
