package reassembly

import (
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// DefaultPort is the MSNP server port, registered with IANA as "msnp"
// (1863/tcp). Notification, dispatch and switchboard servers all listen on it.
const DefaultPort = 1863

// DefaultMaxBufferedPagesPerConn bounds the out-of-order data held for one
// connection. The assembler stores it in pages of 1900 bytes (pageBytes,
// as gopacket's did), so 256 pages hold
// about 475 KiB: more than seven full 64 KiB windows of the unscaled TCP
// stacks MSNP clients ran on, or one scaled window of that size. A
// connection that needs more has lost data for good; when the limit is hit
// the oldest hole is given up and reported as a Gap instead of waiting.
const DefaultMaxBufferedPagesPerConn = 256

// DefaultMaxBufferedPagesTotal bounds the out-of-order data held for all
// connections together: 16384 pages of 1900 bytes, about 30 MiB of payload
// (32 MiB with page headers). Past it, each connection that queues a packet
// gives up its oldest hole at once, so memory stays bounded whatever the
// capture holds.
const DefaultMaxBufferedPagesTotal = 16384

// DefaultMaxConnections is how many connections may be open at once: a
// busy MSN server had tens of thousands of users online, each with a
// notification connection and a switchboard or two, and an MSNP session
// of the dissector holds 10 to 50 KB, so 100,000 open connections are
// a few gigabytes at the very most.
const DefaultMaxConnections = 100000

// DefaultIdleTimeout is how long, in packet time, a connection may stay
// silent before it is ended with closed=false. MSNP clients ping the
// notification server about once a minute (PNG, answered by QNG with the
// number of seconds until the next one), but a switchboard connection has
// no keep-alive and a chat can rest for many minutes; switchboard servers
// dropped idle users after some minutes with BYE handle 1. Thirty minutes
// of silence means the connection is gone or the capture lost it, without
// cutting idle chats in two. Memory does not depend on it (the page limits
// and the dissector's limits bound it).
const DefaultIdleTimeout = 30 * time.Minute

// DefaultHalfCloseTimeout is how long, in packet time, a connection that
// one side closed (its FIN seen, the other's not) may stay silent before
// it is ended with closed=false, as an idle one is. The other FIN was most
// likely lost by the capture (a network that lost it would have sent it
// again within seconds), and the closing side's system lets go of such a
// connection after about a minute anyway (Linux's tcp_fin_timeout is
// 60 s; conntrack forgets FIN_WAIT after 120 s). Waiting the whole
// IdleTimeout kept each such session, with everything it holds, up to
// thirty minutes longer: in the benchmark captures, whose 0.5% of lost
// packets leave 1.5% of the connections half-closed, they were a fifth to
// a quarter of the sessions held at once, and a 2 GB run took a third
// more collections under the memory limit (207 against 154 to 161). A
// late packet is taken as after an idle end: a new connection, caught
// mid-stream.
const DefaultHalfCloseTimeout = 2 * time.Minute

// DefaultFlushInterval is the packet time between two flushes. Each flush
// walks every tracked connection, so the interval bounds that cost to one
// walk per 10 s of traffic. Memory does not depend on it (the page limits
// bound it); it only bounds how long data stuck behind a hole waits before
// it is delivered after a Gap: at most ReorderWindow + FlushInterval.
const DefaultFlushInterval = 10 * time.Second

// DefaultReorderWindow is how old, in packet time, out-of-order data must be
// before a flush gives up the hole in front of it. It covers the first
// retransmission of a segment lost before the capture point (RFC 6298 sets
// the retransmission timeout to at least 1 s) and any reordering on the
// path, which takes well under a second.
const DefaultReorderWindow = 2 * time.Second

// Options configures an Engine. The zero value selects every default; a zero
// or negative limit means "the default", never "unlimited".
type Options struct {
	// Ports are the MSNP server ports. Only TCP connections with one
	// endpoint on one of them are assembled; the endpoint on the port is the
	// server. Default {DefaultPort}.
	Ports []uint16
	// MaxBufferedPagesPerConn and MaxBufferedPagesTotal bound the
	// out-of-order data held by the assembler, in pages of 1900 bytes.
	// Defaults DefaultMaxBufferedPagesPerConn and
	// DefaultMaxBufferedPagesTotal.
	MaxBufferedPagesPerConn int
	MaxBufferedPagesTotal   int
	// MaxConnections bounds the connections open at once. When a flush
	// finds more, the least recently active are ended (closed=false) until
	// nine tenths of the limit remain, each Stream told first by Evict when
	// it implements Evicter. Default DefaultMaxConnections.
	MaxConnections int
	// IdleTimeout is the packet time after which a silent connection is
	// ended with closed=false. It also bounds how far one packet's time
	// may lie from the Engine's clock and still move it alone (see
	// Engine.Packet). Default DefaultIdleTimeout.
	IdleTimeout time.Duration
	// HalfCloseTimeout is the packet time after which a silent connection
	// whose FIN was seen one way only is ended with closed=false. Default
	// DefaultHalfCloseTimeout; never more than IdleTimeout (set it to
	// IdleTimeout for gopacket's assembler's behaviour, which ended such a
	// connection only when it went idle).
	HalfCloseTimeout time.Duration
	// FlushInterval is the packet time between flushes. Default
	// DefaultFlushInterval.
	FlushInterval time.Duration
	// NoDetect turns off the detection of MSNP on other ports: by
	// default the first packets of every TCP connection on another port
	// are held until each direction's first line is in, that line is
	// sniffed (dissect.Sniff), and a connection that starts with an MSNP
	// command line is assembled too, reported as detected by content
	// (detect.go).
	NoDetect bool
	// ReorderWindow is how long out-of-order data waits for the bytes in
	// front of it before they are reported lost. Default
	// DefaultReorderWindow.
	ReorderWindow time.Duration
	// OnPacket, when set, is called with every packet that carries a TCP
	// segment with an endpoint on one of Ports, before it is assembled:
	// the packets of the analysed connections, which -w writes
	// (Dump.WritePacket). An IPv4 datagram rebuilt from fragments is
	// passed as the fragment that completed it. data is only valid during
	// the call; OnPacket must not call the Engine.
	OnPacket func(data []byte, ci gopacket.CaptureInfo, link layers.LinkType)
}

// withDefaults returns o with every unset field set to its default. It does
// not modify o.Ports.
func (o Options) withDefaults() Options {
	if len(o.Ports) == 0 {
		o.Ports = []uint16{DefaultPort}
	}
	if o.MaxBufferedPagesPerConn <= 0 {
		o.MaxBufferedPagesPerConn = DefaultMaxBufferedPagesPerConn
	}
	if o.MaxBufferedPagesTotal <= 0 {
		o.MaxBufferedPagesTotal = DefaultMaxBufferedPagesTotal
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.HalfCloseTimeout <= 0 {
		o.HalfCloseTimeout = DefaultHalfCloseTimeout
	}
	o.HalfCloseTimeout = min(o.HalfCloseTimeout, o.IdleTimeout)
	if o.MaxConnections <= 0 {
		o.MaxConnections = DefaultMaxConnections
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.ReorderWindow <= 0 {
		o.ReorderWindow = DefaultReorderWindow
	}
	return o
}

// portSet is a bitmap of TCP ports, so the per-packet test is one load.
type portSet [65536 / 64]uint64

func (p *portSet) add(port uint16)         { p[port/64] |= 1 << (port % 64) }
func (p *portSet) has(port uint16) bool    { return p[port/64]&(1<<(port%64)) != 0 }
func (p *portSet) either(a, b uint16) bool { return p.has(a) || p.has(b) }
func (p *portSet) both(a, b uint16) bool   { return p.has(a) && p.has(b) }
