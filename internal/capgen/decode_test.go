package capgen

// A small, independent decoder of the files and frames capgen writes. It
// shares no code with the generator so that it cross-checks it.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// record is one packet record read back from a capture file.
type record struct {
	time time.Time
	data []byte
	orig int
}

// capture is a capture file read back.
type capture struct {
	linkType uint32
	snaplen  uint32
	recs     []record
}

// readPcap parses a little-endian microsecond classic pcap file.
func readPcap(b []byte) (*capture, error) {
	le := binary.LittleEndian
	if len(b) < 24 {
		return nil, errors.New("short pcap header")
	}
	if m := le.Uint32(b); m != 0xa1b2c3d4 {
		return nil, fmt.Errorf("magic %#x", m)
	}
	if maj, minor := le.Uint16(b[4:]), le.Uint16(b[6:]); maj != 2 || minor != 4 {
		return nil, fmt.Errorf("version %d.%d", maj, minor)
	}
	if le.Uint64(b[8:]) != 0 {
		return nil, errors.New("thiszone/sigfigs not zero")
	}
	c := &capture{snaplen: le.Uint32(b[16:]), linkType: le.Uint32(b[20:])}
	b = b[24:]
	for len(b) > 0 {
		if len(b) < 16 {
			return nil, errors.New("short record header")
		}
		sec, usec := le.Uint32(b), le.Uint32(b[4:])
		incl, orig := le.Uint32(b[8:]), le.Uint32(b[12:])
		if usec >= 1e6 {
			return nil, fmt.Errorf("usec %d", usec)
		}
		if incl > c.snaplen || incl > orig || int64(incl) > int64(len(b)-16) {
			return nil, fmt.Errorf("bad record lengths incl %d orig %d snaplen %d", incl, orig, c.snaplen)
		}
		c.recs = append(c.recs, record{
			time: time.Unix(int64(sec), int64(usec)*1000).UTC(),
			data: b[16 : 16+incl],
			orig: int(orig),
		})
		b = b[16+incl:]
	}
	return c, nil
}

// readPcapng parses a pcapng file with one little-endian section, one
// interface and Enhanced Packet Blocks, as WritePcapng writes it.
func readPcapng(b []byte) (*capture, error) {
	le := binary.LittleEndian
	var c *capture
	tsresol := -1
	first := true
	for len(b) > 0 {
		if len(b) < 12 {
			return nil, errors.New("short block")
		}
		typ, n := le.Uint32(b), le.Uint32(b[4:])
		if n%4 != 0 || n < 12 || int64(n) > int64(len(b)) {
			return nil, fmt.Errorf("block type %#x: bad length %d", typ, n)
		}
		if le.Uint32(b[n-4:]) != n {
			return nil, fmt.Errorf("block type %#x: trailing length %d, want %d", typ, le.Uint32(b[n-4:]), n)
		}
		body := b[8 : n-4]
		switch {
		case first && typ != 0x0a0d0d0a:
			return nil, fmt.Errorf("first block %#x, want SHB", typ)
		case typ == 0x0a0d0d0a:
			if !first {
				return nil, errors.New("second section")
			}
			if len(body) < 16 || le.Uint32(body) != 0x1a2b3c4d || le.Uint16(body[4:]) != 1 || le.Uint16(body[6:]) != 0 {
				return nil, errors.New("bad SHB")
			}
			if _, err := readOptions(body[16:]); err != nil {
				return nil, fmt.Errorf("SHB: %w", err)
			}
		case typ == 1:
			if c != nil {
				return nil, errors.New("second IDB")
			}
			if len(body) < 8 {
				return nil, errors.New("short IDB")
			}
			c = &capture{linkType: uint32(le.Uint16(body)), snaplen: le.Uint32(body[4:])}
			opts, err := readOptions(body[8:])
			if err != nil {
				return nil, fmt.Errorf("IDB: %w", err)
			}
			if v, ok := opts[9]; ok {
				if len(v) != 1 {
					return nil, errors.New("if_tsresol length")
				}
				tsresol = int(v[0])
			}
			if tsresol != -1 && tsresol != 6 {
				return nil, fmt.Errorf("if_tsresol %d", tsresol)
			}
		case typ == 6:
			if c == nil {
				return nil, errors.New("EPB before IDB")
			}
			if len(body) < 20 {
				return nil, errors.New("short EPB")
			}
			if id := le.Uint32(body); id != 0 {
				return nil, fmt.Errorf("interface %d", id)
			}
			us := int64(le.Uint32(body[4:]))<<32 | int64(le.Uint32(body[8:]))
			incl, orig := le.Uint32(body[12:]), le.Uint32(body[16:])
			if incl > c.snaplen || incl > orig || int64(incl+3)&^3 > int64(len(body)-20) {
				return nil, fmt.Errorf("bad EPB lengths incl %d orig %d", incl, orig)
			}
			if rest := body[20+(incl+3)&^3:]; len(rest) != 0 {
				return nil, fmt.Errorf("EPB has %d bytes of options", len(rest))
			}
			c.recs = append(c.recs, record{time: time.UnixMicro(us).UTC(), data: body[20 : 20+incl], orig: int(orig)})
		default:
			return nil, fmt.Errorf("unexpected block type %#x", typ)
		}
		first = false
		b = b[n:]
	}
	if c == nil {
		return nil, errors.New("no IDB")
	}
	return c, nil
}

// readOptions parses pcapng options up to opt_endofopt, which must end the
// buffer.
func readOptions(b []byte) (map[uint16][]byte, error) {
	le := binary.LittleEndian
	opts := map[uint16][]byte{}
	for {
		if len(b) < 4 {
			return nil, errors.New("options not terminated")
		}
		code, n := le.Uint16(b), int(le.Uint16(b[2:]))
		if code == 0 {
			if n != 0 || len(b) != 4 {
				return nil, errors.New("bad opt_endofopt")
			}
			return opts, nil
		}
		if 4+(n+3)&^3 > len(b) {
			return nil, errors.New("option overruns block")
		}
		opts[code] = b[4 : 4+n]
		b = b[4+(n+3)&^3:]
	}
}

