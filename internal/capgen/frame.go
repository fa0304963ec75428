package capgen

import (
	"encoding/binary"
	"hash/fnv"
	"net/netip"

	"github.com/msnsniff/msnsniff/dissect"
)

// Header sizes in bytes.
const (
	ethLen    = 14 // Ethernet II: two MACs and the EtherType
	vlanLen   = 4  // IEEE 802.1Q tag: TPID and TCI
	sllLen    = 16 // Linux cooked capture v1
	nullLen   = 4  // BSD loopback address family
	ipv4Len   = 20 // IPv4 without options (RFC 791)
	ipv6Len   = 40 // IPv6 fixed header (RFC 8200)
	tcpLen    = 20 // TCP without options (RFC 9293)
	tcpMSSLen = 4  // the MSS option that SYNs carry
)

// Numbers used in the headers.
const (
	etherTypeIPv4 = 0x0800
	etherTypeIPv6 = 0x86dd
	etherTypeVLAN = 0x8100
	vlanID        = 100
	arphrdEther   = 1  // ARPHRD_ETHER, the SLL hardware type
	sllHost       = 0  // PACKET_HOST: sent to the capturing host
	sllOutgoing   = 4  // PACKET_OUTGOING: sent by the capturing host
	afInet        = 2  // AF_INET on every BSD
	afInet6BSD    = 24 // AF_INET6 on NetBSD and OpenBSD
	protoTCP      = 6
	ipv4DF        = 0x4000 // the Don't Fragment flag
	tcpOptMSS     = 2      // TCP option kind "maximum segment size"
)

// linkLen returns the length of the link-layer header.
func linkLen(link Link) int {
	switch link {
	case Ethernet:
		return ethLen
	case EthernetVLAN:
		return ethLen + vlanLen
	case LinuxSLL:
		return sllLen
	case Null:
		return nullLen
	}
	return 0
}

// tcpHeaderLen returns the TCP header length of s.
func tcpHeaderLen(s *seg) int {
	if s.flags&flagSYN != 0 {
		return tcpLen + tcpMSSLen
	}
	return tcpLen
}

// frameLen returns the length of the frame that appendFrame builds for s.
func frameLen(link Link, v6 bool, s *seg) int {
	n := linkLen(link) + tcpHeaderLen(s) + len(s.payload)
	if v6 {
		return n + ipv6Len
	}
	return n + ipv4Len
}

// appendFrame appends the frame of segment s of connection c to b: link
// header, IP header with id ipid (IPv4 only), TCP header (with an MSS
// option of mss on SYNs) and payload, with correct checksums.
func appendFrame(b []byte, link Link, c *conn, s *seg, ipid, mss uint16) []byte {
	src, dst := c.ep[s.dir], c.ep[s.dir.Reverse()]
	etherType := uint16(etherTypeIPv4)
	if c.v6 {
		etherType = etherTypeIPv6
	}
	be := binary.BigEndian
	switch link {
	case Ethernet, EthernetVLAN:
		b = append(b, c.mac[s.dir.Reverse()][:]...)
		b = append(b, c.mac[s.dir][:]...)
		if link == EthernetVLAN {
			b = be.AppendUint16(b, etherTypeVLAN)
			b = be.AppendUint16(b, vlanID) // priority 0, DEI 0
		}
		b = be.AppendUint16(b, etherType)
	case LinuxSLL:
		pktType := uint16(sllHost)
		if s.dir == dissect.C2S {
			pktType = sllOutgoing
		}
		b = be.AppendUint16(b, pktType)
		b = be.AppendUint16(b, arphrdEther)
		b = be.AppendUint16(b, 6) // address length
		b = append(b, c.mac[s.dir][:]...)
		b = append(b, 0, 0) // the address field has 8 bytes
		b = be.AppendUint16(b, etherType)
	case Null:
		af := uint32(afInet)
		if c.v6 {
			af = afInet6BSD
		}
		b = binary.LittleEndian.AppendUint32(b, af)
	}

	segLen := tcpHeaderLen(s) + len(s.payload)
	ip := len(b)
	if c.v6 {
		b = be.AppendUint32(b, 6<<28) // version, traffic class 0, flow label 0
		b = be.AppendUint16(b, uint16(segLen))
		b = append(b, protoTCP, ttl)
		b = appendAddr(b, src.Addr())
		b = appendAddr(b, dst.Addr())
	} else {
		b = append(b, 4<<4|ipv4Len/4, 0) // version, IHL, TOS
		b = be.AppendUint16(b, uint16(ipv4Len+segLen))
		b = be.AppendUint16(b, ipid)
		b = be.AppendUint16(b, ipv4DF)
		b = append(b, ttl, protoTCP, 0, 0) // checksum below
		b = appendAddr(b, src.Addr())
		b = appendAddr(b, dst.Addr())
		be.PutUint16(b[ip+10:], checksum(b[ip:], 0))
	}

	tcp := len(b)
	b = be.AppendUint16(b, src.Port())
	b = be.AppendUint16(b, dst.Port())
	b = be.AppendUint32(b, s.seq)
	b = be.AppendUint32(b, s.ack)
	b = append(b, byte(tcpHeaderLen(s)/4)<<4, s.flags)
	b = be.AppendUint16(b, window)
	b = append(b, 0, 0, 0, 0) // checksum below, urgent pointer 0
	if s.flags&flagSYN != 0 {
		b = append(b, tcpOptMSS, tcpMSSLen)
		b = be.AppendUint16(b, mss)
	}
	b = append(b, s.payload...)
	be.PutUint16(b[tcp+16:], checksum(b[tcp:], pseudoSum(src.Addr(), dst.Addr(), segLen)))
	return b
}

// appendAddr appends the 4 or 16 bytes of a.
func appendAddr(b []byte, a netip.Addr) []byte {
	if a.Is4() {
		a4 := a.As4()
		return append(b, a4[:]...)
	}
	a16 := a.As16()
	return append(b, a16[:]...)
}

// pseudoSum returns the one's complement sum of the TCP pseudo header: RFC
// 9293 §3.1 for IPv4, RFC 8200 §8.1 for IPv6.
func pseudoSum(src, dst netip.Addr, segLen int) uint64 {
	var buf [16 + 16 + 8]byte
	b := appendAddr(buf[:0], src)
	b = appendAddr(b, dst)
	if src.Is4() {
		b = append(b, 0, protoTCP)
		b = binary.BigEndian.AppendUint16(b, uint16(segLen))
	} else {
		b = binary.BigEndian.AppendUint32(b, uint32(segLen))
		b = append(b, 0, 0, 0, protoTCP)
	}
	return sum16(b, 0)
}

// sum16 adds the big-endian 16-bit words of b to sum, padding an odd last
// byte with zero (RFC 1071).
func sum16(b []byte, sum uint64) uint64 {
	for len(b) >= 2 {
		sum += uint64(b[0])<<8 | uint64(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	return sum
}

// checksum returns the Internet checksum of b plus the partial sum
// initial (RFC 1071).
func checksum(b []byte, initial uint64) uint16 {
	sum := sum16(b, initial)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// macFor returns the MAC address of the host with address a: locally
// administered (02:00:...), followed by the IPv4 address or by a 32-bit
// FNV-1a hash of the IPv6 address.
func macFor(a netip.Addr) [6]byte {
	m := [6]byte{0x02, 0x00}
	if a.Is4() {
		a4 := a.As4()
		copy(m[2:], a4[:])
		return m
	}
	h := fnv.New32a()
	a16 := a.As16()
	h.Write(a16[:])
	binary.BigEndian.PutUint32(m[2:], h.Sum32())
	return m
}
