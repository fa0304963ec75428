package gpref

import (
	"encoding/binary"

	"github.com/gopacket/gopacket/layers"
)

// EtherTypes and PPP protocol numbers the decoder follows (IEEE 802.3,
// IEEE 802.1Q, RFC 2516, RFC 1332, RFC 5072).
const (
	etherTypeIPv4      = 0x0800
	etherTypeIPv6      = 0x86dd
	etherTypeVLAN      = 0x8100 // IEEE 802.1Q customer tag
	etherTypeQinQ      = 0x88a8 // IEEE 802.1ad service tag
	etherTypeQinQOld   = 0x9100 // pre-standard QinQ tag
	etherTypePPPoE     = 0x8864 // PPPoE session stage
	pppProtocolIPv4    = 0x0021
	pppProtocolIPv6    = 0x0057
	etherHeaderLen     = 14
	vlanTagLen         = 4
	pppoeHeaderLen     = 8 // PPPoE header (6) and PPP protocol (2)
	sllHeaderLen       = 16
	sll2HeaderLen      = 20
	loopbackHeaderLen  = 4
	ipv4MinHeaderLen   = 20
	ipv6HeaderLen      = 40
	tcpMinHeaderLen    = 20
	ipProtocolTCP      = 6
	ipv6ExtFragment    = 44
	ipv6ExtAH          = 51
	ipv6FragmentLen    = 8
	ipv4FlagMoreFrags  = 0x2000
	ipv4FragOffsetMask = 0x1fff
)

// maxVLANTags bounds the 802.1Q/802.1ad tags followed in one frame. QinQ
// uses two; four leaves room for unusual provider setups while a frame made
// of tags alone stops early.
const maxVLANTags = 4

// maxIPv6ExtHeaders bounds the IPv6 extension headers followed before TCP.
// RFC 8200 section 4.1 orders at most eight kinds, each once (destination
// options twice).
const maxIPv6ExtHeaders = 8

// Link types that carry raw IP without a link header. LINKTYPE_RAW is 101 in
// files, but DLT_RAW is 12 or 14 on some BSDs and pcap writers copy it.
const (
	linkTypeRawBSD1 layers.LinkType = 12
	linkTypeRawBSD2 layers.LinkType = 14
)

// Address families in null/loopback headers. AF_INET is 2 everywhere;
// AF_INET6 is 10 on Linux, 24 on NetBSD/OpenBSD, 28 on FreeBSD and 30 on
// macOS (the tcpdump "null" dissector lists the same values).
const (
	afInet       = 2
	afInet6Linux = 10
	afInet6BSD   = 24
	afInet6FBSD  = 28
	afInet6Apple = 30
)

// ipPacket is one decoded IP packet: views into the captured bytes (or into
// a defragmented datagram), valid until the next packet.
type ipPacket struct {
	v6       bool
	src, dst []byte
	tcp      []byte // the TCP segment, when proto is TCP
	trunc    bool   // the IP length promises more bytes than were captured
}

// linkPayload strips the link layer of data and returns the IP packet and
// its version (4 or 6). It counts the packet and returns ok=false when it is
// not IP or cannot be decoded.
func (e *Engine) linkPayload(data []byte, link layers.LinkType) (ip []byte, version int, ok bool) {
	switch link {
	case layers.LinkTypeEthernet:
		if len(data) < etherHeaderLen {
			return e.fail(DecodeLink)
		}
		return e.etherPayload(data, etherHeaderLen, binary.BigEndian.Uint16(data[12:14]))
	case layers.LinkTypeLinuxSLL:
		if len(data) < sllHeaderLen {
			return e.fail(DecodeLink)
		}
		return e.etherPayload(data, sllHeaderLen, binary.BigEndian.Uint16(data[14:16]))
	case layers.LinkTypeLinuxSLL2:
		if len(data) < sll2HeaderLen {
			return e.fail(DecodeLink)
		}
		return e.etherPayload(data, sll2HeaderLen, binary.BigEndian.Uint16(data[0:2]))
	case layers.LinkTypeRaw, linkTypeRawBSD1, linkTypeRawBSD2, layers.LinkTypeIPv4, layers.LinkTypeIPv6:
		return e.rawPayload(data)
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		if len(data) < loopbackHeaderLen {
			return e.fail(DecodeLink)
		}
		var af uint32
		if link == layers.LinkTypeLoop {
			af = binary.BigEndian.Uint32(data)
		} else {
			// Null headers are in the byte order of the capturing host.
			af = binary.LittleEndian.Uint32(data)
			if af > 0xffff {
				af = binary.BigEndian.Uint32(data)
			}
		}
		switch af {
		case afInet:
			return data[loopbackHeaderLen:], 4, true
		case afInet6Linux, afInet6BSD, afInet6FBSD, afInet6Apple:
			return data[loopbackHeaderLen:], 6, true
		}
		e.stats.NonIP++
		return nil, 0, false
	}
	e.stats.UnsupportedLink++
	return nil, 0, false
}

