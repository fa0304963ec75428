package reassembly

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/msnsniff/msnsniff/dissect"
)

// t0 is the capture start of the test packets.
var t0 = time.Date(2005, 3, 14, 12, 0, 0, 0, time.UTC)

// pkt is one captured packet of a test capture.
type pkt struct {
	ts   time.Time
	data []byte
	orig int // original length when the packet is truncated, else 0
}

// tcpSeg describes a TCP segment to build.
type tcpSeg struct {
	src, dst netip.AddrPort
	seq, ack uint32
	flags    string // letters of S, A, F, R, P
	payload  []byte
}

// conv builds the packets of one connection. Sequence numbers advance with
// the data and flags sent.
type conv struct {
	tb             testing.TB
	client, server netip.AddrPort
	link           layers.LinkType
	seq            [2]uint32 // next sequence number of C2S and S2C
	ts             time.Time
	step           time.Duration
}

func newConv(tb testing.TB, client, server string, isnC, isnS uint32) *conv {
	return &conv{
		tb:     tb,
		client: netip.MustParseAddrPort(client),
		server: netip.MustParseAddrPort(server),
		link:   layers.LinkTypeEthernet,
		seq:    [2]uint32{isnC, isnS},
		ts:     t0,
		step:   10 * time.Millisecond,
	}
}

// seg builds a segment in direction d at the current sequence number and
// advances it; the clock advances by one step.
func (c *conv) seg(d dissect.Dir, flags string, payload string) pkt {
	c.tb.Helper()
	src, dst := c.client, c.server
	if d == dissect.S2C {
		src, dst = dst, src
	}
	s := tcpSeg{src: src, dst: dst, seq: c.seq[d], ack: c.seq[d.Reverse()], flags: flags, payload: []byte(payload)}
	c.seq[d] += uint32(len(payload))
	if strings.ContainsAny(flags, "SF") {
		c.seq[d]++
	}
	p := pkt{ts: c.ts, data: frame(c.tb, c.link, s)}
	c.ts = c.ts.Add(c.step)
	return p
}

// skip advances direction d's sequence number over n bytes never sent.
func (c *conv) skip(d dissect.Dir, n int) { c.seq[d] += uint32(n) }

// handshake returns SYN, SYN-ACK and ACK.
func (c *conv) handshake() []pkt {
	return []pkt{c.seg(dissect.C2S, "S", ""), c.seg(dissect.S2C, "SA", ""), c.seg(dissect.C2S, "A", "")}
}

// close returns FIN from the client, FIN from the server and the last ACK.
func (c *conv) close() []pkt {
	return []pkt{c.seg(dissect.C2S, "FA", ""), c.seg(dissect.S2C, "FA", ""), c.seg(dissect.C2S, "A", "")}
}

// ipTCP serializes the IP and TCP layers of s, with lengths and checksums.
func ipTCP(tb testing.TB, s tcpSeg) []byte {
	tb.Helper()
	tcp := &layers.TCP{
		SrcPort: layers.TCPPort(s.src.Port()),
		DstPort: layers.TCPPort(s.dst.Port()),
		Seq:     s.seq,
		Ack:     s.ack,
		Window:  65535,
		SYN:     strings.Contains(s.flags, "S"),
		ACK:     strings.Contains(s.flags, "A"),
		FIN:     strings.Contains(s.flags, "F"),
		RST:     strings.Contains(s.flags, "R"),
		PSH:     strings.Contains(s.flags, "P") || len(s.payload) > 0,
	}
	var net gopacket.NetworkLayer
	if s.src.Addr().Is4() {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP,
			SrcIP: s.src.Addr().AsSlice(), DstIP: s.dst.Addr().AsSlice()}
		net = ip
		if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
			tb.Fatal(err)
		}
	} else {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
			SrcIP: s.src.Addr().AsSlice(), DstIP: s.dst.Addr().AsSlice()}
		net = ip
		if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
			tb.Fatal(err)
		}
	}
	return serialize(tb, net.(gopacket.SerializableLayer), tcp, gopacket.Payload(s.payload))
}

