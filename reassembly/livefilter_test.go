package reassembly

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

func TestFilterExpr(t *testing.T) {
	tests := []struct {
		name  string
		ports []uint16
		want  string
	}{
		{"default", []uint16{1863}, "tcp and port 1863"},
		{"two", []uint16{1864, 1863}, "tcp and (port 1863 or port 1864)"},
		{"repeated", []uint16{1863, 7001, 1863}, "tcp and (port 1863 or port 7001)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := filterExpr(tt.ports); got != tt.want {
				t.Errorf("filterExpr(%v) = %q, want %q", tt.ports, got, tt.want)
			}
		})
	}
}

// filterFrame is a frame for the filter tests.
type filterFrame struct {
	name string
	data []byte
	want bool // the filter passes it
}

// filterFrames returns frames of link type link (Ethernet or raw IP) that
// "tcp and (port 1863 or port 7001)" passes or not.
func filterFrames(tb testing.TB, link layers.LinkType) []filterFrame {
	tb.Helper()
	seg := func(src, dst string) tcpSeg {
		return tcpSeg{src: netip.MustParseAddrPort(src), dst: netip.MustParseAddrPort(dst), seq: 1, ack: 1, flags: "A", payload: []byte("VER 1 MSNP8 CVR0\r\n")}
	}
	f := func(s tcpSeg) []byte { return frame(tb, link, s) }
	ipOff := 0
	if link == layers.LinkTypeEthernet {
		ipOff = etherHeaderLen
	}
	// withIP returns a copy of b with its IPv4 header changed by edit
	// (checksums are not tested by the filter).
	withIP := func(b []byte, edit func(ip []byte)) []byte {
		b = append([]byte(nil), b...)
		edit(b[ipOff:])
		return b
	}
	c2s := f(seg("192.168.0.2:50000", "10.0.0.1:1863"))
	fs := []filterFrame{
		{"ipv4 to the port", c2s, true},
		{"ipv4 from the port", f(seg("10.0.0.1:1863", "192.168.0.2:50000")), true},
		{"ipv4 to the second port", f(seg("192.168.0.2:50000", "10.0.0.1:7001")), true},
		{"ipv4 from the second port", f(seg("10.0.0.1:7001", "192.168.0.2:50000")), true},
		{"ipv6 to the port", f(seg("[2001:db8::2]:50000", "[2001:db8::1]:1863")), true},
		{"ipv6 from the port", f(seg("[2001:db8::1]:1863", "[2001:db8::2]:50000")), true},
		{"ipv4 other ports", f(seg("192.168.0.2:50000", "10.0.0.1:443")), false},
		{"ipv4 neighbouring port", f(seg("192.168.0.2:1862", "10.0.0.1:1864")), false},
		{"ipv6 other ports", f(seg("[2001:db8::2]:50000", "[2001:db8::1]:80")), false},
		{"ipv4 udp to the port", withIP(c2s, func(ip []byte) { ip[bpfIPv4Proto] = byte(layers.IPProtocolUDP) }), false},
		{"ipv4 first fragment", withIP(c2s, func(ip []byte) { binary.BigEndian.PutUint16(ip[bpfIPv4Frag:], ipv4FlagMoreFrags) }), true},
		{"ipv4 later fragment", withIP(c2s, func(ip []byte) { binary.BigEndian.PutUint16(ip[bpfIPv4Frag:], 185) }), false},
		{"ipv4 with options", ipv4WithOptions(tb, c2s, ipOff), true},
		{"ipv6 hop-by-hop header", ipv6HopByHop(tb, f(seg("[2001:db8::2]:50000", "[2001:db8::1]:1863")), ipOff), false},
		{"ipv4 cut before the ports", c2s[:ipOff+ipv4MinHeaderLen+1], false},
		{"empty", nil, false},
	}
	if link == layers.LinkTypeEthernet {
		arp := append([]byte(nil), c2s...)
		binary.BigEndian.PutUint16(arp[bpfEtherType:], uint16(layers.EthernetTypeARP))
		fs = append(fs,
			filterFrame{"arp", arp, false},
			filterFrame{"vlan tagged", frame(tb, testLinkVLAN, seg("192.168.0.2:50000", "10.0.0.1:1863")), false},
		)
	} else {
		fs = append(fs, filterFrame{"ip version 5", withIP(c2s, func(ip []byte) { ip[0] = 0x55 }), false})
	}
	return fs
}

// ipv4WithOptions returns the IPv4 frame b with 4 bytes of options (NOPs
// and an end of list) inserted after the 20-byte header.
func ipv4WithOptions(tb testing.TB, b []byte, ipOff int) []byte {
	tb.Helper()
	out := append([]byte(nil), b[:ipOff+ipv4MinHeaderLen]...)
	out = append(out, 1, 1, 1, 0)
	out = append(out, b[ipOff+ipv4MinHeaderLen:]...)
	ip := out[ipOff:]
	ip[0] = 0x46
	binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
	return out
}

// ipv6HopByHop returns the IPv6 frame b with an empty hop-by-hop options
// header in front of its TCP segment.
func ipv6HopByHop(tb testing.TB, b []byte, ipOff int) []byte {
	tb.Helper()
	out := append([]byte(nil), b[:ipOff+ipv6HeaderLen]...)
	out = append(out, ipProtocolTCP, 0, 1, 4, 0, 0, 0, 0) // PadN of 4
	out = append(out, b[ipOff+ipv6HeaderLen:]...)
	ip := out[ipOff:]
	ip[bpfIPv6Next] = 0
	binary.BigEndian.PutUint16(ip[4:], uint16(len(ip)-ipv6HeaderLen))
	return out
}

