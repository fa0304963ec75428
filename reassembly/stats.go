package reassembly

import "time"

// DecodeKind says which header of a packet could not be decoded.
type DecodeKind uint8

const (
	// DecodeLink is a link-layer header (Ethernet, VLAN tag, SLL, null,
	// PPPoE) cut short.
	DecodeLink DecodeKind = iota
	// DecodeIPVersion is a packet of a raw-IP link type whose version field
	// is neither 4 nor 6, or an empty one.
	DecodeIPVersion
	// DecodeIPv4 is an IPv4 header that is short, has a wrong version, a
	// header length below 20 bytes or a total length below the header.
	DecodeIPv4
	// DecodeIPv6 is an IPv6 header that is short or has a wrong version, or
	// an extension header chain that is cut short or longer than
	// maxIPv6ExtHeaders.
	DecodeIPv6
	// DecodeTCP is a TCP header shorter than 20 bytes or than its data
	// offset.
	DecodeTCP
	// DecodeFragment is an IPv4 fragment the defragmenter refused: too
	// small, overlapping, beyond the end of the datagram or cut short by the
	// snap length. The fragments held for its datagram are dropped too.
	DecodeFragment
	// NumDecodeKinds is the number of DecodeKind values.
	NumDecodeKinds
)

var decodeKindNames = [NumDecodeKinds]string{
	DecodeLink:      "link",
	DecodeIPVersion: "ip_version",
	DecodeIPv4:      "ipv4",
	DecodeIPv6:      "ipv6",
	DecodeTCP:       "tcp",
	DecodeFragment:  "ipv4_fragment",
}

// String returns the lowercase name of k, e.g. "ipv4" or "ip_version".
func (k DecodeKind) String() string {
	if k < NumDecodeKinds {
		return decodeKindNames[k]
	}
	return "unknown"
}

// Stats counts what an Engine did with the packets it was given. Every
// packet is counted in Packets and in exactly one outcome: Assembled,
// OtherPort, NonTCP, NonIP, UnsupportedLink, FragmentsHeld, IPv6Fragments or
// one of Decode (a packet Engine.Packet holds because its time lies far
// from the clock gets its outcome with the next packet or Finish). The
// other fields describe packets or connections further.
type Stats struct {
	// Packets and Bytes count every packet given to Engine.Packet and its
	// captured bytes.
	Packets int64
	Bytes   int64
	// First and Last are the earliest and latest packet times, zero when
	// no packet had a time.
	First, Last time.Time
	// Truncated counts packets captured shorter than they were on the wire
	// (snap length). When their TCP header survived, the missing payload
	// is reported as a Gap.
	Truncated int64
	// TimestampJumps counts packets whose time lay more than IdleTimeout
	// from the Engine's clock, alone: no later packet confirmed the jump,
	// so the clock did not follow (Engine.Packet). A jump back that later
	// packets confirmed, and the clock followed, is counted too. A capture
	// paused for long, whose later packets go on from the new time, counts
	// none.
	TimestampJumps int64

	// UnsupportedLink counts packets of a link type the Engine does not
	// decode.
	UnsupportedLink int64
	// NonIP counts link-layer frames that carry something other than IPv4
	// or IPv6 (ARP, LLC, ...).
	NonIP int64
	// NonTCP counts IP packets that carry something other than TCP.
	NonTCP int64
	// Decode counts packets whose headers could not be decoded, by the
	// header at fault.
	Decode [NumDecodeKinds]int64

	// FragmentsHeld counts IPv4 fragments taken by the defragmenter. The
	// fragment that completes a datagram is counted by what the datagram
	// is instead, and the datagram in Datagrams.
	FragmentsHeld int64
	// FragmentsDropped counts held fragments whose datagram was never
	// completed: timed out, over the memory limit, spoiled by a refused
	// fragment or left at Finish.
	FragmentsDropped int64
	// Datagrams counts IPv4 datagrams rebuilt from fragments.
	Datagrams int64
	// IPv6Fragments counts IPv6 fragments, which are not reassembled.
	IPv6Fragments int64

	// TCP counts decoded TCP segments: Assembled plus OtherPort.
	TCP int64
	// OtherPort counts TCP segments with no endpoint on an MSNP port that
	// were not detected as MSNP.
	OtherPort int64
	// Detected counts connections on other ports detected as MSNP by
	// their first command line.
	Detected int64
	// Assembled counts TCP segments given to the assembler.
	Assembled int64
	// Stray counts assembled segments without payload or SYN that belong to
	// no tracked connection (ACKs, FINs and RSTs of connections that ended
	// or started before the capture).
	Stray int64
	// Late counts assembled segments of connections that had already ended
	// (final ACKs, retransmissions, data after a RST).
	Late int64
	// Rejected counts segments without payload refused by the TCP state
	// check (for example the ACK after a SYN whose SYN-ACK was not
	// captured).
	Rejected int64
	// StateAnomalies counts segments with payload that broke the TCP state
	// check; their data is assembled all the same.
	StateAnomalies int64

	// Connections counts the Streams opened.
	Connections int64
	// Superseded counts connections ended because a new SYN used their
	// 4-tuple before they were seen to close.
	Superseded int64
	// Evicted counts connections ended early to keep within
	// Options.MaxConnections.
	Evicted int64
	// Gaps and GapBytes count the Gap calls and the bytes they reported.
	Gaps     int64
	GapBytes int64
	// UnknownGaps counts Gap calls whose size the assembler could not tell
	// (n=0).
	UnknownGaps int64
}

// Anomalies returns the anomalies of the capture as a whole that
// occurred, by name: "timestamp_jump" (TimestampJumps). Counts of 0 are
// left out, as a report leaves out the kinds of anomaly no session had.
// The slice is the caller's.
func (s Stats) Anomalies() []Count {
	var c []Count
	if s.TimestampJumps > 0 {
		c = append(c, Count{"timestamp_jump", s.TimestampJumps})
	}
	return c
}

// Count is a named count.
type Count struct {
	Name  string
	Count int64
}

// Skipped returns the packets that were not analysed, by reason, every
// reason listed in a fixed order whether 0 or not: "unsupported_link",
// "non_ip", "non_tcp", "other_port", "ipv6_fragment",
// "ipv4_fragment_incomplete" and "decode_" followed by each DecodeKind. The
// slice is the caller's.
func (s Stats) Skipped() []Count {
	c := make([]Count, 0, 6+NumDecodeKinds)
	c = append(c,
		Count{"unsupported_link", s.UnsupportedLink},
		Count{"non_ip", s.NonIP},
		Count{"non_tcp", s.NonTCP},
		Count{"other_port", s.OtherPort},
		Count{"ipv6_fragment", s.IPv6Fragments},
		Count{"ipv4_fragment_incomplete", s.FragmentsDropped},
	)
	for k, n := range s.Decode {
		c = append(c, Count{"decode_" + DecodeKind(k).String(), n})
	}
	return c
}
