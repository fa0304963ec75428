package capgen

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// streamBufferSize is the output buffer of a PcapWriter: large enough that
// a multi-gigabyte capture costs few write system calls.
const streamBufferSize = 1 << 20

// PcapWriter writes a classic pcap file one packet at a time, so that a
// capture of any size can be produced with memory bounded by the packets
// the caller holds. Its output is byte for byte what WritePcap writes for
// the same packets. A PcapWriter is not safe for concurrent use.
type PcapWriter struct {
	bw      *bufio.Writer
	snaplen int
	n       int   // packets written
	bytes   int64 // bytes written, file header included
}

// NewPcapWriter writes the pcap file header to w and returns a writer for
// the packets: little-endian, magic 0xa1b2c3d4, microsecond timestamps, the
// pcap link type of link and the given snapshot length (DefaultSnaplen if
// zero). Output is buffered until Flush.
func NewPcapWriter(w io.Writer, link Link, snaplen int) (*PcapWriter, error) {
	lt, err := link.Type()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOptions, err)
	}
	if snaplen, err = checkSnaplen(snaplen); err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	var hdr [pcapHeaderLen]byte
	le.PutUint32(hdr[0:], pcapMagic)
	le.PutUint16(hdr[4:], pcapVersionMajor)
	le.PutUint16(hdr[6:], pcapVersionMinor)
	le.PutUint32(hdr[16:], uint32(snaplen))
	le.PutUint32(hdr[20:], lt)
	pw := &PcapWriter{bw: bufio.NewWriterSize(w, streamBufferSize), snaplen: snaplen}
	if _, err := pw.bw.Write(hdr[:]); err != nil {
		return nil, err
	}
	pw.bytes = pcapHeaderLen
	return pw, nil
}

// WritePacket appends one packet record, cut to the snapshot length. p.Data
// is only read during the call. Times before 1970 or past 2106 fail with
// ErrTimestamp.
func (pw *PcapWriter) WritePacket(p Packet) error {
	sec := p.Time.Unix()
	if sec < 0 || sec > math.MaxUint32 {
		return fmt.Errorf("%w: packet %d: %v does not fit a pcap file", ErrTimestamp, pw.n+1, p.Time)
	}
	incl, orig, err := lengths(pw.n, p, pw.snaplen)
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	var rec [pcapRecordLen]byte
	le.PutUint32(rec[0:], uint32(sec))
	le.PutUint32(rec[4:], uint32(p.Time.Nanosecond()/1000))
	le.PutUint32(rec[8:], uint32(incl))
	le.PutUint32(rec[12:], orig)
	if _, err := pw.bw.Write(rec[:]); err != nil {
		return err
	}
	if _, err := pw.bw.Write(p.Data[:incl]); err != nil {
		return err
	}
	pw.n++
	pw.bytes += int64(pcapRecordLen + incl)
	return nil
}

// Packets returns the number of packets written.
func (pw *PcapWriter) Packets() int { return pw.n }

// Bytes returns the size of the file written so far, header included,
// whether flushed or not.
func (pw *PcapWriter) Bytes() int64 { return pw.bytes }

// Flush writes any buffered data to the underlying writer.
func (pw *PcapWriter) Flush() error { return pw.bw.Flush() }
