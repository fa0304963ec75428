package reassembly

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// MaxRecordLen is the longest packet record a Source reads: libpcap's
// MAXIMUM_SNAPLEN (262144 bytes), above any link MTU or offloaded segment.
// A longer record is refused with ErrRecordTooLong before its bytes are
// read, whatever snap length the file declares.
const MaxRecordLen = 262144

// maxNgOptionBytes is the room allowed for the options of a pcapng packet
// block besides its data (comments, flags, hashes, drop counts). Capture
// tools write far less; a longer block is refused as damaged.
const maxNgOptionBytes = 65536

// maxNgBlockLen is the longest pcapng block that pcapgo parses (section
// header, interface description and packet blocks): a packet block of
// MaxRecordLen bytes of data with its options. Every such block is checked
// whole in the read buffer before pcapgo reads it. Blocks that pcapgo would
// skip are skipped here, whatever their length, without being held.
const maxNgBlockLen = ngPacketFixedLen + MaxRecordLen + maxNgOptionBytes

// readBufferSize is the read buffer of a Source: 512 KiB keeps read system
// calls rare and holds any pcapng block of up to maxNgBlockLen bytes, which
// ngGate checks there before pcapgo reads it.
const readBufferSize = 512 << 10

// Magic numbers at the start of capture files: pcap in microseconds and
// nanoseconds, in both byte orders, the pcapng section header block (the
// same in both byte orders) and gzip (RFC 1952).
const (
	magicPcapMicro     = 0xa1b2c3d4
	magicPcapMicroSwap = 0xd4c3b2a1
	magicPcapNano      = 0xa1b23c4d
	magicPcapNanoSwap  = 0x4d3cb2a1
	magicPcapng        = 0x0a0d0d0a
	pcapHeaderLen      = 24
	pcapRecordLen      = 16
	gzipMagic1         = 0x1f
	gzipMagic2         = 0x8b
)

// pcapng block types and layouts (draft-ietf-opsawg-pcapng, "PCAP Next
// Generation (pcapng) Capture File Format", sections 3.1 and 4).
const (
	ngBlockSection     = magicPcapng
	ngBlockInterface   = 1
	ngBlockPacket      = 2 // obsolete packet block (appendix A)
	ngBlockSimple      = 3
	ngBlockEnhanced    = 6
	ngByteOrderMagic   = 0x1a2b3c4d // of a section header (§4.1)
	ngBlockHeaderLen   = 8          // block type and total length
	ngBlockMinLen      = 12         // type, total length, trailing total length (§3.1)
	ngSectionFixedLen  = 28         // section header without options (§4.1)
	ngSectionOptions   = 24         // offset of its options
	ngInterfaceMinLen  = 20         // interface description without options (§4.2)
	ngInterfaceOptions = 16
	ngPacketFixedLen   = 32 // enhanced (and obsolete) packet block without data and options (§4.3)
	ngPacketHeaderLen  = 28 // the same up to the packet data
	ngCapLenOffset     = 20 // of the captured length in packet and enhanced packet blocks
	ngSimpleFixedLen   = 16 // simple packet block without data (§4.4)
	ngOptionHeaderLen  = 4  // option code and length (§3.5)
)

// ErrNotCapture means a file is neither pcap nor pcapng.
var ErrNotCapture = errors.New("not a pcap or pcapng file")

// ErrRecordTooLong means a packet record claims more than MaxRecordLen bytes.
var ErrRecordTooLong = errors.New("record too long")

// ErrTimestamp means a packet time lies outside the years 0 to 9999, which
// RFC 3339 (and so the report) can write. pcap times end in 2106; a pcapng
// time of 64 bits, scaled by the interface's resolution and offset, reaches
// past them only when the file is damaged.
var ErrTimestamp = errors.New("timestamp out of range")

// The first and last seconds of the years 0 to 9999, in Unix time.
const (
	minUnixSeconds = -62167219200
	maxUnixSeconds = 253402300799
)

// FileError is an error reading a capture file. It locates the damage; the
// packets before it have been read.
type FileError struct {
	File string
	// Packet is the 1-based number of the packet being read, 0 for the
	// file header.
	Packet int64
	// Offset is the byte offset of the packet record, -1 when unknown
	// (pcapng and compressed files).
	Offset int64
	Err    error
}