// frame is a decoded frame.
type frame struct {
	srcMAC, dstMAC []byte // nil without Ethernet or SLL
	vlan           int    // VLAN id, -1 without a tag
	sllType        int    // SLL packet type, -1 without SLL
	src, dst       netip.AddrPort
	ipid           uint16
	seq, ack       uint32
	flags          uint8
	window         uint16
	mss            int // MSS option value, -1 if absent
	payload        []byte
}

// decodeFrame decodes a whole (uncut) frame of the given pcap link type
// and checks every length, constant field and checksum.
func decodeFrame(linkType uint32, b []byte) (*frame, error) {
	be := binary.BigEndian
	f := &frame{vlan: -1, sllType: -1, mss: -1}
	var etherType uint16
	switch linkType {
	case 1:
		if len(b) < 14 {
			return nil, errors.New("short Ethernet header")
		}
		f.dstMAC, f.srcMAC = b[0:6], b[6:12]
		etherType, b = be.Uint16(b[12:]), b[14:]
		if etherType == 0x8100 {
			if len(b) < 4 {
				return nil, errors.New("short VLAN tag")
			}
			f.vlan = int(be.Uint16(b) & 0x0fff)
			etherType, b = be.Uint16(b[2:]), b[4:]
		}
	case 113:
		if len(b) < 16 {
			return nil, errors.New("short SLL header")
		}
		if be.Uint16(b[2:]) != 1 || be.Uint16(b[4:]) != 6 {
			return nil, errors.New("bad SLL hardware type or address length")
		}
		f.sllType = int(be.Uint16(b))
		f.srcMAC = b[6:12]
		etherType, b = be.Uint16(b[14:]), b[16:]
	case 101:
		if len(b) < 1 {
			return nil, errors.New("empty raw frame")
		}
		etherType = map[byte]uint16{4: 0x0800, 6: 0x86dd}[b[0]>>4]
	case 0:
		if len(b) < 4 {
			return nil, errors.New("short null header")
		}
		etherType = map[uint32]uint16{2: 0x0800, 24: 0x86dd}[binary.LittleEndian.Uint32(b)]
		b = b[4:]
	default:
		return nil, fmt.Errorf("link type %d", linkType)
	}

	var pseudo []byte
	var srcIP, dstIP netip.Addr
	switch etherType {
	case 0x0800:
		if len(b) < 20 || b[0] != 0x45 {
			return nil, errors.New("bad IPv4 header")
		}
		if total := int(be.Uint16(b[2:])); total != len(b) {
			return nil, fmt.Errorf("IPv4 total length %d, frame has %d", total, len(b))
		}
		if ones(b[:20]) != 0xffff {
			return nil, errors.New("bad IPv4 header checksum")
		}
		if b[8] != 64 || b[9] != 6 || be.Uint16(b[6:]) != 0x4000 {
			return nil, fmt.Errorf("IPv4 TTL %d protocol %d flags %#x", b[8], b[9], be.Uint16(b[6:]))
		}
		f.ipid = be.Uint16(b[4:])
		srcIP, dstIP = netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20]))
		pseudo = append(append(append([]byte{}, b[12:20]...), 0, 6), byte((len(b)-20)>>8), byte(len(b)-20))
		b = b[20:]
	case 0x86dd:
		if len(b) < 40 || b[0]>>4 != 6 {
			return nil, errors.New("bad IPv6 header")
		}
		if pl := int(be.Uint16(b[4:])); pl != len(b)-40 {
			return nil, fmt.Errorf("IPv6 payload length %d, frame has %d", pl, len(b)-40)
		}
		if b[6] != 6 || b[7] != 64 {
			return nil, fmt.Errorf("IPv6 next header %d hop limit %d", b[6], b[7])
		}
		srcIP, dstIP = netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40]))
		n := len(b) - 40
		pseudo = append(append([]byte{}, b[8:40]...), byte(n>>24), byte(n>>16), byte(n>>8), byte(n), 0, 0, 0, 6)
		b = b[40:]
	default:
		return nil, fmt.Errorf("EtherType %#x", etherType)
	}

	if len(b) < 20 {
		return nil, errors.New("short TCP header")
	}
	if ones(append(pseudo, b...)) != 0xffff {
		return nil, errors.New("bad TCP checksum")
	}
	off := int(b[12]>>4) * 4
	if off < 20 || off > len(b) || b[12]&0x0f != 0 {
		return nil, fmt.Errorf("TCP data offset %d", off)
	}
	f.src = netip.AddrPortFrom(srcIP, be.Uint16(b))
	f.dst = netip.AddrPortFrom(dstIP, be.Uint16(b[2:]))
	f.seq, f.ack = be.Uint32(b[4:]), be.Uint32(b[8:])
	f.flags, f.window = b[13], be.Uint16(b[14:])
	if be.Uint16(b[18:]) != 0 {
		return nil, errors.New("urgent pointer set")
	}
	for opts := b[20:off]; len(opts) > 0; {
		if len(opts) < 4 || opts[0] != 2 || opts[1] != 4 {
			return nil, fmt.Errorf("unexpected TCP options % x", opts)
		}
		f.mss = int(be.Uint16(opts[2:]))
		opts = opts[4:]
	}
	f.payload = b[off:]
	return f, nil
}

// ones returns the 16-bit one's complement sum of b (RFC 1071); a header
// with a correct checksum sums to 0xffff.
func ones(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}
