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

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// MaxRecordLen is the longest packet record a Source reads: libpcap's
// MAXIMUM_SNAPLEN (262144 bytes), above any link MTU or offloaded segment.
// A longer record is refused with ErrRecordTooLong, whatever snap length the
// file declares. pcap records are refused before their bytes are read, and so
// are pcapng packet blocks whose header is in the read buffer with the blocks
// before them; pcapgo reads any other block into a buffer that grows with the
// bytes actually in the file.
const MaxRecordLen = 262144

// maxNgOptionBytes is the room allowed for the options of a pcapng packet
// block besides its data (comments, flags, hashes, drop counts). Capture
// tools write far less; a longer block is refused as damaged.
const maxNgOptionBytes = 65536

// readBufferSize is the read buffer of a Source: 256 KiB keeps read system
// calls rare (pcapgo reads through it) and holds the pcapng blocks that
// checkNgBlock looks at ahead of a packet.
const readBufferSize = 256 << 10

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
	ngBlockPacket      = 2 // obsolete packet block
	ngBlockSimple      = 3
	ngBlockEnhanced    = 6
	ngBlockHeaderLen   = 8
	ngCapLenOffset     = 20 // of the captured length in packet and enhanced packet blocks
	ngPacketFixedLen   = 32 // of an enhanced packet block without data and options
	gzipMagic1         = 0x1f
	gzipMagic2         = 0x8b
)

// ErrNotCapture means a file is neither pcap nor pcapng.
var ErrNotCapture = errors.New("not a pcap or pcapng file")

// ErrRecordTooLong means a packet record claims more than MaxRecordLen bytes.
var ErrRecordTooLong = errors.New("record too long")

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
// safe for concurrent use.
type Source struct {
	name    string
	format  string
	closer  io.Closer
	gz      *gzip.Reader
	br      *bufio.Reader
	pcap    *pcapgo.Reader
	ng      *pcapgo.NgReader
	link    layers.LinkType // of a pcap file
	packets int64
	bytes   int64
	offset  int64 // of the next pcap record, -1 when unknown
	err     error // sticky: io.EOF or a *FileError
}

// Open opens the capture file name, or reads stdin when name is "-". It reads
// the file header and returns a *FileError if it is not a capture file.
func Open(name string, stdin io.Reader) (*Source, error) {
	s := &Source{name: name}
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
	}
	if err := s.start(r); err != nil {
		_ = s.Close() // the header error is the one to report
		return nil, &FileError{File: s.name, Err: err}
	}
	return s, nil
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
		// pcapgo reads from s.br itself (it is large enough), so Next can
		// peek at block headers before pcapgo reads them. With mixed link
		// types pcapgo skips no interface and tells each packet's type.
		s.ng, err = pcapgo.NewNgReader(s.br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
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
	if err != nil {
		s.err = err
		return nil, gopacket.CaptureInfo{}, 0, err
	}
	s.packets++
	s.bytes += int64(len(data))
	return data, ci, link, nil
}

// nextPcap reads a pcap record.
func (s *Source) nextPcap() ([]byte, gopacket.CaptureInfo, layers.LinkType, error) {
	data, ci, err := s.pcap.ZeroCopyReadPacketData()
	if err == nil {
		if s.offset >= 0 {
			s.offset += pcapRecordLen + int64(len(data))
		}
		return data, ci, s.link, nil
	}
	// pcapgo fills ci once it has read the record header; its timestamp
	// is never the zero time then.
	header := !ci.Timestamp.IsZero()
	switch {
	case !header && err == io.EOF:
		return nil, ci, 0, io.EOF
	case !header && err == io.ErrUnexpectedEOF:
		err = fmt.Errorf("truncated record header (%w)", err)
	case header && ci.CaptureLength > MaxRecordLen:
		err = fmt.Errorf("%w: %d bytes captured, limit %d", ErrRecordTooLong, ci.CaptureLength, MaxRecordLen)
	case header && (err == io.EOF || err == io.ErrUnexpectedEOF):
		err = fmt.Errorf("truncated packet data, %d bytes announced (%w)", ci.CaptureLength, io.ErrUnexpectedEOF)
	case header:
		err = fmt.Errorf("bad record header: %w", err)
	default:
		err = fmt.Errorf("reading record header: %w", err)
	}
	return nil, ci, 0, &FileError{File: s.name, Packet: s.packets + 1, Offset: s.offset, Err: err}
}

