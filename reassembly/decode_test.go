package reassembly

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/msnsniff/msnsniff/dissect"
)

// withIPv6Ext inserts an 8-byte extension header of type ext (hop-by-hop,
// destination options or fragment) after the fixed IPv6 header of a raw
// IPv6 packet.
func withIPv6Ext(ip []byte, ext uint8, fragField uint16) []byte {
	out := append([]byte(nil), ip[:40]...)
	h := make([]byte, 8)
	h[0] = ip[6] // next header: what followed the fixed header
	if ext == ipv6ExtFragment {
		binary.BigEndian.PutUint16(h[2:], fragField)
	} else {
		h[2], h[3] = 1, 4 // PadN option filling the header
	}
	out[6] = ext
	binary.BigEndian.PutUint16(out[4:], binary.BigEndian.Uint16(ip[4:])+8)
	out = append(out, h...)
	return append(out, ip[40:]...)
}

// TestDecodeOutcomes checks which Stats field each kind of frame lands in.
func TestDecodeOutcomes(t *testing.T) {
	seg4 := tcpSeg{src: mustAP("10.0.0.1:1042"), dst: mustAP("10.0.0.2:1863"), seq: 1, ack: 1, flags: "PA", payload: []byte(verC)}
	seg6 := tcpSeg{src: mustAP("[2001:db8::1]:1042"), dst: mustAP("[2001:db8::2]:1863"), seq: 1, ack: 1, flags: "PA", payload: []byte(verC)}
	ip4 := ipTCP(t, seg4)
	ip6 := ipTCP(t, seg6)
	eth := func(etype uint16, rest []byte) []byte {
		h := make([]byte, 14)
		copy(h, macServer)
		copy(h[6:], macClient)
		binary.BigEndian.PutUint16(h[12:], etype)
		return append(h, rest...)
	}
	pppoe := func(proto uint16, ip []byte) []byte {
		h := []byte{0x11, 0, 0x12, 0x34, 0, 0, 0, 0}
		binary.BigEndian.PutUint16(h[4:], uint16(len(ip)+2))
		binary.BigEndian.PutUint16(h[6:], proto)
		return eth(etherTypePPPoE, append(h, ip...))
	}
	padded := append(append([]byte(nil), ip4...), 0, 0, 0, 0, 0, 0) // Ethernet padding
	tso := append([]byte(nil), ip4...)
	tso[2], tso[3] = 0, 0 // total length 0, as left by segmentation offload
	tests := []struct {
		name string
		link layers.LinkType
		data []byte
		want string // the Stats field that counts the frame
		c2s  string // bytes delivered, if any
	}{
		{"ethernet ipv4", layers.LinkTypeEthernet, eth(etherTypeIPv4, ip4), "Assembled", verC},
		{"ethernet padding", layers.LinkTypeEthernet, eth(etherTypeIPv4, padded), "Assembled", verC},
		{"offloaded total length 0", layers.LinkTypeEthernet, eth(etherTypeIPv4, tso), "Assembled", verC},
		{"pppoe ipv4", layers.LinkTypeEthernet, pppoe(pppProtocolIPv4, ip4), "Assembled", verC},
		{"pppoe ipv6", layers.LinkTypeEthernet, pppoe(pppProtocolIPv6, ip6), "Assembled", verC},
		{"pppoe lcp", layers.LinkTypeEthernet, pppoe(0xc021, []byte{1, 2, 3, 4}), "NonIP", ""},
		{"pppoe short", layers.LinkTypeEthernet, eth(etherTypePPPoE, []byte{0x11, 0}), "Decode[link]", ""},
		{"vlan short", layers.LinkTypeEthernet, eth(etherTypeVLAN, []byte{0}), "Decode[link]", ""},
		{"vlan loop", layers.LinkTypeEthernet, eth(etherTypeVLAN, []byte{0, 1, 0x81, 0, 0, 1, 0x81, 0, 0, 1, 0x81, 0, 0, 1, 0x81, 0, 0, 1, 0x81, 0}), "Decode[link]", ""},
		{"ethernet short", layers.LinkTypeEthernet, make([]byte, 13), "Decode[link]", ""},
		{"802.3 llc", layers.LinkTypeEthernet, eth(0x0026, []byte{0x42, 0x42, 3}), "NonIP", ""},
		{"ipv6 hop-by-hop", layers.LinkTypeRaw, withIPv6Ext(ip6, 0, 0), "Assembled", verC},
		{"ipv6 destination options", layers.LinkTypeRaw, withIPv6Ext(ip6, 60, 0), "Assembled", verC},
		{"ipv6 atomic fragment", layers.LinkTypeRaw, withIPv6Ext(ip6, ipv6ExtFragment, 0), "Assembled", verC},
		{"ipv6 fragment", layers.LinkTypeRaw, withIPv6Ext(ip6, ipv6ExtFragment, 1), "IPv6Fragments", ""},
		{"ipv6 ext cut short", layers.LinkTypeRaw, withIPv6Ext(ip6, 60, 0)[:44], "Decode[ipv6]", ""},
		{"ipv6 no next header", layers.LinkTypeRaw, func() []byte { b := append([]byte(nil), ip6...); b[6] = 59; return b }(), "NonTCP", ""},
		{"ipv6 short", layers.LinkTypeRaw, ip6[:39], "Decode[ipv6]", ""},
		{"ipv6 short on ethernet", layers.LinkTypeEthernet, eth(etherTypeIPv6, ip6[:39]), "Decode[ipv6]", ""},
		{"raw empty", layers.LinkTypeRaw, nil, "Decode[ip_version]", ""},
		{"raw version 5", layers.LinkTypeRaw, []byte{0x50, 0, 0, 0}, "Decode[ip_version]", ""},
		{"ipv4 total below header", layers.LinkTypeRaw, func() []byte { b := append([]byte(nil), ip4...); b[3] = 10; b[2] = 0; return b }(), "Decode[ipv4]", ""},
		{"ipv4 icmp", layers.LinkTypeRaw, func() []byte { b := append([]byte(nil), ip4...); b[9] = 1; return b }(), "NonTCP", ""},
		{"tcp short", layers.LinkTypeRaw, func() []byte { b := append([]byte(nil), ip4[:30]...); b[2], b[3] = 0, 30; return b }(), "Decode[tcp]", ""},
		{"null unknown family", layers.LinkTypeNull, append([]byte{7, 0, 0, 0}, ip4...), "NonIP", ""},
		{"null short", layers.LinkTypeNull, []byte{2, 0}, "Decode[link]", ""},
		{"sll short", layers.LinkTypeLinuxSLL, make([]byte, 15), "Decode[link]", ""},
		{"sll2 short", layers.LinkTypeLinuxSLL2, make([]byte, 19), "Decode[link]", ""},
		{"ieee 802.11", layers.LinkTypeIEEE802_11, ip4, "UnsupportedLink", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &recSink{}
			e := NewEngine(sink, Options{})
			e.Packet(tt.data, gopacket.CaptureInfo{Timestamp: t0, CaptureLength: len(tt.data), Length: len(tt.data)}, tt.link, "f", 1)
			e.Finish(t0)
			st := e.Stats()
			checkInvariants(t, sink, st)
			if got := outcome(st); got != tt.want {
				t.Errorf("outcome = %s, want %s (stats %+v)", got, tt.want, st)
			}
			var c2s string
			if len(sink.streams) > 0 {
				c2s = string(sink.streams[0].data[dissect.C2S])
			}
			if c2s != tt.c2s {
				t.Errorf("c2s = %q, want %q", c2s, tt.c2s)
			}
		})
	}
}

