package reassembly

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/msnsniff/msnsniff/dissect"
)

// fuzzLinks are the link types FuzzPacket picks from with its first byte.
var fuzzLinks = []layers.LinkType{
	layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2,
	layers.LinkTypeRaw, layers.LinkTypeNull, layers.LinkTypeLoop,
}

// FuzzPacket feeds arbitrary frames to an Engine: the first byte picks the
// link type, the second how many times the frame is repeated (its low 3
// bits; at increasing times, with a changed sequence number) and, from 128
// up, which repetition gets a damaged time (bits 3-5) in 2100 or, with bit
// 6, in 1970. The rest is the frame. It checks that nothing panics and
// that every packet and stream is accounted for.
func FuzzPacket(f *testing.F) {
	c := newConv(f, client, server, 1000, 5000)
	for _, p := range join(c.handshake(), []pkt{c.seg(dissect.C2S, "PA", verC), c.seg(dissect.S2C, "FA", verS)}) {
		f.Add(append([]byte{0, 1}, p.data...))
	}
	f.Add(append([]byte{0, 0x80 | 2<<3 | 5}, c.seg(dissect.C2S, "PA", cvrC).data...))
	c6 := newConv(f, "[2001:db8::1]:1042", "[2001:db8::2]:1863", 1, 1)
	c6.link = layers.LinkTypeRaw
	f.Add(append([]byte{3, 3}, c6.seg(dissect.C2S, "PA", verC).data...))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 2 {
			return
		}
		link := fuzzLinks[int(in[0])%len(fuzzLinks)]
		frame := append([]byte(nil), in[2:]...)
		sink := &recSink{}
		e := NewEngine(sink, Options{MaxBufferedPagesPerConn: 2, MaxBufferedPagesTotal: 4})
		n := int(in[1]%8) + 1
		for i := range n {
			ts := t0.Add(time.Duration(i) * 7 * time.Second)
			if in[1]&0x80 != 0 && i == int(in[1]>>3&7) {
				ts = time.Date(2100, 1, 1, 0, 0, i, 0, time.UTC)
				if in[1]&0x40 != 0 {
					ts = time.Unix(int64(i), 0).UTC()
				}
			}
			e.Packet(frame, gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(frame), Length: len(frame) + i%2}, link, "fuzz", int64(i+1))
			// Move the sequence number a little, wherever it may be.
			if len(frame) > 60 {
				frame[len(frame)-40+i%30]++
			}
		}
		e.Finish(t0.Add(time.Hour))
		checkInvariants(t, sink, e.Stats())
	})
}

