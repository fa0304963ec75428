package reassembly

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

// MaxFilterPorts bounds the ports of a generated kernel filter. A classic
// BPF conditional jump skips at most 255 instructions, and the port tests
// take two instructions per port (source and destination) with the accept
// at their end, so the first test reaches it only for 127 ports or fewer.
const MaxFilterPorts = 127

// ErrTooManyPorts means more ports were given than a generated kernel
// filter can test (MaxFilterPorts).
var ErrTooManyPorts = errors.New("too many ports for the kernel filter")

// Fixed offsets and values the generated filters test (RFC 791, RFC 8200,
// IEEE 802.3, linux/if_packet.h).
const (
	bpfIPv4Proto       = 9      // protocol field in the IPv4 header
	bpfIPv4Frag        = 6      // flags and fragment offset in the IPv4 header
	bpfIPv6Next        = 6      // next header field in the IPv6 header
	bpfEtherType       = 12     // EtherType in the Ethernet header
	packetOutgoing     = 4      // PACKET_OUTGOING, skb->pkt_type of a sent packet
	bpfIPVersionMask   = 0xf0   // version nibble of the first IP byte
	bpfIPv4VersionByte = 0x40   // version 4 in that nibble
	bpfIPv6VersionByte = 0x60   // version 6 in that nibble
	bpfFragOffsetMask  = 0x1fff // non-zero in every IPv4 fragment but the first
)

// filterExpr returns the tcpdump filter expression that selects the same
// packets as liveFilter: "tcp and (port 1863 or port 1864)". ports must be
// non-empty.
func filterExpr(ports []uint16) string {
	ps := filterPorts(ports)
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = "port " + strconv.Itoa(int(p))
	}
	if len(parts) == 1 {
		return "tcp and " + parts[0]
	}
	return "tcp and (" + strings.Join(parts, " or ") + ")"
}

// filterPorts returns ports sorted, without repeats.
func filterPorts(ports []uint16) []uint16 {
	ps := slices.Clone(ports)
	slices.Sort(ps)
	return slices.Compact(ps)
}

// liveFilter returns the classic BPF program a packet socket runs on every
// frame of link type link: it passes IPv4 and IPv6 TCP segments with an
// endpoint on one of ports, cut to snap bytes, like libpcap's compilation of
// filterExpr(ports). As there, IPv4 fragments after the first carry no
// ports and are not passed, and IPv6 is tested for TCP in the fixed header
// only.
//
// dropOutgoing prefixes a test of the packet type that drops the copies the
// kernel hands over of packets the host sends. libpcap drops them on the
// loopback device, which passes every packet up twice: once outgoing and
// once incoming (linux_check_direction in pcap-linux.c).
//
// Ethernet frames are expected without VLAN tags: Linux strips them before
// a packet socket sees the frame.
func liveFilter(link layers.LinkType, ports []uint16, dropOutgoing bool, snap uint32) ([]bpf.Instruction, error) {
	ps := filterPorts(ports)
	switch {
	case len(ps) == 0:
		return nil, errors.New("no port to filter on")
	case len(ps) > MaxFilterPorts:
		return nil, fmt.Errorf("%w: %d, at most %d", ErrTooManyPorts, len(ps), MaxFilterPorts)
	}
	var p bpfProgram
	if dropOutgoing {
		p.emit(bpf.LoadExtension{Num: bpf.ExtType})
		p.jumpIf(bpf.JumpEqual, packetOutgoing, "reject", "")
	}
	var l uint32 // offset of the IP header
	switch link {
	case layers.LinkTypeEthernet:
		l = etherHeaderLen
		p.emit(bpf.LoadAbsolute{Off: bpfEtherType, Size: 2})
		p.jumpIf(bpf.JumpEqual, etherTypeIPv4, "ipv4", "")
		p.jumpIf(bpf.JumpEqual, etherTypeIPv6, "ipv6", "reject")
	case layers.LinkTypeRaw:
		p.emit(bpf.LoadAbsolute{Off: 0, Size: 1})
		p.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: bpfIPVersionMask})
		p.jumpIf(bpf.JumpEqual, bpfIPv4VersionByte, "ipv4", "")
		p.jumpIf(bpf.JumpEqual, bpfIPv6VersionByte, "ipv6", "reject")
	default:
		return nil, fmt.Errorf("no kernel filter for link type %s", link)
	}
	p.label("ipv6")
	p.emit(bpf.LoadAbsolute{Off: l + bpfIPv6Next, Size: 1})
	p.jumpIf(bpf.JumpEqual, ipProtocolTCP, "", "reject")
	p.emit(bpf.LoadConstant{Dst: bpf.RegX, Val: ipv6HeaderLen})
	p.jump("ports")
	p.label("ipv4")
	p.emit(bpf.LoadAbsolute{Off: l + bpfIPv4Proto, Size: 1})
	p.jumpIf(bpf.JumpEqual, ipProtocolTCP, "", "reject")
	p.emit(bpf.LoadAbsolute{Off: l + bpfIPv4Frag, Size: 2})
	p.jumpIf(bpf.JumpBitsSet, bpfFragOffsetMask, "reject", "")
	p.emit(bpf.LoadMemShift{Off: l})
	p.jump("ports")
	p.label("reject")
	p.emit(bpf.RetConstant{Val: 0})
	p.label("ports")
	for _, off := range [2]uint32{0, 2} { // source, then destination port
		p.emit(bpf.LoadIndirect{Off: l + off, Size: 2})
		for _, port := range ps {
			p.jumpIf(bpf.JumpEqual, uint32(port), "accept", "")
		}
	}
	p.emit(bpf.RetConstant{Val: 0})
	p.label("accept")
	p.emit(bpf.RetConstant{Val: snap})
	return p.resolve()
}

