package reassembly

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// LiveSnapLen is the snapshot length of a live capture: libpcap's
// MAXIMUM_SNAPLEN, which is MaxRecordLen, so that a file written from a
// live capture reads back. Segmentation offload hands the capture merged
// frames far larger than the MTU; longer ones are cut to this length.
const LiveSnapLen = MaxRecordLen

// liveBufferSize is the kernel buffer of a live capture, which the kernel
// fills while the analysis catches up: four times libpcap's default of
// 2 MiB. The kernel packs frames into it by their length (TPACKET_V3);
// rings of frames of a fixed LiveSnapLen would hold only 32 packets.
const liveBufferSize = 8 << 20

// livePollInterval is how long a read waits for a packet before the
// capture loop looks whether it must stop: it bounds the delay between
// Ctrl-C or the end of --duration and the report when no packets come.
const livePollInterval = 100 * time.Millisecond

// Errors of OpenLive, wrapped in a *LiveError.
var (
	// ErrNoPrivilege means the capture socket could not be opened for lack
	// of privilege.
	ErrNoPrivilege = errors.New("capturing needs root or the CAP_NET_RAW capability")
	// ErrNoLibpcap means a filter expression was given to a build without
	// libpcap.
	ErrNoLibpcap = errors.New("filter expressions need msnsniff built with -tags libpcap")
	// ErrLiveUnsupported means the pure-Go capture does not work here: on
	// an operating system other than Linux, or on an interface whose link
	// type it does not decode.
	ErrLiveUnsupported = errors.New("live capture without libpcap works only on Linux Ethernet, loopback and IP tunnel interfaces; build msnsniff with -tags libpcap")
)

// errPollTimeout is what a liveHandle's read returns when no packet came
// within livePollInterval.
var errPollTimeout = errors.New("no packet within the poll interval")

// LiveError is an error opening or reading a live capture.
type LiveError struct {
	Interface string
	Err       error
}

// Error returns e.g. "eth0: capturing needs root or the CAP_NET_RAW
// capability".
func (e *LiveError) Error() string { return e.Interface + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *LiveError) Unwrap() error { return e.Err }

// LiveOptions configures OpenLive.
type LiveOptions struct {
	// Interface is the network interface to capture on.
	Interface string
	// Ports are the MSNP server ports. The kernel filter passes only TCP
	// segments with an endpoint on one of them. Default {DefaultPort}; at
	// most MaxFilterPorts.
	Ports []uint16
	// Filter, when not empty, is a tcpdump filter expression used instead
	// of the filter made from Ports. It needs libpcap (HaveLibpcap).
	Filter string
	// NoPromisc leaves the interface out of promiscuous mode.
	NoPromisc bool
}

// LiveInfo describes a live capture and counts its packets.
type LiveInfo struct {
	// Interface is the name of the interface.
	Interface string
	// LinkType is the lowercase LINKTYPE_ name of its link type, as in
	// SourceInfo: "ethernet" (Ethernet and loopback) or "raw" (IP
	// tunnels), or what libpcap reports.
	LinkType string
	// SnapLen is the snapshot length, LiveSnapLen.
	SnapLen int
	// Filter is the tcpdump expression of the kernel filter in effect.
	Filter string
	// Libpcap is true when libpcap captures, false for the pure-Go
	// AF_PACKET capture.
	Libpcap bool
	// Promiscuous is true when promiscuous mode was asked for.
	Promiscuous bool
	// Packets and Bytes count the packets read and their captured bytes.
	Packets int64
	Bytes   int64
	// KernelReceived counts the packets the kernel filter passed, read or
	// not; KernelDropped those of them the kernel dropped because the
	// capture buffer was full. Both are cumulative since OpenLive.
	KernelReceived int64
	KernelDropped  int64
}

// liveHandle is one way of capturing: AF_PACKET or libpcap.
type liveHandle interface {
	// read returns the next packet, valid until the next call, or
	// errPollTimeout when none came within livePollInterval.
	read() ([]byte, gopacket.CaptureInfo, error)
	// kernelStats returns the kernel's counts since the handle was
	// opened.
	kernelStats() (received, dropped int64, err error)
	close()
}

// Live is a live capture on one network interface, opened by OpenLive and
// read by Capture. It is not safe for concurrent use.
type Live struct {
	h    liveHandle
	link layers.LinkType
	info LiveInfo
}