// FuzzSource reads arbitrary bytes as a capture file. It checks that nothing
// panics, that a damaged file ends in a *FileError and that no record longer
// than MaxRecordLen is returned.
func FuzzSource(f *testing.F) {
	c := newConv(f, client, server, 1000, 5000)
	pkts, _, _ := exchange(f, c, 2)
	f.Add(pcapBytes(f, pkts))
	var ng bytes.Buffer
	w, err := pcapgo.NewNgWriter(&ng, layers.LinkTypeEthernet)
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range pkts[:4] {
		if err := w.WritePacket(captureInfo(p), p.data); err != nil {
			f.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Fatal(err)
	}
	f.Add(ng.Bytes())
	f.Fuzz(func(t *testing.T, in []byte) {
		src, err := Open("-", bytes.NewReader(in))
		if err != nil {
			return
		}
		for {
			data, _, _, err := src.Next()
			if err != nil {
				break
			}
			if len(data) > MaxRecordLen {
				t.Fatalf("record of %d bytes", len(data))
			}
		}
		src2, err := Open("-", bytes.NewReader(in))
		if err != nil {
			t.Fatalf("second Open = %v", err)
		}
		sink := &recSink{}
		e := NewEngine(sink, Options{})
		_ = Run([]*Source{src2}, e)
		checkInvariants(t, sink, e.Stats())
	})
}

// FuzzPcapRecords reads arbitrary pcap records with Source and with
// pcapgo's ZeroCopyReadPacketData, which Source.nextPcap replaces, and
// checks that they return the same records and the same error. The first
// byte picks the byte order and resolution, the next four the snap length;
// the rest follows the file header.
func FuzzPcapRecords(f *testing.F) {
	c := newConv(f, client, server, 1000, 5000)
	pkts, _, _ := exchange(f, c, 2)
	file := pcapBytes(f, pkts)
	f.Add(append([]byte{0, 0, 0, 1, 0}, file[pcapHeaderLen:]...))
	f.Add(append([]byte{1, 0xff, 0xff, 0xff, 0xff}, file[pcapHeaderLen:len(file)-7]...))
	f.Add([]byte{2, 0, 0, 0, 0, 1, 2, 3})
	f.Add([]byte{3, 0, 4, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 2, 0xaa})
	// A fraction of microseconds that overflows 32 bits in nanoseconds.
	f.Add([]byte{0, 0, 4, 0, 0, 1, 0, 0, 0, 0xf0, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 5 {
			return
		}
		magic := []uint32{magicPcapMicro, magicPcapMicroSwap, magicPcapNano, magicPcapNanoSwap}[in[0]%4]
		var order binary.ByteOrder = binary.LittleEndian
		if magic == magicPcapMicroSwap || magic == magicPcapNanoSwap {
			order = binary.BigEndian
		}
		hdr := make([]byte, pcapHeaderLen)
		binary.LittleEndian.PutUint32(hdr[0:], magic)
		order.PutUint16(hdr[4:], 2)
		order.PutUint16(hdr[6:], 4)
		order.PutUint32(hdr[16:], binary.BigEndian.Uint32(in[1:5]))
		order.PutUint32(hdr[20:], uint32(layers.LinkTypeEthernet))
		file := append(hdr, in[5:]...)

		got := pcapRecords(t, file, func(s *Source) ([]byte, gopacket.CaptureInfo, error) {
			data, ci, _, err := s.Next()
			return data, ci, err
		})
		want := pcapRecords(t, file, pcapgoNext)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("records differ (-pcapgo +Source):\n%s", diff)
		}
	})
}

// pcapRecords opens file and describes what next reads from it, to the
// first error.
func pcapRecords(t *testing.T, file []byte, next func(*Source) ([]byte, gopacket.CaptureInfo, error)) []string {
	src, err := Open("-", bytes.NewReader(file))
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for {
		data, ci, err := next(src)
		if err != nil {
			return append(out, err.Error())
		}
		out = append(out, fmt.Sprintf("%v %d %d %d %x", ci.Timestamp, ci.Timestamp.UnixNano(), ci.CaptureLength, ci.Length, data))
	}
}

// pcapgoNext is Source.Next for a pcap file as it was with pcapgo's
// ZeroCopyReadPacketData, for FuzzPcapRecords.
func pcapgoNext(s *Source) ([]byte, gopacket.CaptureInfo, error) {
	if s.err != nil {
		return nil, gopacket.CaptureInfo{}, s.err
	}
	data, ci, err := s.pcap.ZeroCopyReadPacketData()
	if err == nil {
		if s.offset >= 0 {
			s.offset += pcapRecordLen + int64(len(data))
		}
		if sec := ci.Timestamp.Unix(); sec < minUnixSeconds || sec > maxUnixSeconds {
			err = &FileError{File: s.name, Packet: s.packets + 1, Offset: -1,
				Err: fmt.Errorf("%w: %s, want years 0 to 9999", ErrTimestamp, ci.Timestamp.Format(time.RFC3339Nano))}
			s.err = err
			return nil, gopacket.CaptureInfo{}, err
		}
		s.packets++
		return data, ci, nil
	}
	header := !ci.Timestamp.IsZero()
	switch {
	case !header && err == io.EOF:
		s.err = io.EOF
		return nil, ci, io.EOF
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
	s.err = &FileError{File: s.name, Packet: s.packets + 1, Offset: s.offset, Err: err}
	return nil, gopacket.CaptureInfo{}, s.err
}