func serialize(tb testing.TB, ls ...gopacket.SerializableLayer) []byte {
	tb.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		tb.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

var (
	macClient = net.HardwareAddr{0x00, 0x0c, 0x29, 0x01, 0x02, 0x03}
	macServer = net.HardwareAddr{0x00, 0x50, 0x56, 0x0a, 0x0b, 0x0c}
)

// Link types used only by tests to ask frame for tagged Ethernet.
const (
	testLinkVLAN layers.LinkType = 1000 + iota
	testLinkQinQ
	testLinkNullBE // null header written by a big-endian host
)

// frame builds the captured frame of s for a link type.
func frame(tb testing.TB, link layers.LinkType, s tcpSeg) []byte {
	tb.Helper()
	ip := ipTCP(tb, s)
	v6 := !s.src.Addr().Is4()
	etype := layers.EthernetTypeIPv4
	if v6 {
		etype = layers.EthernetTypeIPv6
	}
	switch link {
	case layers.LinkTypeEthernet:
		eth := &layers.Ethernet{SrcMAC: macClient, DstMAC: macServer, EthernetType: etype}
		return serialize(tb, eth, gopacket.Payload(ip))
	case testLinkVLAN:
		eth := &layers.Ethernet{SrcMAC: macClient, DstMAC: macServer, EthernetType: layers.EthernetTypeDot1Q}
		tag := &layers.Dot1Q{VLANIdentifier: 42, Type: etype}
		return serialize(tb, eth, tag, gopacket.Payload(ip))
	case testLinkQinQ:
		eth := &layers.Ethernet{SrcMAC: macClient, DstMAC: macServer, EthernetType: layers.EthernetTypeQinQ}
		outer := &layers.Dot1Q{VLANIdentifier: 7, Type: layers.EthernetTypeDot1Q}
		inner := &layers.Dot1Q{VLANIdentifier: 42, Type: etype}
		return serialize(tb, eth, outer, inner, gopacket.Payload(ip))
	case layers.LinkTypeLinuxSLL:
		h := make([]byte, 16)
		binary.BigEndian.PutUint16(h[0:], 0) // to us
		binary.BigEndian.PutUint16(h[2:], 1) // ARPHRD_ETHER
		binary.BigEndian.PutUint16(h[4:], 6)
		copy(h[6:], macClient)
		binary.BigEndian.PutUint16(h[14:], uint16(etype))
		return append(h, ip...)
	case layers.LinkTypeLinuxSLL2:
		h := make([]byte, 20)
		binary.BigEndian.PutUint16(h[0:], uint16(etype))
		binary.BigEndian.PutUint32(h[4:], 2) // interface index
		binary.BigEndian.PutUint16(h[8:], 1) // ARPHRD_ETHER
		h[11] = 6
		copy(h[12:], macClient)
		return append(h, ip...)
	case layers.LinkTypeRaw, linkTypeRawBSD1, linkTypeRawBSD2, layers.LinkTypeIPv4, layers.LinkTypeIPv6:
		return ip
	case layers.LinkTypeNull:
		fam := layers.ProtocolFamilyIPv4
		if v6 {
			fam = layers.ProtocolFamilyIPv6FreeBSD
		}
		return serialize(tb, &layers.Loopback{Family: fam}, gopacket.Payload(ip))
	case testLinkNullBE:
		h := make([]byte, 4)
		binary.BigEndian.PutUint32(h, afInet)
		if v6 {
			binary.BigEndian.PutUint32(h, afInet6Apple)
		}
		return append(h, ip...)
	case layers.LinkTypeLoop:
		h := make([]byte, 4)
		binary.BigEndian.PutUint32(h, afInet)
		if v6 {
			binary.BigEndian.PutUint32(h, afInet6BSD)
		}
		return append(h, ip...)
	}
	tb.Fatalf("frame: link type %d not supported", link)
	return nil
}

// fileLink is the link type written to the file for a frame link type.
func fileLink(link layers.LinkType) layers.LinkType {
	switch link {
	case testLinkVLAN, testLinkQinQ:
		return layers.LinkTypeEthernet
	case testLinkNullBE:
		return layers.LinkTypeNull
	}
	return link
}

// writePcap writes pkts to a pcap file in dir and returns its path.
func writePcap(tb testing.TB, dir, name string, link layers.LinkType, pkts []pkt) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(65536, fileLink(link)); err != nil {
		tb.Fatal(err)
	}
	for _, p := range pkts {
		if err := w.WritePacket(captureInfo(p), p.data); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

func captureInfo(p pkt) gopacket.CaptureInfo {
	ci := gopacket.CaptureInfo{Timestamp: p.ts, CaptureLength: len(p.data), Length: len(p.data)}
	if p.orig > 0 {
		ci.Length = p.orig
	}
	return ci
}

// recSink records what an Engine reports.
type recSink struct {
	streams []*recStream
}

func (r *recSink) Open(c dissect.ConnInfo) Stream {
	s := &recStream{info: c}
	r.streams = append(r.streams, s)
	return s
}

// feedRec is one Feed call.
type feedRec struct {
	dir dissect.Dir
	t   time.Time
	b   string
}

// recStream records one connection: the bytes per direction, every call in
// order, and the End.
type recStream struct {
	info   dissect.ConnInfo
	data   [2][]byte
	feeds  []feedRec
	jumps  []feedRec // TimeJump calls, with ahead as their text
	events []string
	ends   int
	closed bool
	endT   time.Time
}

func (s *recStream) Feed(d dissect.Dir, t time.Time, b []byte) {
	s.data[d] = append(s.data[d], b...)
	s.feeds = append(s.feeds, feedRec{d, t, string(b)})
	s.events = append(s.events, fmt.Sprintf("%v %q", d, b))
	if s.ends > 0 {
		s.events = append(s.events, "FEED AFTER END")
	}
}

func (s *recStream) Gap(d dissect.Dir, t time.Time, n int) {
	s.data[d] = append(s.data[d], fmt.Sprintf("<gap %d>", n)...)
	s.events = append(s.events, fmt.Sprintf("%v gap %d", d, n))
}

func (s *recStream) End(t time.Time, closed bool) {
	s.ends++
	s.closed = closed
	s.endT = t
	s.events = append(s.events, fmt.Sprintf("end closed=%v", closed))
}

// runPackets runs pkts of one link type through a pcap file, Open and Run.
func runPackets(tb testing.TB, link layers.LinkType, opt Options, pkts []pkt) (*recSink, Stats) {
	tb.Helper()
	path := writePcap(tb, tb.TempDir(), "msnp.pcap", link, pkts)
	return runFiles(tb, opt, path)
}

// runFinish feeds Ethernet pkts straight to an Engine, ends it with
// Finish(finish) and checks the invariants.
func runFinish(tb testing.TB, pkts []pkt, finish time.Time) *recSink {
	tb.Helper()
	sink := &recSink{}
	e := NewEngine(sink, Options{})
	for i, q := range pkts {
		e.Packet(q.data, captureInfo(q), layers.LinkTypeEthernet, "f", int64(i+1))
	}
	e.Finish(finish)
	checkInvariants(tb, sink, e.Stats())
	return sink
}

// runFiles runs the files through Run and fails the test on any error.
func runFiles(tb testing.TB, opt Options, paths ...string) (*recSink, Stats) {
	tb.Helper()
	sink := &recSink{}
	e := NewEngine(sink, opt)
	var srcs []*Source
	for _, p := range paths {
		s, err := Open(p, nil)
		if err != nil {
			tb.Fatalf("Open(%q) = %v", p, err)
		}
		defer s.Close()
		srcs = append(srcs, s)
	}
	if err := Run(srcs, e); err != nil {
		tb.Fatalf("Run = %v", err)
	}
	checkInvariants(tb, sink, e.Stats())
	return sink, e.Stats()
}

// checkInvariants checks that every stream ended exactly once and that every
// packet has exactly one outcome in the stats.
func checkInvariants(tb testing.TB, sink *recSink, st Stats) {
	tb.Helper()
	for i, s := range sink.streams {
		if s.ends != 1 {
			tb.Errorf("stream %d (%v) ended %d times, want 1; events %q", i, s.info.Client, s.ends, s.events)
		}
		for _, ev := range s.events {
			if ev == "FEED AFTER END" {
				tb.Errorf("stream %d: Feed after End", i)
			}
		}
	}
	if int64(len(sink.streams)) != st.Connections {
		tb.Errorf("Stats.Connections = %d, streams opened %d", st.Connections, len(sink.streams))
	}
	sum := st.Assembled + st.OtherPort + st.NonTCP + st.NonIP + st.UnsupportedLink + st.FragmentsHeld + st.IPv6Fragments
	for _, n := range st.Decode {
		sum += n
	}
	if sum != st.Packets {
		tb.Errorf("outcomes sum to %d, Packets = %d (stats %+v)", sum, st.Packets, st)
	}
	if st.TCP != st.Assembled+st.OtherPort {
		tb.Errorf("TCP = %d, Assembled+OtherPort = %d", st.TCP, st.Assembled+st.OtherPort)
	}
}

// join concatenates packet lists.
func join(lists ...[]pkt) []pkt {
	var all []pkt
	for _, l := range lists {
		all = append(all, l...)
	}
	return all
}

func (s *recStream) TimeJump(d dissect.Dir, t time.Time, ahead time.Duration) {
	s.jumps = append(s.jumps, feedRec{d, t, ahead.String()})
	s.events = append(s.events, "timejump")
}

func (s *recStream) Evict(t time.Time) {
	s.events = append(s.events, "evict")
}