// OpenLive opens a live capture on opt.Interface, with a kernel filter
// that passes the TCP segments of opt.Ports (or opt.Filter). Without
// libpcap (HaveLibpcap false) it uses an AF_PACKET socket through
// gopacket's afpacket package, on Linux only; with libpcap it uses libpcap
// when opt.Filter is set or AF_PACKET cannot be used. Errors, but for a
// missing interface name, are *LiveError values; errors.Is tells
// ErrNoPrivilege, ErrNoLibpcap and ErrLiveUnsupported apart.
func OpenLive(opt LiveOptions) (*Live, error) {
	if opt.Interface == "" {
		return nil, errors.New("no interface to capture on")
	}
	ports := opt.Ports
	if len(ports) == 0 {
		ports = []uint16{DefaultPort}
	}
	var (
		h    liveHandle
		link layers.LinkType
		err  error
	)
	l := &Live{info: LiveInfo{Interface: opt.Interface, SnapLen: LiveSnapLen, Promiscuous: !opt.NoPromisc}}
	switch {
	case opt.Filter != "" && !HaveLibpcap:
		err = ErrNoLibpcap
	case opt.Filter != "":
		l.info.Filter, l.info.Libpcap = opt.Filter, true
		h, link, err = openLibpcap(opt.Interface, opt.Filter, !opt.NoPromisc)
	default:
		l.info.Filter = filterExpr(ports)
		h, link, err = openAFPacket(opt.Interface, ports, !opt.NoPromisc)
		if errors.Is(err, ErrLiveUnsupported) && HaveLibpcap {
			l.info.Libpcap = true
			h, link, err = openLibpcap(opt.Interface, l.info.Filter, !opt.NoPromisc)
		}
	}
	if err != nil {
		return nil, &LiveError{Interface: opt.Interface, Err: err}
	}
	l.h, l.link = h, link
	l.info.LinkType = linkTypeName(link)
	return l, nil
}

// Link returns the link type of the packets.
func (l *Live) Link() layers.LinkType { return l.link }

// Info returns the capture's description and counts, asking the kernel
// for its own. The error, a *LiveError, says the kernel counts could not be
// read; the rest of the LiveInfo is valid all the same.
func (l *Live) Info() (LiveInfo, error) {
	recv, drop, err := l.h.kernelStats()
	if err != nil {
		return l.info, &LiveError{Interface: l.info.Interface, Err: fmt.Errorf("reading kernel statistics: %w", err)}
	}
	l.info.KernelReceived, l.info.KernelDropped = recv, drop
	return l.info, nil
}

// Close ends the capture and releases the socket.
func (l *Live) Close() error {
	l.h.close()
	return nil
}

// Capture reads the packets of l and feeds them to e until ctx is done,
// count packets have been read (count > 0) or reading fails, then calls
// e.Finish, which delivers what the assembler still holds and ends every
// open Stream (closed=false) at the latest packet time. When ctx stops it,
// the packets the kernel had already taken are read first, so that a stop
// loses none of the traffic before it. It returns nil when ctx or count
// stopped it, and a *LiveError when reading failed.
//
// Packets are given to e with the interface name as the file name and
// their 1-based number, cut to the snapshot length. All times are the
// kernel's capture timestamps, and the Engine's flushes and idle timeouts
// run on them: a connection that falls silent is ended once a later packet
// of any MSNP connection comes IdleTimeout (or HalfCloseTimeout) after its
// last one, not while the whole interface is silent; the stop ends it in
// any case.
func Capture(ctx context.Context, l *Live, e *Engine, count int64) error {
	defer e.Finish(time.Time{})
	done := ctx.Done()
	for count <= 0 || l.info.Packets < count {
		select {
		case <-done:
			return l.drain(e, count)
		default:
		}
		if err := l.next(e); err != nil && err != errPollTimeout {
			return err
		}
	}
	return nil
}

// next reads one packet and feeds it to e. It returns errPollTimeout when
// none came, or a *LiveError.
func (l *Live) next(e *Engine) error {
	data, ci, err := l.h.read()
	if err == errPollTimeout {
		return err
	}
	if err != nil {
		return &LiveError{Interface: l.info.Interface, Err: fmt.Errorf("reading packets: %w", err)}
	}
	if len(data) > l.info.SnapLen {
		data = data[:l.info.SnapLen]
	}
	ci.CaptureLength = len(data)
	if ci.Length < ci.CaptureLength {
		ci.Length = ci.CaptureLength
	}
	l.info.Packets++
	l.info.Bytes += int64(len(data))
	e.Packet(data, ci, l.link, l.info.Interface, l.info.Packets)
	return nil
}

// drain reads the packets that the kernel counts as taken but that were
// neither read nor dropped, up to count, and stops early when a read waits
// in vain (libpcap counts some packets it drops itself). Packets that come
// meanwhile are not counted, so it ends.
func (l *Live) drain(e *Engine, count int64) error {
	recv, drop, err := l.h.kernelStats()
	if err != nil {
		// Info reports the failure; the packets stay unread.
		return nil
	}
	for n := recv - drop - l.info.Packets; n > 0 && (count <= 0 || l.info.Packets < count); n-- {
		if err := l.next(e); err == errPollTimeout {
			return nil
		} else if err != nil {
			return err
		}
	}
	return nil
}

// Interface is a network interface, as -D lists them.
type Interface struct {
	Index int
	Name  string
	Flags net.Flags
	// LinkType is the lowercase LINKTYPE_ name of the packets a live
	// capture without libpcap reads on it, "" when it cannot capture
	// there.
	LinkType string
}

// Interfaces returns the system's network interfaces in index order.
func Interfaces() ([]Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	out := make([]Interface, 0, len(ifs))
	for _, i := range ifs {
		x := Interface{Index: i.Index, Name: i.Name, Flags: i.Flags}
		if link, err := interfaceLinkType(&i); err == nil {
			x.LinkType = linkTypeName(link)
		}
		out = append(out, x)
	}
	return out, nil
}