// bpfProgram assembles a classic BPF program with forward jumps to labels.
type bpfProgram struct {
	ins    []bpf.Instruction
	labels map[string]int
	fixups []bpfFixup
}

// bpfFixup is a jump whose targets are labels.
type bpfFixup struct {
	at              int
	onTrue, onFalse string // "" is the next instruction
}

func (p *bpfProgram) emit(i bpf.Instruction) { p.ins = append(p.ins, i) }

func (p *bpfProgram) label(name string) {
	if p.labels == nil {
		p.labels = make(map[string]int)
	}
	p.labels[name] = len(p.ins)
}

// jumpIf emits a conditional jump to label t when the condition holds and
// to f otherwise; "" falls through.
func (p *bpfProgram) jumpIf(c bpf.JumpTest, val uint32, t, f string) {
	p.fixups = append(p.fixups, bpfFixup{at: len(p.ins), onTrue: t, onFalse: f})
	p.emit(bpf.JumpIf{Cond: c, Val: val})
}

// jump emits an unconditional jump to label t.
func (p *bpfProgram) jump(t string) {
	p.fixups = append(p.fixups, bpfFixup{at: len(p.ins), onTrue: t})
	p.emit(bpf.Jump{})
}

// resolve fills in the jump offsets.
func (p *bpfProgram) resolve() ([]bpf.Instruction, error) {
	skip := func(from int, label string) (uint32, error) {
		if label == "" {
			return 0, nil
		}
		to, ok := p.labels[label]
		if !ok || to <= from {
			return 0, fmt.Errorf("bpf: bad jump to %q", label)
		}
		return uint32(to - from - 1), nil
	}
	for _, f := range p.fixups {
		t, err := skip(f.at, f.onTrue)
		if err != nil {
			return nil, err
		}
		switch j := p.ins[f.at].(type) {
		case bpf.Jump:
			j.Skip = t
			p.ins[f.at] = j
		case bpf.JumpIf:
			e, err := skip(f.at, f.onFalse)
			if err != nil {
				return nil, err
			}
			if t > 255 || e > 255 {
				return nil, fmt.Errorf("%w: a jump skips %d instructions", ErrTooManyPorts, max(t, e))
			}
			j.SkipTrue, j.SkipFalse = uint8(t), uint8(e)
			p.ins[f.at] = j
		}
	}
	return p.ins, nil
}