// Error returns e.g. "msnp.pcap: packet 17 at byte 2412: truncated record
// header (unexpected EOF)".
func (e *FileError) Error() string {
	switch {
	case e.Packet == 0:
		return e.File + ": " + e.Err.Error()
	case e.Offset >= 0:
		return fmt.Sprintf("%s: packet %d at byte %d: %v", e.File, e.Packet, e.Offset, e.Err)
	}
	return fmt.Sprintf("%s: packet %d: %v", e.File, e.Packet, e.Err)
}

// Unwrap returns the underlying error.
func (e *FileError) Unwrap() error { return e.Err }

// Source reads the packets of one capture file, pcap or pcapng, optionally
// gzip-compressed; the format is told by the magic number. A Source is not
// safe for concurrent use, except for its Progress method.
type Source struct {
	name    string
	format  string
	closer  io.Closer
	gz      *gzip.Reader
	br      *bufio.Reader
	pcap    *pcapgo.Reader // read the file header; records are read by nextPcap
	bigEnd  bool           // pcap: the byte order of the file
	nanoMul uint32         // pcap: nanoseconds per unit of a record's fraction
	ng      *pcapgo.NgReader
	gate    *ngGate         // what ng reads from
	link    layers.LinkType // of a pcap file
	packets int64
	bytes   int64
	offset  int64 // of the next pcap record, -1 when unknown
	err     error // sticky: io.EOF or a *FileError

	// For Progress: the file's size (-1 when unknown), the bytes read
	// from it and the packets read before its latest read.
	size      int64
	consumed  atomic.Int64
	published atomic.Int64
}

// Open opens the capture file name, or reads stdin when name is "-". It reads
// the file header and returns a *FileError if it is not a capture file.
func Open(name string, stdin io.Reader) (*Source, error) {
	s := &Source{name: name, size: -1}
	var r io.Reader
	if name == "-" {
		s.name = "stdin"
		if stdin == nil {
			return nil, &FileError{File: s.name, Err: errors.New("no standard input")}
		}
		r = stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		s.closer = f
		r = f
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			s.size = fi.Size()
		}
	}
	if err := s.start(&countingReader{r: r, s: s}); err != nil {
		_ = s.Close() // the header error is the one to report
		return nil, &FileError{File: s.name, Err: err}
	}
	return s, nil
}

// countingReader is what a Source reads its file through: it counts the
// bytes for Progress, once per fill of the read buffer, not per packet.
type countingReader struct {
	r io.Reader
	s *Source
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.s.consumed.Add(int64(n))
	// The reads are made by Next, on the goroutine that counts packets.
	c.s.published.Store(c.s.packets)
	return n, err
}

// Progress returns how many bytes of the file have been read so far, the
// file's size, -1 when it is not known (stdin, a pipe), and the packets
// read up to the latest read of the file. The bytes are those of the file,
// compressed if it is; they run ahead of the packets by at most the read
// buffer (512 KiB), and the packets lag by as much. Unlike the other
// methods, Progress is safe to call from any goroutine at any time, also
// while Run reads the Source.
func (s *Source) Progress() (read, size, packets int64) {
	return s.consumed.Load(), s.size, s.published.Load()
}