// etherPayload follows VLAN tags and PPPoE from offset off, where etype is the
// EtherType just read, to the IP packet.
func (e *Engine) etherPayload(data []byte, off int, etype uint16) ([]byte, int, bool) {
	for tags := 0; ; tags++ {
		switch etype {
		case etherTypeIPv4:
			return data[off:], 4, true
		case etherTypeIPv6:
			return data[off:], 6, true
		case etherTypeVLAN, etherTypeQinQ, etherTypeQinQOld:
			if tags == maxVLANTags || len(data) < off+vlanTagLen {
				return e.fail(DecodeLink)
			}
			etype = binary.BigEndian.Uint16(data[off+2:])
			off += vlanTagLen
		case etherTypePPPoE:
			if len(data) < off+pppoeHeaderLen {
				return e.fail(DecodeLink)
			}
			switch binary.BigEndian.Uint16(data[off+6:]) {
			case pppProtocolIPv4:
				return data[off+pppoeHeaderLen:], 4, true
			case pppProtocolIPv6:
				return data[off+pppoeHeaderLen:], 6, true
			}
			e.stats.NonIP++
			return nil, 0, false
		default:
			e.stats.NonIP++
			return nil, 0, false
		}
	}
}

// rawPayload takes the IP version of a packet without link header from its
// first nibble.
func (e *Engine) rawPayload(data []byte) ([]byte, int, bool) {
	if len(data) == 0 {
		return e.fail(DecodeIPVersion)
	}
	switch data[0] >> 4 {
	case 4:
		return data, 4, true
	case 6:
		return data, 6, true
	}
	return e.fail(DecodeIPVersion)
}

// fail counts a packet that could not be decoded.
func (e *Engine) fail(k DecodeKind) ([]byte, int, bool) {
	e.stats.Decode[k]++
	return nil, 0, false
}

// decodeIPv4 decodes the IPv4 packet b into p. It returns ok=false when the
// packet was counted and is done with: not TCP, malformed, or a fragment
// held for reassembly. A fragment that completes a datagram comes back as
// the datagram.
func (e *Engine) decodeIPv4(b []byte, p *ipPacket) bool {
	if len(b) < ipv4MinHeaderLen || b[0]>>4 != 4 {
		e.stats.Decode[DecodeIPv4]++
		return false
	}
	hlen := int(b[0]&0x0f) * 4
	if hlen < ipv4MinHeaderLen || hlen > len(b) {
		e.stats.Decode[DecodeIPv4]++
		return false
	}
	// A total length of 0 is what segmentation offload leaves in captures
	// taken on the sender: the datagram is whatever was captured.
	if total := int(binary.BigEndian.Uint16(b[2:4])); total != 0 {
		switch {
		case total < hlen:
			e.stats.Decode[DecodeIPv4]++
			return false
		case total > len(b):
			p.trunc = true
		default:
			b = b[:total] // drop Ethernet padding
		}
	}
	p.v6 = false
	p.src, p.dst = b[12:16], b[16:20]
	if frag := binary.BigEndian.Uint16(b[6:8]); frag&(ipv4FlagMoreFrags|ipv4FragOffsetMask) != 0 {
		return e.defragment(b, hlen, p)
	}
	if b[9] != ipProtocolTCP {
		e.stats.NonTCP++
		return false
	}
	p.tcp = b[hlen:]
	return true
}

// decodeIPv6 decodes the IPv6 packet b into p, following extension headers
// to TCP. It returns ok=false when the packet was counted and is done with.
func (e *Engine) decodeIPv6(b []byte, p *ipPacket) bool {
	if len(b) < ipv6HeaderLen || b[0]>>4 != 6 {
		e.stats.Decode[DecodeIPv6]++
		return false
	}
	// A payload length of 0 is a jumbogram or segmentation offload: the
	// packet is whatever was captured.
	if plen := int(binary.BigEndian.Uint16(b[4:6])); plen != 0 {
		if ipv6HeaderLen+plen > len(b) {
			p.trunc = true
		} else {
			b = b[:ipv6HeaderLen+plen]
		}
	}
	p.v6 = true
	p.src, p.dst = b[8:24], b[24:40]
	next, off := b[6], ipv6HeaderLen
	for range maxIPv6ExtHeaders + 1 {
		var n int
		switch next {
		case ipProtocolTCP:
			p.tcp = b[off:]
			return true
		case 0, 43, 60, 135, 139, 140: // hop-by-hop, routing, destination, mobility, HIP, shim6
			if len(b) < off+2 {
				e.stats.Decode[DecodeIPv6]++
				return false
			}
			n = (int(b[off+1]) + 1) * 8
		case ipv6ExtAH:
			if len(b) < off+2 {
				e.stats.Decode[DecodeIPv6]++
				return false
			}
			n = (int(b[off+1]) + 2) * 4
		case ipv6ExtFragment:
			if len(b) < off+ipv6FragmentLen {
				e.stats.Decode[DecodeIPv6]++
				return false
			}
			// An atomic fragment (offset 0, no more fragments, RFC 6946)
			// is a whole packet.
			if binary.BigEndian.Uint16(b[off+2:])&0xfff9 != 0 {
				e.stats.IPv6Fragments++
				return false
			}
			n = ipv6FragmentLen
		default:
			e.stats.NonTCP++
			return false
		}
		if len(b) < off+n {
			e.stats.Decode[DecodeIPv6]++
			return false
		}
		next, off = b[off], off+n
	}
	e.stats.Decode[DecodeIPv6]++
	return false
}