func mustAP(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// outcome names the single outcome field of a one-packet run.
func outcome(st Stats) string {
	fields := []struct {
		name string
		n    int64
	}{
		{"Assembled", st.Assembled}, {"OtherPort", st.OtherPort}, {"NonTCP", st.NonTCP}, {"NonIP", st.NonIP},
		{"UnsupportedLink", st.UnsupportedLink}, {"FragmentsHeld", st.FragmentsHeld}, {"IPv6Fragments", st.IPv6Fragments},
	}
	for k, n := range st.Decode {
		fields = append(fields, struct {
			name string
			n    int64
		}{fmt.Sprintf("Decode[%v]", DecodeKind(k)), n})
	}
	got := ""
	for _, f := range fields {
		if f.n != 0 {
			got += fmt.Sprintf("%s%s", map[bool]string{true: "+", false: ""}[got != ""], f.name)
		}
	}
	return got
}

// TestSegmentCounters checks the counts of segments that deliver nothing.
func TestSegmentCounters(t *testing.T) {
	c := newConv(t, client, server, 1000, 5000)
	stray := newConv(t, "10.9.9.9:3333", server, 7, 7)
	p := []pkt{
		stray.seg(dissect.C2S, "A", ""), // an ACK of an unknown connection
		c.seg(dissect.C2S, "S", ""),     // SYN; the SYN-ACK is not captured
		c.seg(dissect.C2S, "A", ""),     // rejected: the state machine waits for a SYN-ACK
		c.seg(dissect.C2S, "PA", verC),  // data: assembled all the same
		c.seg(dissect.S2C, "PA", verS),
		c.seg(dissect.C2S, "R", ""),    // the end
		c.seg(dissect.S2C, "PA", cvrS), // late
	}
	c.seq[dissect.S2C]--
	sink, st := runPackets(t, layers.LinkTypeEthernet, Options{}, p)
	if len(sink.streams) != 1 {
		t.Fatalf("got %d streams", len(sink.streams))
	}
	checkStream(t, sink.streams[0], want{c2s: verC, s2c: verS, syn: true, closed: true})
	got := [4]int64{st.Stray, st.Rejected, st.StateAnomalies, st.Late}
	if want := [4]int64{1, 1, 2, 1}; got != want {
		t.Errorf("Stray, Rejected, StateAnomalies, Late = %v, want %v", got, want)
	}
}

// TestPageLimit checks that a connection holding too much out-of-order data
// gives up its hole at once, reported as a Gap.
func TestPageLimit(t *testing.T) {
	c := newConv(t, client, server, 1000, 5000)
	p := c.handshake()
	p = append(p, c.seg(dissect.C2S, "PA", verC))
	c.skip(dissect.C2S, 100)
	var want string
	for i := range 10 {
		line := fmt.Sprintf("MSG %d N 10\r\n0123456789", i)
		want += line
		p = append(p, c.seg(dissect.C2S, "PA", line))
	}
	sink := &recSink{}
	e := NewEngine(sink, Options{MaxBufferedPagesPerConn: 4})
	for i, q := range p {
		e.Packet(q.data, captureInfo(q), layers.LinkTypeEthernet, "f", int64(i+1))
	}
	s := sink.streams[0]
	if got := string(s.data[dissect.C2S]); got[:len(verC)+9] != verC+"<gap 100>" {
		t.Errorf("before Finish c2s = %q, want the gap delivered", got)
	}
	e.Finish(c.ts)
	if got := string(s.data[dissect.C2S]); got != verC+"<gap 100>"+want {
		t.Errorf("c2s = %q, want %q", got, verC+"<gap 100>"+want)
	}
}

// TestFragmentExpiry checks that an incomplete datagram is dropped after
// fragmentTimeout and counted.
func TestFragmentExpiry(t *testing.T) {
	c := newConv(t, client, server, 1000, 5000)
	c.link = layers.LinkTypeRaw
	whole := c.seg(dissect.C2S, "PA", cvrC)
	first := append([]byte(nil), whole.data[:20+48]...)
	first[2], first[3] = 0, 68
	first[6] = 0x20 // more fragments
	e := NewEngine(&recSink{}, Options{})
	e.Packet(first, gopacket.CaptureInfo{Timestamp: t0, CaptureLength: len(first), Length: len(first)}, layers.LinkTypeRaw, "f", 1)
	later := c.seg(dissect.C2S, "PA", verC)
	e.Packet(later.data, gopacket.CaptureInfo{Timestamp: t0.Add(time.Minute), CaptureLength: len(later.data), Length: len(later.data)}, layers.LinkTypeRaw, "f", 2)
	later2 := c.seg(dissect.C2S, "PA", verC)
	e.Packet(later2.data, gopacket.CaptureInfo{Timestamp: t0.Add(2 * time.Minute), CaptureLength: len(later.data), Length: len(later.data)}, layers.LinkTypeRaw, "f", 3)
	if st := e.Stats(); st.FragmentsHeld != 1 || st.FragmentsDropped != 1 || len(e.frag.held) != 0 || e.frag.bytes != 0 {
		t.Errorf("held %d dropped %d, mirror %d entries %d bytes; want 1 1 0 0", st.FragmentsHeld, st.FragmentsDropped, len(e.frag.held), e.frag.bytes)
	}
	e.Finish(t0.Add(2 * time.Minute))
}
