package reassembly

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// dumpFlushInterval is the packet time after which a Dump writes out what
// it buffered, so that a capture killed without warning loses at most about
// this much of its evidence file.
const dumpFlushInterval = time.Second

// dumpBufferSize is the write buffer of a Dump: large enough that a busy
// second of MSNP traffic is written in a few system calls.
const dumpBufferSize = 256 << 10

// ErrDumpLinkType means a pcap file would have needed a second link type;
// pcapng files take any number.
var ErrDumpLinkType = errors.New("a pcap file holds one link type; write a .pcapng file instead")

// Dump writes packets to a capture file: pcapng when the name ends in
// ".pcapng" (any case), pcap with nanosecond timestamps otherwise. Its
// WritePacket method is what Options.OnPacket takes for -w. Each record
// keeps the packet's bytes, lengths and timestamp, so the file reads back
// (Open) to the same packets. A Dump is not safe for concurrent use.
type Dump struct {
	name    string
	f       *os.File
	bw      *bufio.Writer
	ng      bool
	pw      *pcapgo.Writer
	nw      *pcapgo.NgWriter
	started bool
	link    layers.LinkType         // of the header, or the pcap file
	ifaces  map[layers.LinkType]int // pcapng interface of each link type
	flushed time.Time               // packet time of the last flush
	packets int64
	err     error // sticky; wraps the first failure
}

// CreateDump creates the file name for a Dump, truncating it if it exists.
func CreateDump(name string) (*Dump, error) {
	f, err := os.Create(name)
	if err != nil {
		return nil, err
	}
	return &Dump{
		name: name,
		f:    f,
		bw:   bufio.NewWriterSize(f, dumpBufferSize),
		ng:   strings.EqualFold(filepath.Ext(name), ".pcapng"),
		link: layers.LinkTypeEthernet,
	}, nil
}

// SetLinkType sets the link type written in the file header when it is
// known before the first packet, as in a live capture; otherwise the first
// packet's is used, and Ethernet for a file without packets. It has no
// effect after the first packet.
func (d *Dump) SetLinkType(link layers.LinkType) {
	if !d.started {
		d.link = link
	}
}

// start writes the file header for link type link.
func (d *Dump) start(link layers.LinkType) error {
	d.started, d.link = true, link
	if !d.ng {
		d.pw = pcapgo.NewWriterNanos(d.bw)
		return d.pw.WriteFileHeader(LiveSnapLen, link)
	}
	opts := pcapgo.DefaultNgWriterOptions
	opts.SectionInfo.Application = "msnsniff"
	var err error
	d.nw, err = pcapgo.NewNgWriterInterface(d.bw, d.ngInterface(link), opts)
	if err != nil {
		return err
	}
	d.ifaces = map[layers.LinkType]int{link: 0}
	return nil
}

// ngInterface describes the pcapng interface of link type link.
func (d *Dump) ngInterface(link layers.LinkType) pcapgo.NgInterface {
	intf := pcapgo.DefaultNgInterface
	intf.Name = linkTypeName(link)
	intf.LinkType = link
	intf.SnapLength = LiveSnapLen
	return intf
}

// WritePacket appends one packet of link type link to the file. data is
// only read during the call. The first failure is kept, the packets after
// it are not written, and Close returns it.
func (d *Dump) WritePacket(data []byte, ci gopacket.CaptureInfo, link layers.LinkType) {
	if d.err != nil {
		return
	}
	if err := d.write(data, ci, link); err != nil {
		d.err = fmt.Errorf("writing %s: packet %d: %w", d.name, d.packets+1, err)
		return
	}
	d.packets++
	if t := ci.Timestamp; t.Sub(d.flushed) >= dumpFlushInterval || t.Before(d.flushed) {
		d.flushed = t
		if err := d.flush(); err != nil {
			d.err = fmt.Errorf("writing %s: %w", d.name, err)
		}
	}
}

// flush writes out the buffers: the NgWriter has one of its own in front of
// bw.
func (d *Dump) flush() error {
	if d.nw != nil {
		if err := d.nw.Flush(); err != nil {
			return err
		}
	}
	return d.bw.Flush()
}

func (d *Dump) write(data []byte, ci gopacket.CaptureInfo, link layers.LinkType) error {
	if !d.started {
		if err := d.start(link); err != nil {
			return err
		}
	}
	// Records hold what was captured: the lengths are made consistent
	// with data, which is what the readers check.
	ci.CaptureLength = len(data)
	if ci.Length < len(data) {
		ci.Length = len(data)
	}
	if !d.ng {
		if link != d.link {
			return fmt.Errorf("%w (%s after %s)", ErrDumpLinkType, linkTypeName(link), linkTypeName(d.link))
		}
		return d.pw.WritePacket(ci, data)
	}
	id, ok := d.ifaces[link]
	if !ok {
		var err error
		if id, err = d.nw.AddInterface(d.ngInterface(link)); err != nil {
			return err
		}
		d.ifaces[link] = id
	}
	ci.InterfaceIndex = id
	ci.AncillaryData = nil
	return d.nw.WritePacket(ci, data)
}

// Packets returns the number of packets written.
func (d *Dump) Packets() int64 { return d.packets }

// Close writes what is buffered (and the file header if no packet came)
// and closes the file. It returns the first error of the Dump.
func (d *Dump) Close() error {
	if d.err == nil && !d.started {
		if err := d.start(d.link); err != nil {
			d.err = fmt.Errorf("writing %s: %w", d.name, err)
		}
	}
	if err := d.flush(); err != nil && d.err == nil {
		d.err = fmt.Errorf("writing %s: %w", d.name, err)
	}
	if err := d.f.Close(); err != nil && d.err == nil {
		d.err = fmt.Errorf("writing %s: %w", d.name, err)
	}
	return d.err
}