// nextNg reads pcapng blocks up to the next packet.
func (s *Source) nextNg() ([]byte, gopacket.CaptureInfo, layers.LinkType, error) {
	if err := s.checkNgBlock(); err != nil {
		return nil, gopacket.CaptureInfo{}, 0, &FileError{File: s.name, Packet: s.packets + 1, Offset: -1, Err: err}
	}
	data, ci, err := s.ng.ZeroCopyReadPacketData()
	switch {
	case err == io.EOF:
		return nil, ci, 0, io.EOF
	case err == io.ErrUnexpectedEOF:
		err = fmt.Errorf("truncated block (%w)", err)
	case err != nil:
		err = fmt.Errorf("bad block: %w", err)
	case len(data) > MaxRecordLen:
		// Blocks that pcapgo read without stopping at the next packet
		// were not checked by checkNgBlock.
		err = fmt.Errorf("%w: %d bytes captured, limit %d", ErrRecordTooLong, len(data), MaxRecordLen)
	default:
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
	return nil, ci, 0, &FileError{File: s.name, Packet: s.packets + 1, Offset: -1, Err: err}
}

// checkNgBlock refuses a packet block whose lengths exceed the limits before
// pcapgo allocates for it. It looks at the blocks in the read buffer from the
// read position up to the first packet block, since pcapgo reads interface
// and other blocks on its way to the next packet.
func (s *Source) checkNgBlock() error {
	off := 0
	for range maxNgBlocksAhead {
		b, _ := s.br.Peek(off + ngCapLenOffset + 4)
		if len(b) < off+ngBlockHeaderLen {
			return nil
		}
		b = b[off:]
		order := ngOrder(b)
		typ, n := order.Uint32(b), order.Uint32(b[4:])
		if !isNgPacketBlock(typ) {
			if n < ngBlockHeaderLen+4 || n%4 != 0 || off+int(n)+ngCapLenOffset+4 > readBufferSize {
				return nil // pcapgo reports a bad length; a long block is not a packet
			}
			off += int(n)
			continue
		}
		if n > MaxRecordLen+ngPacketFixedLen+maxNgOptionBytes {
			return fmt.Errorf("%w: block of %d bytes, limit %d", ErrRecordTooLong, n, MaxRecordLen+ngPacketFixedLen+maxNgOptionBytes)
		}
		if typ != ngBlockSimple && len(b) >= ngCapLenOffset+4 {
			if n := order.Uint32(b[ngCapLenOffset:]); n > MaxRecordLen {
				return fmt.Errorf("%w: %d bytes captured, limit %d", ErrRecordTooLong, n, MaxRecordLen)
			}
		}
		return nil
	}
	return nil
}

// maxNgBlocksAhead bounds the blocks checkNgBlock looks through: a section
// header, a few interface descriptions and name resolution blocks.
const maxNgBlocksAhead = 8

// ngByteOrderMagic is the byte-order magic of a pcapng section header.
const ngByteOrderMagic = 0x1a2b3c4d

// ngOrder returns the byte order of the pcapng block that starts b. A section
// header says it; for other blocks the type is a small number read in the
// right order and a large one in the wrong order.
func ngOrder(b []byte) binary.ByteOrder {
	if binary.LittleEndian.Uint32(b) == magicPcapng {
		if len(b) >= 12 && binary.BigEndian.Uint32(b[8:]) == ngByteOrderMagic {
			return binary.BigEndian
		}
		return binary.LittleEndian
	}
	if binary.LittleEndian.Uint32(b) <= binary.BigEndian.Uint32(b) {
		return binary.LittleEndian
	}
	return binary.BigEndian
}

// ngLink returns the link type pcapgo puts in AncillaryData[0].
func ngLink(ci gopacket.CaptureInfo) (layers.LinkType, bool) {
	if len(ci.AncillaryData) == 0 {
		return 0, false
	}
	l, ok := ci.AncillaryData[0].(layers.LinkType)
	return l, ok
}

// isNgPacketBlock tells whether a pcapng block type carries a packet.
func isNgPacketBlock(typ uint32) bool {
	return typ == ngBlockPacket || typ == ngBlockSimple || typ == ngBlockEnhanced
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