// start detects the format and reads the file header.
func (s *Source) start(r io.Reader) error {
	s.br = bufio.NewReaderSize(r, readBufferSize)
	magic, err := s.peekMagic()
	if err != nil {
		return err
	}
	if magic[0] == gzipMagic1 && magic[1] == gzipMagic2 {
		if s.gz, err = gzip.NewReader(s.br); err != nil {
			return fmt.Errorf("gzip header: %w", err)
		}
		s.br = bufio.NewReaderSize(s.gz, readBufferSize)
		if magic, err = s.peekMagic(); err != nil {
			return err
		}
		s.offset = -1
	}
	switch m := binary.LittleEndian.Uint32(magic); m {
	case magicPcapng:
		s.format = "pcapng"
		s.offset = -1
		// With mixed link types pcapgo skips no interface and tells each
		// packet's type.
		s.gate = &ngGate{br: s.br}
		s.ng, err = pcapgo.NewNgReader(s.gate, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			if s.gate.err != nil && s.gate.err != io.EOF {
				err = s.gate.err
			}
			return fmt.Errorf("pcapng header: %w", truncated(err))
		}
	case magicPcapMicro, magicPcapMicroSwap, magicPcapNano, magicPcapNanoSwap:
		s.format = "pcap"
		if s.pcap, err = pcapgo.NewReader(s.br); err != nil {
			return fmt.Errorf("pcap header: %w", truncated(err))
		}
		// pcapgo accepts records up to the larger of the declared snap
		// length and MaxRecordLen; clamp the former.
		if s.pcap.Snaplen() > MaxRecordLen {
			s.pcap.SetSnaplen(MaxRecordLen)
		}
		s.link = s.pcap.LinkType()
		// The file's byte order and resolution, as pcapgo reads them
		// from the magic number.
		s.bigEnd = m == magicPcapMicroSwap || m == magicPcapNanoSwap
		s.nanoMul = 1000
		if m == magicPcapNano || m == magicPcapNanoSwap {
			s.nanoMul = 1
		}
		if s.offset == 0 {
			s.offset = pcapHeaderLen
		}
	default:
		return fmt.Errorf("%w (magic %#08x)", ErrNotCapture, m)
	}
	return nil
}

// peekMagic returns the first four bytes of the file.
func (s *Source) peekMagic() ([]byte, error) {
	magic, err := s.br.Peek(4)
	switch {
	case len(magic) == 4:
		return magic, nil
	case len(magic) == 0 && err == io.EOF:
		return nil, errors.New("empty file")
	case err == io.EOF:
		return nil, fmt.Errorf("truncated file header (%w)", io.ErrUnexpectedEOF)
	}
	return nil, err
}