func TestLiveFilter(t *testing.T) {
	for _, link := range []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeRaw} {
		prog, err := liveFilter(link, []uint16{7001, 1863}, false, LiveSnapLen)
		if err != nil {
			t.Fatal(err)
		}
		vm, err := bpf.NewVM(prog)
		if err != nil {
			t.Fatalf("%s: %v", link, err)
		}
		for _, f := range filterFrames(t, link) {
			t.Run(link.String()+"/"+f.name, func(t *testing.T) {
				n, err := vm.Run(f.data)
				if err != nil {
					t.Fatal(err)
				}
				want := 0
				if f.want {
					want = LiveSnapLen
				}
				if n != want {
					t.Errorf("filter(%s) = %d, want %d", f.name, n, want)
				}
			})
		}
	}
}

// TestLiveFilterDropOutgoing checks the loopback prefix: the packet type
// test in front of the same program, jumping to a reject.
func TestLiveFilterDropOutgoing(t *testing.T) {
	plain, err := liveFilter(layers.LinkTypeEthernet, []uint16{1863}, false, LiveSnapLen)
	if err != nil {
		t.Fatal(err)
	}
	lo, err := liveFilter(layers.LinkTypeEthernet, []uint16{1863}, true, LiveSnapLen)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(plain, lo[2:]); diff != "" {
		t.Errorf("program after the prefix differs (-plain +loopback):\n%s", diff)
	}
	if lo[0] != (bpf.LoadExtension{Num: bpf.ExtType}) {
		t.Errorf("prefix starts with %v, want ld pkttype", lo[0])
	}
	j, ok := lo[1].(bpf.JumpIf)
	if !ok || j.Cond != bpf.JumpEqual || j.Val != packetOutgoing || j.SkipFalse != 0 {
		t.Fatalf("prefix tests with %v, want jeq #%d", lo[1], packetOutgoing)
	}
	if r := lo[2+int(j.SkipTrue)]; r != (bpf.RetConstant{Val: 0}) {
		t.Errorf("outgoing packets jump to %v, want ret #0", r)
	}
	if _, err := bpf.Assemble(lo); err != nil {
		t.Errorf("Assemble: %v", err)
	}
}

func TestLiveFilterPortLimit(t *testing.T) {
	ports := make([]uint16, MaxFilterPorts+1)
	for i := range ports {
		ports[i] = uint16(2000 + i)
	}
	if _, err := liveFilter(layers.LinkTypeEthernet, ports, true, LiveSnapLen); !errors.Is(err, ErrTooManyPorts) {
		t.Errorf("liveFilter(%d ports) error = %v, want ErrTooManyPorts", len(ports), err)
	}
	prog, err := liveFilter(layers.LinkTypeEthernet, ports[:MaxFilterPorts], true, LiveSnapLen)
	if err != nil {
		t.Fatalf("liveFilter(%d ports): %v", MaxFilterPorts, err)
	}
	if _, err := bpf.Assemble(prog); err != nil {
		t.Fatal(err)
	}
	// The VM cannot run the packet type test: check the rest.
	vm, err := bpf.NewVM(prog[2:])
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []uint16{ports[0], ports[MaxFilterPorts-1]} {
		for _, s := range []tcpSeg{
			{src: netip.MustParseAddrPort("10.0.0.2:50000"), dst: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), p), flags: "S"},
			{src: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), p), dst: netip.MustParseAddrPort("10.0.0.2:50000"), flags: "SA"},
		} {
			if n, err := vm.Run(frame(t, layers.LinkTypeEthernet, s)); err != nil || n != LiveSnapLen {
				t.Errorf("port %d, %v -> %v: filter = %d, %v; want %d", p, s.src, s.dst, n, err, LiveSnapLen)
			}
		}
	}
	if _, err := liveFilter(layers.LinkTypeLinuxSLL, []uint16{1863}, false, LiveSnapLen); err == nil {
		t.Error("liveFilter(linux_sll) succeeded, want an error")
	}
}

// TestFilterPassesEngineTraffic checks that the filter passes every packet
// the Engine hands to OnPacket for the same ports.
func TestFilterPassesEngineTraffic(t *testing.T) {
	prog, err := liveFilter(layers.LinkTypeEthernet, []uint16{1863}, false, LiveSnapLen)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	c := newConv(t, "192.168.0.2:50000", "10.0.0.1:1863", 1000, 5000)
	pkts := join(c.handshake(), []pkt{c.seg(0, "A", "VER 1 MSNP8 CVR0\r\n"), c.seg(1, "A", "VER 1 MSNP8\r\n")}, c.close())
	var passed int
	e := NewEngine(&recSink{}, Options{OnPacket: func(data []byte, ci gopacket.CaptureInfo, link layers.LinkType) {
		passed++
		if n, err := vm.Run(data); err != nil || n == 0 {
			t.Errorf("filter refuses a packet the Engine analyses: %d, %v", n, err)
		}
	}})
	for i, p := range pkts {
		e.Packet(p.data, captureInfo(p), layers.LinkTypeEthernet, "test", int64(i+1))
	}
	e.Finish(t0)
	if passed != len(pkts) {
		t.Errorf("OnPacket saw %d packets, want %d", passed, len(pkts))
	}
}
