package reassembly

import (
	"testing"
	"time"

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