// truncated turns the io.EOF pcapgo returns for a cut file header into
// io.ErrUnexpectedEOF.
func truncated(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// SourceInfo describes a Source: what was read of it so far.
type SourceInfo struct {
	// Name is the file name, or "stdin".
	Name string
	// Format is "pcap" or "pcapng".
	Format string
	// LinkType is the lowercase LINKTYPE_ name of the file's link type
	// (e.g. "ethernet", "linux_sll", "raw"), or "linktype_N" for one
	// without a name here; for a pcapng file with several, the distinct
	// ones in interface order, separated by commas.
	LinkType string
	// Packets and Bytes count the packets read and their captured bytes.
	Packets int64
	Bytes   int64
	// Complete is true once the file has been read to its clean end.
	Complete bool
}

// Info returns what was read of the file so far.
func (s *Source) Info() SourceInfo {
	var names []string
	for _, l := range s.LinkTypes() {
		if n := linkTypeName(l); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return SourceInfo{
		Name:     s.name,
		Format:   s.format,
		LinkType: strings.Join(names, ","),
		Packets:  s.packets,
		Bytes:    s.bytes,
		Complete: s.err == io.EOF,
	}
}

// linkTypeNames are the tcpdump.org LINKTYPE_ names, lowercased, of the link
// types a capture of MSNP traffic is likely to have.
var linkTypeNames = map[layers.LinkType]string{
	layers.LinkTypeNull:       "null",
	layers.LinkTypeEthernet:   "ethernet",
	layers.LinkTypePPP:        "ppp",
	layers.LinkTypeRaw:        "raw",
	linkTypeRawBSD1:           "raw",
	linkTypeRawBSD2:           "raw",
	layers.LinkTypeIEEE802_11: "ieee802_11",
	layers.LinkTypeLoop:       "loop",
	layers.LinkTypeLinuxSLL:   "linux_sll",
	layers.LinkTypeIPv4:       "ipv4",
	layers.LinkTypeIPv6:       "ipv6",
	layers.LinkTypeLinuxSLL2:  "linux_sll2",
}

// linkTypeName returns the name of a link type for SourceInfo.
func linkTypeName(l layers.LinkType) string {
	if n, ok := linkTypeNames[l]; ok {
		return n
	}
	return "linktype_" + strconv.Itoa(int(l))
}

// Name returns the file name, or "stdin".
func (s *Source) Name() string { return s.name }

// Format returns "pcap" or "pcapng".
func (s *Source) Format() string { return s.format }

// LinkTypes returns the link types of the file: one for pcap, one per
// interface read so far for pcapng. The slice is the caller's.
func (s *Source) LinkTypes() []layers.LinkType {
	if s.ng == nil {
		return []layers.LinkType{s.link}
	}
	var lt []layers.LinkType
	for i := range s.ng.NInterfaces() {
		if intf, err := s.ng.Interface(i); err == nil {
			lt = append(lt, intf.LinkType)
		}
	}
	return lt
}

// Packets returns the number of packets read so far.
func (s *Source) Packets() int64 { return s.packets }

// Bytes returns the number of captured packet bytes read so far.
func (s *Source) Bytes() int64 { return s.bytes }

// Next returns the next packet and its link type. data is owned by the
// Source and valid until the next call. At the clean end of the file Next
// returns io.EOF; on damage it returns a *FileError, and so on every later
// call.
func (s *Source) Next() (data []byte, ci gopacket.CaptureInfo, link layers.LinkType, err error) {
	if s.err != nil {
		return nil, ci, 0, s.err
	}
	if s.ng != nil {
		data, ci, link, err = s.nextNg()
	} else {
		data, ci, link, err = s.nextPcap()
	}
	if err == nil {
		// Only a pcapng time can be out of range, and pcapng offsets are
		// not known.
		if sec := ci.Timestamp.Unix(); sec < minUnixSeconds || sec > maxUnixSeconds {
			err = &FileError{File: s.name, Packet: s.packets + 1, Offset: -1,
				Err: fmt.Errorf("%w: %s, want years 0 to 9999", ErrTimestamp, ci.Timestamp.Format(time.RFC3339Nano))}
		}
	}
	if err != nil {
		s.err = err
		return nil, gopacket.CaptureInfo{}, 0, err
	}
	s.packets++
	s.bytes += int64(len(data))
	return data, ci, link, nil
}

// nextPcap reads a pcap record. It reads what pcapgo's
// ZeroCopyReadPacketData would, with the same checks and errors, but the
// record is a view of the read buffer instead of a copy: data is valid
// until the next read, as Next promises.
func (s *Source) nextPcap() ([]byte, gopacket.CaptureInfo, layers.LinkType, error) {
	var ci gopacket.CaptureInfo
	h, err := s.br.Peek(pcapRecordLen)
	if len(h) < pcapRecordLen {
		switch {
		case len(h) == 0 && err == io.EOF:
			return nil, ci, 0, io.EOF
		case err == io.EOF:
			err = fmt.Errorf("truncated record header (%w)", io.ErrUnexpectedEOF)
		case err == io.ErrUnexpectedEOF:
			err = fmt.Errorf("truncated record header (%w)", err)
		default:
			err = fmt.Errorf("reading record header: %w", err)
		}
		return nil, ci, 0, s.recordError(err)
	}
	u32 := binary.LittleEndian.Uint32
	if s.bigEnd {
		u32 = binary.BigEndian.Uint32
	}
	// pcapgo multiplies the fraction in 32 bits; so does this.
	ci.Timestamp = time.Unix(int64(u32(h[0:4])), int64(u32(h[4:8])*s.nanoMul)).UTC()
	ci.CaptureLength = int(u32(h[8:12]))
	ci.Length = int(u32(h[12:16]))
	switch n := ci.CaptureLength; {
	case n > MaxRecordLen:
		// pcapgo's limit is the larger of the snap length, clamped to
		// MaxRecordLen at start, and MaxRecordLen.
		err = fmt.Errorf("%w: %d bytes captured, limit %d", ErrRecordTooLong, n, MaxRecordLen)
	case n > ci.Length:
		err = fmt.Errorf("bad record header: capture length exceeds original packet length: %d > %d", n, ci.Length)
	}
	if err != nil {
		return nil, ci, 0, s.recordError(err)
	}
	rec, err := s.br.Peek(pcapRecordLen + ci.CaptureLength)
	if len(rec) < pcapRecordLen+ci.CaptureLength {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = fmt.Errorf("truncated packet data, %d bytes announced (%w)", ci.CaptureLength, io.ErrUnexpectedEOF)
		} else {
			err = fmt.Errorf("bad record header: %w", err)
		}
		return nil, ci, 0, s.recordError(err)
	}
	// Peek's view stays valid until the next read of s.br. Its capacity
	// is cut so that an append to data cannot write over the next record.
	if _, err := s.br.Discard(len(rec)); err != nil {
		return nil, ci, 0, s.recordError(fmt.Errorf("bad record header: %w", err))
	}
	data := rec[pcapRecordLen:len(rec):len(rec)]
	if s.offset >= 0 {
		s.offset += int64(len(rec))
	}
	return data, ci, s.link, nil
}

// recordError locates err at the pcap record being read.
func (s *Source) recordError(err error) error {
	return &FileError{File: s.name, Packet: s.packets + 1, Offset: s.offset, Err: err}
}

// nextNg reads pcapng blocks up to the next packet.
func (s *Source) nextNg() ([]byte, gopacket.CaptureInfo, layers.LinkType, error) {
	data, ci, err := s.ng.ZeroCopyReadPacketData()
	if err == nil {
		var link layers.LinkType
		if l, ok := ngLink(ci); ok {
			link = l
		} else if intf, err := s.ng.Interface(ci.InterfaceIndex); err == nil {
			link = intf.LinkType
		}
		// AncillaryData is pcapgo's and reused by the next read.
		ci.AncillaryData = nil
		return data, ci, link, nil
	}
	switch {
	case s.gate.err != nil && s.gate.err != io.EOF:
		// What the gate found is more exact than what pcapgo made of it.
		err = s.gate.err
	case err == io.EOF:
		return nil, ci, 0, io.EOF
	case err == io.ErrUnexpectedEOF:
		err = fmt.Errorf("truncated block (%w)", err)
	default:
		err = fmt.Errorf("bad block: %w", err)
	}
	return nil, ci, 0, &FileError{File: s.name, Packet: s.packets + 1, Offset: -1, Err: err}
}

// ngGate is the reader through which pcapgo reads a pcapng file. It hands
// pcapgo one block at a time, and only blocks it has checked whole in the
// read buffer: total lengths within limits, multiples of 4 and equal at both
// ends (pcapng §3.1), options inside the block (§3.5), packet data inside the
// block and within MaxRecordLen, packets of interfaces described in the
// section. pcapgo trusts these lengths: gopacket's ngread.go subtracts them
// unchecked and reads or discards what the difference says, so a damaged
// block would make it read the blocks after it as its contents and report
// a truncation far from the damage, or none at all. Blocks that pcapgo has
// no use for here (name resolution, interface statistics, decryption
// secrets, custom and unknown types, which §3.1 says a reader skips) are
// checked and skipped without pcapgo seeing them, whatever their length.
//
// An error stops the gate: pcapgo gets it when it reads past the last good
// block, so every packet before the damage is read.
type ngGate struct {
	br     *bufio.Reader
	order  binary.ByteOrder // of the current section
	ifaces uint32           // interfaces described in the current section
	snap0  uint32           // snap length of its first interface, 0 for none
	left   int              // bytes of the current block pcapgo has yet to read
	err    error            // sticky: io.EOF at the clean end, or the damage
}

// Read hands pcapgo the bytes of the current block, and checks the next block
// once the current one is read.
func (g *ngGate) Read(p []byte) (int, error) {
	if g.left == 0 {
		if g.err == nil {
			g.left, g.err = g.next()
		}
		if g.err != nil {
			return 0, g.err
		}
	}
	n, err := g.br.Read(p[:min(len(p), g.left)])
	g.left -= n
	return n, err
}

// next skips the blocks pcapgo has no use for and checks the block after
// them, which it returns the length of. At the clean end of the file, before
// a block, it returns io.EOF.
func (g *ngGate) next() (int, error) {
	for {
		h, err := g.br.Peek(ngBlockHeaderLen + 4)
		if len(h) == 0 && err == io.EOF {
			return 0, io.EOF
		}
		if len(h) < ngBlockHeaderLen {
			return 0, ngTruncated(err)
		}
		if binary.LittleEndian.Uint32(h) == ngBlockSection {
			if len(h) < ngBlockHeaderLen+4 {
				return 0, ngTruncated(err)
			}
			switch bom := h[ngBlockHeaderLen:]; {
			case binary.LittleEndian.Uint32(bom) == ngByteOrderMagic:
				g.order = binary.LittleEndian
			case binary.BigEndian.Uint32(bom) == ngByteOrderMagic:
				g.order = binary.BigEndian
			default:
				return 0, fmt.Errorf("bad section header block: byte-order magic %#08x, want %#08x", binary.LittleEndian.Uint32(bom), ngByteOrderMagic)
			}
			g.ifaces, g.snap0 = 0, 0
		}
		typ, n := g.order.Uint32(h), g.order.Uint32(h[4:])
		name := ngBlockName(typ)
		if minLen := ngMinLen(typ); n < minLen {
			return 0, fmt.Errorf("bad %s: total length %d, minimum %d", name, n, minLen)
		}
		if n%4 != 0 {
			return 0, fmt.Errorf("bad %s: total length %d not a multiple of 4", name, n)
		}
		switch typ {
		case ngBlockSection, ngBlockInterface, ngBlockPacket, ngBlockSimple, ngBlockEnhanced:
		default:
			if err := g.skip(n, name); err != nil {
				return 0, err
			}
			continue
		}
		if n > maxNgBlockLen {
			return 0, fmt.Errorf("%w: block of %d bytes, limit %d", ErrRecordTooLong, n, maxNgBlockLen)
		}
		if err := g.checkCapLen(typ); err != nil {
			return 0, err
		}
		b, err := g.br.Peek(int(n))
		if len(b) < int(n) {
			return 0, ngTruncated(err)
		}
		if end := g.order.Uint32(b[n-4:]); end != n {
			return 0, fmt.Errorf("bad %s: total length %d at the end, %d at the start", name, end, n)
		}
		if err := g.check(typ, b); err != nil {
			return 0, fmt.Errorf("bad %s: %w", name, err)
		}
		return int(n), nil
	}
}

// checkCapLen refuses a packet block of typ at the read position that
// claims more than MaxRecordLen bytes, before the rest of it is read.
func (g *ngGate) checkCapLen(typ uint32) error {
	var capLen uint32
	switch typ {
	case ngBlockPacket, ngBlockEnhanced:
		b, err := g.br.Peek(ngPacketHeaderLen)
		if len(b) < ngPacketHeaderLen {
			return ngTruncated(err)
		}
		capLen = g.order.Uint32(b[ngCapLenOffset:])
	case ngBlockSimple:
		b, err := g.br.Peek(ngBlockHeaderLen + 4)
		if len(b) < ngBlockHeaderLen+4 {
			return ngTruncated(err)
		}
		capLen = g.simpleCapLen(b)
	default:
		return nil
	}
	if capLen > MaxRecordLen {
		return fmt.Errorf("%w: %d bytes captured, limit %d", ErrRecordTooLong, capLen, MaxRecordLen)
	}
	return nil
}

// simpleCapLen returns the captured length of the simple packet block that
// starts b: its original length, cut to the snap length of the section's
// first interface (pcapng §4.4), as pcapgo reads it.
func (g *ngGate) simpleCapLen(b []byte) uint32 {
	n := g.order.Uint32(b[ngBlockHeaderLen:])
	if g.snap0 != 0 && n > g.snap0 {
		n = g.snap0
	}
	return n
}

// check checks the contents of block b, of type typ, that pcapgo parses, and
// notes the interfaces described.
func (g *ngGate) check(typ uint32, b []byte) error {
	n := len(b)
	switch typ {
	case ngBlockSection:
		if major, minor := g.order.Uint16(b[12:]), g.order.Uint16(b[14:]); major != 1 || minor != 0 {
			return fmt.Errorf("version %d.%d, want 1.0", major, minor)
		}
		return g.checkOptions(b, ngSectionOptions)
	case ngBlockInterface:
		if g.ifaces == 0 {
			g.snap0 = g.order.Uint32(b[12:])
		}
		g.ifaces++
		return g.checkOptions(b, ngInterfaceOptions)
	case ngBlockSimple:
		if g.ifaces == 0 {
			return errors.New("no interface described in the section")
		}
		if c := g.simpleCapLen(b); int(c) > n-ngSimpleFixedLen {
			return fmt.Errorf("%d bytes captured, the block holds %d", c, n-ngSimpleFixedLen)
		}
		return nil
	}
	// An enhanced or obsolete packet block.
	id := g.order.Uint32(b[ngBlockHeaderLen:])
	if typ == ngBlockPacket {
		id = uint32(g.order.Uint16(b[ngBlockHeaderLen:]))
	}
	if id >= g.ifaces {
		return fmt.Errorf("interface %d not described, the section has %d", id, g.ifaces)
	}
	c := int(g.order.Uint32(b[ngCapLenOffset:]))
	if c > n-ngPacketFixedLen {
		return fmt.Errorf("%d bytes captured, the block holds %d", c, n-ngPacketFixedLen)
	}
	if typ == ngBlockPacket {
		return nil // pcapgo skips its options
	}
	return g.checkOptions(b, ngPacketHeaderLen+(c+3)&^3)
}

// checkOptions checks that the options of block b from offset off lie inside
// the block (pcapng §3.5): each a code, a length and a value padded to 32
// bits, the list ended by opt_endofopt (code 0, length 0) or by the block.
func (g *ngGate) checkOptions(b []byte, off int) error {
	end := len(b) - 4 // the trailing total length
	for off < end {
		if end-off < ngOptionHeaderLen {
			return fmt.Errorf("option at byte %d of the block cut", off)
		}
		code, n := g.order.Uint16(b[off:]), int(g.order.Uint16(b[off+2:]))
		if code == 0 {
			if n != 0 {
				return fmt.Errorf("end of options at byte %d of the block has length %d", off, n)
			}
			return nil
		}
		if (n+3)&^3 > end-off-ngOptionHeaderLen {
			return fmt.Errorf("option %d at byte %d of the block runs past its end", code, off)
		}
		off += ngOptionHeaderLen + (n+3)&^3
	}
	return nil
}

// skip skips a block of n bytes that pcapgo has no use for, after checking
// that it ends with the same total length.
func (g *ngGate) skip(n uint32, name string) error {
	if _, err := g.br.Discard(int(n) - 4); err != nil {
		return ngTruncated(err)
	}
	b, err := g.br.Peek(4)
	if len(b) < 4 {
		return ngTruncated(err)
	}
	if end := g.order.Uint32(b); end != n {
		return fmt.Errorf("bad %s: total length %d at the end, %d at the start", name, end, n)
	}
	_, err = g.br.Discard(4)
	return err
}

// ngTruncated returns the error for a block cut by the end of the file, or
// err if something else stopped the read.
func ngTruncated(err error) error {
	if err == nil || err == io.EOF {
		return fmt.Errorf("truncated block (%w)", io.ErrUnexpectedEOF)
	}
	return err
}

// ngMinLen returns the least total length of a block of type typ.
func ngMinLen(typ uint32) uint32 {
	switch typ {
	case ngBlockSection:
		return ngSectionFixedLen
	case ngBlockInterface:
		return ngInterfaceMinLen
	case ngBlockPacket, ngBlockEnhanced:
		return ngPacketFixedLen
	case ngBlockSimple:
		return ngSimpleFixedLen
	}
	return ngBlockMinLen
}

// ngBlockName names a block type in errors.
func ngBlockName(typ uint32) string {
	switch typ {
	case ngBlockSection:
		return "section header block"
	case ngBlockInterface:
		return "interface description block"
	case ngBlockPacket:
		return "packet block"
	case ngBlockSimple:
		return "simple packet block"
	case ngBlockEnhanced:
		return "enhanced packet block"
	}
	return fmt.Sprintf("block of type %#x", typ)
}

// ngLink returns the link type pcapgo puts in AncillaryData[0].
func ngLink(ci gopacket.CaptureInfo) (layers.LinkType, bool) {
	if len(ci.AncillaryData) == 0 {
		return 0, false
	}
	l, ok := ci.AncillaryData[0].(layers.LinkType)
	return l, ok
}

// Close closes the file. It does not close stdin.
func (s *Source) Close() error {
	var err error
	if s.gz != nil {
		err = s.gz.Close()
	}
	if s.closer != nil {
		if cerr := s.closer.Close(); err == nil {
			err = cerr
		}
		s.closer = nil
	}
	return err
}
