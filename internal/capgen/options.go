package capgen

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Errors returned by this package. Each is wrapped with details; test with
// errors.Is.
var (
	// ErrOptions reports an Options field, or a writer argument, out of its
	// range.
	ErrOptions = errors.New("capgen: invalid options")
	// ErrTranscript reports a transcript that cannot be sent over TCP: a
	// bad connection index, direction or address, or a negative wait.
	ErrTranscript = errors.New("capgen: invalid transcript")
	// ErrTooManyPackets reports output that would exceed MaxPackets.
	ErrTooManyPackets = errors.New("capgen: too many packets")
	// ErrTimestamp reports a packet time that the file format cannot
	// store, or packet times that overflow.
	ErrTimestamp = errors.New("capgen: timestamp out of range")
	// ErrLink reports an unknown link type.
	ErrLink = errors.New("capgen: unknown link type")
)

const (
	// DefaultStep is the packet time between two events when Options.Step
	// is zero. One millisecond keeps events apart in a capture viewer.
	DefaultStep = time.Millisecond
	// PacketGap is the packet time between successive packets of one
	// event (handshake, segments, ACKs, FIN exchange): 10µs is visible at
	// the microsecond resolution of classic pcap.
	PacketGap = 10 * time.Microsecond
	// DefaultSegment is the largest TCP payload per segment when
	// Options.Segment is zero: the Ethernet MSS, 1500 bytes of MTU less 20
	// bytes of IPv4 header and 20 bytes of TCP header (RFC 9293 §3.7.1).
	DefaultSegment = 1460
	// MaxSegment is the largest Options.Segment: an IPv4 datagram holds at
	// most 65535 bytes, less 20 bytes of IPv4 header and 20 bytes of TCP
	// header (RFC 791). It also fits an IPv6 payload and the TCP window.
	MaxSegment = 65535 - 20 - 20
	// DefaultSnaplen is the snapshot length when Options.Snaplen is zero:
	// tcpdump's and Wireshark's default, larger than any frame built here,
	// so nothing is cut.
	DefaultSnaplen = 262144
	// MaxSnaplen is the largest snapshot length: the pcap and pcapng
	// fields are 32 bits wide, and readers such as libpcap reject values
	// that do not fit a signed int.
	MaxSnaplen = math.MaxInt32
	// MaxPackets bounds the frames one call builds, duplicates included,
	// so that memory stays bounded: a frame costs about 250 bytes beyond
	// its payload while it is built, so 1<<20 frames stay near 250 MB. A
	// transcript of 256 KiB cut into 1-byte segments, every one
	// duplicated, fits.
	MaxPackets = 1 << 20
	// AckThreshold is how many bytes a receiver lets go unacknowledged
	// before it sends a pure ACK: two full-sized segments, as a delayed-ACK
	// stack does (RFC 9293 §3.8.6.3). It keeps bytes in flight far below
	// the 65535-byte window.
	AckThreshold = 2 * DefaultSegment
	// WrapISN is the initial sequence number used by Options.WrapSeq:
	// 1000 below 2^32, so that sequence numbers wrap after 999 bytes of
	// data in each direction.
	WrapISN = math.MaxUint32 - 999
	// window is the receive window every segment advertises. There is no
	// window scale option, so it is the real window.
	window = 65535
	// ttl is the IPv4 TTL and IPv6 hop limit of every packet, the Linux
	// default.
	ttl = 64
)

// DefaultStartUnix is the time of the first event when Options.Start is
// zero, in seconds since the Unix epoch: 2024-09-14T13:52:40Z, the time of
// our first MSNP test capture. Any fixed time would do; a fixed one keeps
// the output deterministic.
const DefaultStartUnix = 1726321960

// Link is the link-layer framing of the captured packets. The zero value is
// Ethernet.
type Link uint8

const (
	// Ethernet frames have an Ethernet II header with locally
	// administered MAC addresses derived from the IP addresses (pcap link
	// type 1).
	Ethernet Link = iota
	// EthernetVLAN frames are Ethernet frames with an IEEE 802.1Q tag for
	// VLAN 100, priority 0 (pcap link type 1).
	EthernetVLAN
	// LinuxSLL frames have a Linux "cooked" SLL header as captured on the
	// client host: client packets are outgoing (type 4), server packets
	// are unicast to the host (type 0) (pcap link type 113).
	LinuxSLL
	// RawIP frames start with the IP header (pcap link type 101).
	RawIP
	// Null frames start with the BSD loopback header: the address family
	// as a 4-byte little-endian number, 2 for IPv4 and 24 for IPv6 (the
	// BSD value, which Wireshark and gopacket accept) (pcap link type 0).
	Null
	numLinks
)

// Spellings of the links, as String returns them and ParseLink accepts
// them.
var linkNames = [numLinks]string{"ethernet", "vlan", "sll", "raw", "null"}

// Pcap link-type numbers of the links (the LINKTYPE_ values of
// https://www.tcpdump.org/linktypes.html).
var linkTypes = [numLinks]uint32{1, 1, 113, 101, 0}

