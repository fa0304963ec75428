package reassembly

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/msnsniff/msnsniff/dissect"
)

// countSink counts bytes and keeps nothing, like a dissector that parses in
// place.
type countSink struct {
	bytes, gaps, ends int64
}

func (c *countSink) Open(dissect.ConnInfo) Stream { return c }
func (c *countSink) Feed(_ dissect.Dir, _ time.Time, b []byte) {
	c.bytes += int64(len(b))
}
func (c *countSink) Gap(dissect.Dir, time.Time, int) { c.gaps++ }
func (c *countSink) End(time.Time, bool)             { c.ends++ }

// benchCapture builds a capture of conns interleaved connections with segs
// data segments each way, and a share of segments swapped with the next one
// of their direction (reordering).
func benchCapture(tb testing.TB, conns, segs int, reorder float64) (pkts []pkt, payload int) {
	rng := rand.New(rand.NewPCG(1, 2))
	per := make([][]pkt, conns)
	for i := range conns {
		c := newConv(tb, fmt.Sprintf("10.%d.%d.%d:%d", i>>16&255, i>>8&255, i&255, 1025+i%50000), "65.54.239.140:1863", uint32(rng.Int()), uint32(rng.Int()))
		c.step = time.Millisecond
		c.ts = t0.Add(time.Duration(i) * time.Microsecond)
		p := c.handshake()
		for range segs {
			q := "MSG 12 A " + strings.Repeat("x", 100+rng.IntN(1300)) + "\r\n"
			r := "MSG 13 N " + strings.Repeat("y", 60+rng.IntN(400)) + "\r\n"
			p = append(p, c.seg(dissect.C2S, "PA", q), c.seg(dissect.S2C, "PA", r))
			payload += len(q) + len(r)
		}
		for j := 3; j+2 < len(p); j++ {
			if rng.Float64() < reorder {
				p[j], p[j+2] = p[j+2], p[j]
			}
		}
		per[i] = append(p, c.close()...)
	}
	for j := 0; ; j++ {
		added := false
		for i := range per {
			if j < len(per[i]) {
				pkts = append(pkts, per[i][j])
				added = true
			}
		}
		if !added {
			break
		}
	}
	for i := range pkts {
		pkts[i].ts = t0.Add(time.Duration(i) * 20 * time.Microsecond)
	}
	return pkts, payload
}

func pcapBytes(tb testing.TB, pkts []pkt) []byte {
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(65536, layers.LinkTypeEthernet); err != nil {
		tb.Fatal(err)
	}
	for _, p := range pkts {
		if err := w.WritePacket(captureInfo(p), p.data); err != nil {
			tb.Fatal(err)
		}
	}
	return buf.Bytes()
}

// BenchmarkEngine reads an in-memory pcap of 256 interleaved connections
// through Open, Run and the Engine. Bytes are those of the file.
func BenchmarkEngine(b *testing.B) {
	for _, bc := range []struct {
		name    string
		reorder float64
	}{
		{"inorder", 0},
		{"reorder5pct", 0.05},
	} {
		b.Run(bc.name, func(b *testing.B) {
			pkts, payload := benchCapture(b, 256, 100, bc.reorder)
			file := pcapBytes(b, pkts)
			b.SetBytes(int64(len(file)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				src, err := Open("-", bytes.NewReader(file))
				if err != nil {
					b.Fatal(err)
				}
				sink := &countSink{}
				if err := Run([]*Source{src}, NewEngine(sink, Options{})); err != nil {
					b.Fatal(err)
				}
				if sink.bytes != int64(payload) || sink.gaps != 0 || sink.ends != 256 {
					b.Fatalf("got %d bytes %d gaps %d ends, want %d, 0, 256", sink.bytes, sink.gaps, sink.ends, payload)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pkts)), "ns/pkt")
		})
	}
}

// TestAllocsPerPacket checks the steady state: an in-order segment of a known
// connection allocates nothing.
func TestAllocsPerPacket(t *testing.T) {
	c := newConv(t, client, server, 1000, 5000)
	e := NewEngine(&countSink{}, Options{})
	for i, p := range c.handshake() {
		e.Packet(p.data, captureInfo(p), layers.LinkTypeEthernet, "f", int64(i))
	}
	const n = 1000
	var pkts []pkt
	for range n {
		pkts = append(pkts, c.seg(dissect.C2S, "PA", cvrC), c.seg(dissect.S2C, "PA", cvrS))
	}
	i := 0
	allocs := testing.AllocsPerRun(n-1, func() {
		for range 2 {
			p := pkts[i]
			e.Packet(p.data, captureInfo(p), layers.LinkTypeEthernet, "f", int64(i))
			i++
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per 2 packets, want 0", allocs)
	}
}
