package capgen

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/msnsniff/msnsniff/dissect"
)

// Classic pcap constants (https://www.tcpdump.org/manpages/pcap-savefile.5.html).
const (
	pcapMagic        = 0xa1b2c3d4 // microsecond timestamps; written little-endian
	pcapVersionMajor = 2
	pcapVersionMinor = 4
	pcapHeaderLen    = 24
	pcapRecordLen    = 16
)

// pcapng constants (draft-ietf-opsawg-pcapng).
const (
	pcapngSHB           = 0x0a0d0d0a // Section Header Block
	pcapngIDB           = 0x00000001 // Interface Description Block
	pcapngEPB           = 0x00000006 // Enhanced Packet Block
	pcapngBOM           = 0x1a2b3c4d
	pcapngOptEnd        = 0
	pcapngOptUserAppl   = 4 // shb_userappl
	pcapngOptTSResol    = 9 // if_tsresol
	pcapngTSResolMicros = 6 // 10^-6 seconds, also the default
	pcapngEPBFixedLen   = 32
	pcapngUserAppl      = "msnsniff capgen"
)

// WritePcap writes pkts to w as a classic pcap file: little-endian, magic
// 0xa1b2c3d4, microsecond timestamps, the pcap link type of link and the
// given snapshot length (DefaultSnaplen if zero). Packets longer than
// snaplen are cut to it. Times before 1970 or past 2106 fail with
// ErrTimestamp. WritePcap buffers its output and makes no call on w after
// it returns.
func WritePcap(w io.Writer, link Link, snaplen int, pkts []Packet) error {
	lt, err := link.Type()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrOptions, err)
	}
	if snaplen, err = checkSnaplen(snaplen); err != nil {
		return err
	}
	le := binary.LittleEndian
	bw := bufio.NewWriter(w)
	var hdr [pcapHeaderLen]byte
	le.PutUint32(hdr[0:], pcapMagic)
	le.PutUint16(hdr[4:], pcapVersionMajor)
	le.PutUint16(hdr[6:], pcapVersionMinor)
	// hdr[8:16]: time zone offset and accuracy, both 0.
	le.PutUint32(hdr[16:], uint32(snaplen))
	le.PutUint32(hdr[20:], lt)
	if _, err := bw.Write(hdr[:]); err != nil {
		return err
	}
	for i, p := range pkts {
		sec := p.Time.Unix()
		if sec < 0 || sec > math.MaxUint32 {
			return fmt.Errorf("%w: packet %d: %v does not fit a pcap file", ErrTimestamp, i+1, p.Time)
		}
		incl, orig, err := lengths(i, p, snaplen)
		if err != nil {
			return err
		}
		var rec [pcapRecordLen]byte
		le.PutUint32(rec[0:], uint32(sec))
		le.PutUint32(rec[4:], uint32(p.Time.Nanosecond()/1000))
		le.PutUint32(rec[8:], uint32(incl))
		le.PutUint32(rec[12:], orig)
		if _, err := bw.Write(rec[:]); err != nil {
			return err
		}
		if _, err := bw.Write(p.Data[:incl]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// WritePcapng writes pkts to w as a pcapng file: one little-endian
// section, one interface with the pcap link type of link, the given
// snapshot length (DefaultSnaplen if zero) and microsecond timestamps
// (if_tsresol 6), and one Enhanced Packet Block per packet. Packets longer
// than snaplen are cut to it. Times before 1970 fail with ErrTimestamp.
// WritePcapng buffers its output and makes no call on w after it returns.
func WritePcapng(w io.Writer, link Link, snaplen int, pkts []Packet) error {
	lt, err := link.Type()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrOptions, err)
	}
	if snaplen, err = checkSnaplen(snaplen); err != nil {
		return err
	}
	le := binary.LittleEndian
	bw := bufio.NewWriter(w)
	var b []byte

	// Section Header Block.
	b = le.AppendUint32(b, pcapngSHB)
	b = le.AppendUint32(b, 0) // total length, set below
	b = le.AppendUint32(b, pcapngBOM)
	b = le.AppendUint16(b, 1) // major version
	b = le.AppendUint16(b, 0) // minor version
	b = le.AppendUint64(b, math.MaxUint64)
	b = appendOption(b, pcapngOptUserAppl, []byte(pcapngUserAppl))
	b = appendOption(b, pcapngOptEnd, nil)
	b = endBlock(b, 0)
	shbLen := len(b)

	// Interface Description Block.
	b = le.AppendUint32(b, pcapngIDB)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint16(b, uint16(lt))
	b = le.AppendUint16(b, 0) // reserved
	b = le.AppendUint32(b, uint32(snaplen))
	b = appendOption(b, pcapngOptTSResol, []byte{pcapngTSResolMicros})
	b = appendOption(b, pcapngOptEnd, nil)
	b = endBlock(b, shbLen)
	if _, err := bw.Write(b); err != nil {
		return err
	}

	for i, p := range pkts {
		sec, us := p.Time.Unix(), p.Time.UnixMicro()
		if sec < 0 || sec > math.MaxInt64/1_000_000 {
			return fmt.Errorf("%w: packet %d: %v does not fit a pcapng file", ErrTimestamp, i+1, p.Time)
		}
		incl, orig, err := lengths(i, p, snaplen)
		if err != nil {
			return err
		}
		b = b[:0]
		b = le.AppendUint32(b, pcapngEPB)
		b = le.AppendUint32(b, uint32(pcapngEPBFixedLen+pad4(incl)))
		b = le.AppendUint32(b, 0) // interface id
		b = le.AppendUint32(b, uint32(uint64(us)>>32))
		b = le.AppendUint32(b, uint32(us))
		b = le.AppendUint32(b, uint32(incl))
		b = le.AppendUint32(b, orig)
		if _, err := bw.Write(b); err != nil {
			return err
		}
		if _, err := bw.Write(p.Data[:incl]); err != nil {
			return err
		}
		b = b[:0]
		b = append(b, make([]byte, pad4(incl)-incl)...)
		b = le.AppendUint32(b, uint32(pcapngEPBFixedLen+pad4(incl)))
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// Write builds the packets of transcript t with opt and writes them to w as
// a pcapng file if pcapng is true, else as a classic pcap file, with
// opt.Link and opt.Snaplen. Nothing is written when the packets cannot be
// built.
func Write(w io.Writer, t *dissect.Transcript, opt Options, pcapng bool) error {
	pkts, err := Packets(t, opt)
	if err != nil {
		return err
	}
	if pcapng {
		return WritePcapng(w, opt.Link, opt.Snaplen, pkts)
	}
	return WritePcap(w, opt.Link, opt.Snaplen, pkts)
}

// lengths returns the captured and original lengths of packet i (0-based)
// for snapshot length snaplen.
func lengths(i int, p Packet, snaplen int) (incl int, orig uint32, err error) {
	incl = min(len(p.Data), snaplen)
	o := max(p.OrigLen, len(p.Data))
	if o > math.MaxUint32 {
		return 0, 0, fmt.Errorf("%w: packet %d: length %d does not fit a capture file", ErrOptions, i+1, o)
	}
	return incl, uint32(o), nil
}

// appendOption appends a pcapng option: code, length, value padded to 32
// bits.
func appendOption(b []byte, code uint16, val []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, code)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(val)))
	b = append(b, val...)
	return append(b, make([]byte, pad4(len(val))-len(val))...)
}

// endBlock appends the trailing length of the pcapng block that starts at
// b[start:] and stores it in the block's header too.
func endBlock(b []byte, start int) []byte {
	n := uint32(len(b) - start + 4)
	binary.LittleEndian.PutUint32(b[start+4:], n)
	return binary.LittleEndian.AppendUint32(b, n)
}

// pad4 rounds n up to a multiple of 4.
func pad4(n int) int { return (n + 3) &^ 3 }