// String returns the link's name as the msnpgen --link flag spells it:
// "ethernet", "vlan", "sll", "raw" or "null".
func (l Link) String() string {
	if l >= numLinks {
		return fmt.Sprintf("link(%d)", uint8(l))
	}
	return linkNames[l]
}

// Type returns the pcap link-type number of the link, or ErrLink if the
// link is unknown.
func (l Link) Type() (uint32, error) {
	if l >= numLinks {
		return 0, fmt.Errorf("%w: %d", ErrLink, uint8(l))
	}
	return linkTypes[l], nil
}

// ParseLink returns the link that String spells s, or ErrLink.
func ParseLink(s string) (Link, error) {
	for l, name := range linkNames {
		if s == name {
			return Link(l), nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrLink, s)
}

// Options control how Packets turns a transcript into packets. The zero
// value gives a clean capture: handshake, whole events in segments of up
// to 1460 bytes, FIN exchange, Ethernet framing, nothing cut.
type Options struct {
	// Start is the packet time of the first event (DefaultStartUnix,
	// 2024-09-14T13:52:40Z, if zero).
	Start time.Time
	// Step is the packet time from one event to the next (DefaultStep if
	// zero); an event's Wait is added to it. Each packet an event causes is
	// PacketGap after the one before; when they run past the next event's
	// time, later events move back so that time never goes backwards.
	Step time.Duration
	// Segment is the largest TCP payload of one segment, 1 to MaxSegment
	// (DefaultSegment if zero). Longer events are cut into several
	// segments.
	Segment int
	// Reorder is the probability, 0 to 1, that a data segment is swapped
	// with the next packet of its connection when that packet is a data
	// segment in the same direction. A segment never moves across a packet
	// of the other direction (a reply or an ACK), because no capture point
	// sees a reply before its request. Swapped segments take each other's
	// packet times, so times still only go forward.
	Reorder float64
	// Duplicate is the probability, 0 to 1, that a data segment is sent a
	// second time, right after the original or up to three packets later,
	// but before its connection's FIN exchange. The duplicate carries the
	// sender's latest acknowledgment number, as a retransmission does.
	Duplicate float64
	// Seed seeds the random source (math/rand/v2 PCG) behind Reorder and
	// Duplicate. The output is a function of the transcript, the options
	// and the seed.
	Seed int64
	// ISN, when not zero, is the initial sequence number of both sides of
	// every connection. When zero, each side of each connection gets a
	// distinct fixed value derived from the connection index.
	ISN uint32
	// WrapSeq sets the ISN of both sides of every connection to WrapISN,
	// so that sequence numbers wrap past 2^32 early in each direction. It
	// cannot be combined with a non-zero ISN.
	WrapSeq bool
	// NoHandshake starts the capture after the handshake: connections
	// begin with data, with sequence numbers as if the handshake had
	// happened.
	NoHandshake bool
	// NoFIN ends the capture before the FIN exchange: connections are left
	// open.
	NoFIN bool
	// Link is the link-layer framing.
	Link Link
	// Snaplen is the snapshot length, 1 to MaxSnaplen (DefaultSnaplen if
	// zero). Longer frames are cut to it; Packet.OrigLen keeps their
	// length.
	Snaplen int
}

// normalize returns o with its defaults filled in, or an ErrOptions error.
func (o Options) normalize() (Options, error) {
	if o.Start.IsZero() {
		o.Start = time.Unix(DefaultStartUnix, 0).UTC()
	}
	switch {
	case o.Step < 0:
		return o, fmt.Errorf("%w: step %v is negative", ErrOptions, o.Step)
	case o.Step == 0:
		o.Step = DefaultStep
	}
	switch {
	case o.Segment < 0 || o.Segment > MaxSegment:
		return o, fmt.Errorf("%w: segment %d not in [1, %d]", ErrOptions, o.Segment, MaxSegment)
	case o.Segment == 0:
		o.Segment = DefaultSegment
	}
	if !(o.Reorder >= 0 && o.Reorder <= 1) {
		return o, fmt.Errorf("%w: reorder probability %v not in [0, 1]", ErrOptions, o.Reorder)
	}
	if !(o.Duplicate >= 0 && o.Duplicate <= 1) {
		return o, fmt.Errorf("%w: duplicate probability %v not in [0, 1]", ErrOptions, o.Duplicate)
	}
	if o.WrapSeq && o.ISN != 0 {
		return o, fmt.Errorf("%w: cannot set both ISN and WrapSeq", ErrOptions)
	}
	if o.Link >= numLinks {
		return o, fmt.Errorf("%w: %w: %d", ErrOptions, ErrLink, uint8(o.Link))
	}
	var err error
	if o.Snaplen, err = checkSnaplen(o.Snaplen); err != nil {
		return o, err
	}
	return o, nil
}

// checkSnaplen returns snaplen, or DefaultSnaplen for zero, or an
// ErrOptions error.
func checkSnaplen(snaplen int) (int, error) {
	switch {
	case snaplen < 0 || snaplen > MaxSnaplen:
		return 0, fmt.Errorf("%w: snaplen %d not in [1, %d]", ErrOptions, snaplen, MaxSnaplen)
	case snaplen == 0:
		return DefaultSnaplen, nil
	}
	return snaplen, nil
}
