package reassembly

import (
	"bytes"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/msnsniff/msnsniff/dissect"
)

// fuzzLinks are the link types FuzzPacket picks from with its first byte.
var fuzzLinks = []layers.LinkType{
	layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2,
	layers.LinkTypeRaw, layers.LinkTypeNull, layers.LinkTypeLoop,
}

// FuzzPacket feeds arbitrary frames to an Engine: the first byte picks the
// link type, the second how many times the frame is repeated (at increasing
// times, with a changed sequence number), the rest is the frame. It checks
// that nothing panics and that every packet and stream is accounted for.
func FuzzPacket(f *testing.F) {
	c := newConv(f, client, server, 1000, 5000)
	for _, p := range join(c.handshake(), []pkt{c.seg(dissect.C2S, "PA", verC), c.seg(dissect.S2C, "FA", verS)}) {
		f.Add(append([]byte{0, 1}, p.data...))
	}
	c6 := newConv(f, "[2001:db8::1]:1042", "[2001:db8::2]:1863", 1, 1)
	c6.link = layers.LinkTypeRaw
	f.Add(append([]byte{3, 3}, c6.seg(dissect.C2S, "PA", verC).data...))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 2 {
			return
		}
		link := fuzzLinks[int(in[0])%len(fuzzLinks)]
		frame := append([]byte(nil), in[2:]...)
		sink := &recSink{}
		e := NewEngine(sink, Options{MaxBufferedPagesPerConn: 2, MaxBufferedPagesTotal: 4})
		n := int(in[1]%8) + 1
		for i := range n {
			ts := t0.Add(time.Duration(i) * 7 * time.Second)
			e.Packet(frame, gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(frame), Length: len(frame) + i%2}, link, "fuzz", int64(i+1))
			// Move the sequence number a little, wherever it may be.
			if len(frame) > 60 {
				frame[len(frame)-40+i%30]++
			}
		}
		e.Finish(t0.Add(time.Hour))
		checkInvariants(t, sink, e.Stats())
	})
}

// FuzzSource reads arbitrary bytes as a capture file. It checks that nothing
// panics, that a damaged file ends in a *FileError and that no record longer
// than MaxRecordLen is returned.
func FuzzSource(f *testing.F) {
	c := newConv(f, client, server, 1000, 5000)
	pkts, _, _ := exchange(f, c, 2)
	f.Add(pcapBytes(f, pkts))
	var ng bytes.Buffer
	w, err := pcapgo.NewNgWriter(&ng, layers.LinkTypeEthernet)
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range pkts[:4] {
		if err := w.WritePacket(captureInfo(p), p.data); err != nil {
			f.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Fatal(err)
	}
	f.Add(ng.Bytes())
	f.Fuzz(func(t *testing.T, in []byte) {
		src, err := Open("-", bytes.NewReader(in))
		if err != nil {
			return
		}
		for {
			data, _, _, err := src.Next()
			if err != nil {
				break
			}
			if len(data) > MaxRecordLen {
				t.Fatalf("record of %d bytes", len(data))
			}
		}
		src2, err := Open("-", bytes.NewReader(in))
		if err != nil {
			t.Fatalf("second Open = %v", err)
		}
		sink := &recSink{}
		e := NewEngine(sink, Options{})
		_ = Run([]*Source{src2}, e)
		checkInvariants(t, sink, e.Stats())
	})
}
