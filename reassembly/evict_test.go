package reassembly

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/msnsniff/msnsniff/dissect"
)

// TestMaxConnections opens six connections a second apart, all still open
// when a flush finds them, under a limit of three: the four least recently
// active are told Evict and ended open, the two others go on to their
// FINs; in line and pipelined alike.
func TestMaxConnections(t *testing.T) {
	var pkts []pkt
	convs := make([]*conv, 6)
	for i := range convs {
		c := newConv(t, fmt.Sprintf("192.168.0.%d:5000%d", 2+i, i), "10.0.0.5:1863", 1000, 9000)
		c.ts = t0.Add(time.Duration(i) * time.Second)
		convs[i] = c
		pkts = append(pkts, c.handshake()...)
		pkts = append(pkts, c.seg(dissect.C2S, "PA", fmt.Sprintf("VER %d MSNP8 CVR0\r\n", i+1)))
	}
	// Twenty seconds later, well past a flush, the last two go on and close.
	for _, c := range convs[4:] {
		c.ts = t0.Add(20 * time.Second)
		pkts = append(pkts, c.seg(dissect.S2C, "PA", "VER 1 MSNP8\r\n"))
		pkts = append(pkts, c.close()...)
	}
	slices.SortStableFunc(pkts, func(a, b pkt) int { return a.ts.Compare(b.ts) })
	for _, pipelined := range []bool{false, true} {
		t.Run(fmt.Sprintf("pipelined=%v", pipelined), func(t *testing.T) {
			path := writePcap(t, t.TempDir(), "msnp.pcap", layers.LinkTypeEthernet, pkts)
			src, err := Open(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			sink := &recSink{}
			e := NewEngine(sink, Options{MaxConnections: 3})
			if err := run([]*Source{src}, e, pipelined); err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, sink, e.Stats())
			if got := e.Stats().Evicted; got != 4 {
				t.Errorf("Stats.Evicted = %d, want 4", got)
			}
			if len(sink.streams) != 6 {
				t.Fatalf("%d streams, want 6", len(sink.streams))
			}
			for i, s := range sink.streams {
				evicted := slices.Contains(s.events, "evict")
				if want := i < 4; evicted != want {
					t.Errorf("stream %d (%v): evicted %v, want %v: %q", i, s.info.Client, evicted, want, s.events)
				}
				if n := len(s.events); evicted && (n < 2 || s.events[n-2] != "evict" || s.closed) {
					t.Errorf("stream %d: evicted but events end %q, closed %v: want evict then an open end", i, s.events, s.closed)
				}
				if !evicted && !s.closed {
					t.Errorf("stream %d: not evicted but not closed either: %q", i, s.events)
				}
				if want := fmt.Sprintf("VER %d MSNP8 CVR0\r\n", i+1); string(s.data[dissect.C2S]) != want {
					t.Errorf("stream %d: client bytes %q, want %q", i, s.data[dissect.C2S], want)
				}
			}
		})
	}
}
