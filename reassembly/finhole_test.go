package reassembly

import (
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/msnsniff/msnsniff/dissect"
)

// TestFINAfterHole covers a connection that closes (FIN both ways) while a
// hole in the client's bytes is still open: the hole is given up as a Gap,
// the bytes after it are delivered, and the connection ends closed at the
// packet that closed it, whether a later packet of another connection
// moves packet time past the reorder window or the capture ends first.
func TestFINAfterHole(t *testing.T) {
	finish := t0.Add(time.Hour)
	for _, later := range []bool{true, false} {
		name := "capture ends"
		if later {
			name = "later traffic"
		}
		t.Run(name, func(t *testing.T) {
			c := newConv(t, client, server, 1000, 5000)
			p := join(c.handshake(), []pkt{c.seg(dissect.C2S, "PA", verC)})
			c.skip(dissect.C2S, 10) // a lost segment
			p = append(p, c.seg(dissect.C2S, "PA", "CHG 2 NLN\r\n"), c.seg(dissect.S2C, "PA", verS))
			cl := c.close()
			p = append(p, cl...)
			closing := cl[1].ts // the second FIN
			if later {
				o := newConv(t, "10.0.0.9:40000", server, 7000, 9000)
				o.ts = closing.Add(30 * time.Second)
				p = append(p, o.handshake()...)
			}
			s := runFinish(t, p, finish).streams[0]
			if got, want := string(s.data[dissect.C2S]), verC+"<gap 10>CHG 2 NLN\r\n"; got != want {
				t.Errorf("client bytes %q, want %q", got, want)
			}
			if string(s.data[dissect.S2C]) != verS {
				t.Errorf("server bytes %q, want %q", s.data[dissect.S2C], verS)
			}
			if !s.closed || !s.endT.Equal(closing) {
				t.Errorf("End(%v, %v), want End(%v, true)", s.endT, s.closed, closing)
			}
		})
	}
}

// TestClosedBehindHoleReplaced covers a connection seen to close while a
// hole kept it open in the assembler, whose 4-tuple a new SYN takes before
// a flush ended it: it ends closed, at the packet that closed it (not at
// its last packet, nor as a replaced connection), and the new connection
// is assembled from its SYN.
func TestClosedBehindHoleReplaced(t *testing.T) {
	tests := []struct {
		name  string
		close func(c *conv) (p []pkt, closing time.Time)
		c2s   string
	}{
		{
			name: "FINs behind a hole",
			close: func(c *conv) ([]pkt, time.Time) {
				cl := c.close()
				return cl, cl[1].ts // the server's FIN; cl[2] is the last ACK
			},
			c2s: verC + "<gap 10>",
		},
		{
			name: "RST ahead of a hole",
			close: func(c *conv) ([]pkt, time.Time) {
				r := c.seg(dissect.C2S, "RA", "")
				return []pkt{r, c.seg(dissect.S2C, "A", "")}, r.ts
			},
			c2s: verC,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newConv(t, client, server, 1000, 5000)
			p := join(c.handshake(), []pkt{c.seg(dissect.C2S, "PA", verC)})
			c.skip(dissect.C2S, 10) // lost before the close
			cl, closing := tt.close(c)
			p = append(p, cl...)
			// Well within the reorder window, the client opens a new
			// connection from the same port.
			n := newConv(t, client, server, 90000, 7000)
			n.ts = c.ts.Add(100 * time.Millisecond)
			p = join(p, n.handshake(), []pkt{n.seg(dissect.C2S, "PA", cvrC)}, n.close())
			sink, st := runPackets(t, layers.LinkTypeEthernet, Options{}, p)
			if len(sink.streams) != 2 {
				t.Fatalf("got %d streams, want 2", len(sink.streams))
			}
			s := sink.streams[0]
			if got := string(s.data[dissect.C2S]); got != tt.c2s {
				t.Errorf("client bytes %q, want %q", got, tt.c2s)
			}
			if !s.closed || !s.endT.Equal(closing) {
				t.Errorf("End(%v, %v), want End(%v, true)", s.endT, s.closed, closing)
			}
			checkStream(t, sink.streams[1], want{c2s: cvrC, syn: true, closed: true})
			if st.Superseded != 0 {
				t.Errorf("Superseded = %d, want 0: the connection was seen to close", st.Superseded)
			}
		})
	}
}
