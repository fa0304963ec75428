package gpref

import (
	"encoding/binary"
	"time"

	"github.com/gopacket/gopacket/ip4defrag"
	"github.com/gopacket/gopacket/layers"
)

// fragmentTimeout is how long, in packet time, the fragments of an
// incomplete IPv4 datagram are kept: Linux's default ipfrag_time (30 s).
const fragmentTimeout = 30 * time.Second

// maxFragmentBytes bounds the payload of IPv4 fragments held at once: 64
// datagrams of the maximum size. Past it every held fragment is dropped and
// counted, so memory stays fixed whatever the capture holds.
const maxFragmentBytes = 64 * 65535

// fragKey names the datagram a fragment belongs to (RFC 791 section 2.3).
type fragKey struct {
	src, dst [4]byte
	id       uint16
	proto    uint8
}

// fragHeld mirrors what ip4defrag holds for one datagram, which it does not
// expose, so fragments can be bounded and the dropped ones counted.
type fragHeld struct {
	frags int
	bytes int
	last  time.Time
}

// defragger wraps ip4defrag with a memory bound and fragment accounting.
type defragger struct {
	d     *ip4defrag.IPv4Defragmenter
	held  map[fragKey]fragHeld
	bytes int
}

// defragment hands the IPv4 fragment b (header length hlen) to ip4defrag.
// When it completes a datagram, p is set to the datagram and defragment
// returns true; otherwise the fragment is counted and it returns false.
func (e *Engine) defragment(b []byte, hlen int, p *ipPacket) bool {
	f := &e.frag
	if f.d == nil {
		f.d = ip4defrag.NewIPv4Defragmenter()
		f.held = make(map[fragKey]fragHeld)
	}
	frag := binary.BigEndian.Uint16(b[6:8])
	payload := b[hlen:]
	if f.bytes+len(payload) > maxFragmentBytes {
		e.dropFragments(func(fragKey, fragHeld) bool { return true })
		f.d = ip4defrag.NewIPv4Defragmenter()
	}

	// ip4defrag keeps the layer and its payload until the datagram is
	// complete, and the packet buffer is reused: give it a copy.
	buf := make([]byte, 8+len(payload))
	copy(buf, b[12:20])
	copy(buf[8:], payload)
	in := &layers.IPv4{
		Version:    4,
		IHL:        uint8(hlen / 4),
		Length:     uint16(hlen + len(payload)),
		Id:         binary.BigEndian.Uint16(b[4:6]),
		Flags:      layers.IPv4Flag(frag >> 13),
		FragOffset: frag & ipv4FragOffsetMask,
		TTL:        b[8],
		Protocol:   layers.IPProtocol(b[9]),
		SrcIP:      buf[0:4:4],
		DstIP:      buf[4:8:8],
	}
	in.Payload = buf[8:]
	if l := binary.BigEndian.Uint16(b[2:4]); l != 0 {
		// Keep the announced length: the defragmenter refuses a
		// fragment cut short by the snap length.
		in.Length = l
	}
	k := fragKey{src: [4]byte(b[12:16]), dst: [4]byte(b[16:20]), id: in.Id, proto: b[9]}
	t := e.cur.ts
	out, err := f.d.DefragIPv4WithTimestamp(in, t)
	switch {
	case err != nil:
		e.stats.Decode[DecodeFragment]++
		e.dropFragments(func(key fragKey, _ fragHeld) bool { return key == k })
		return false
	case out == nil:
		h := f.held[k]
		h.frags++
		h.bytes += len(payload)
		h.last = t
		f.held[k] = h
		f.bytes += len(payload)
		e.stats.FragmentsHeld++
		return false
	}
	if h, ok := f.held[k]; ok {
		f.bytes -= h.bytes
		delete(f.held, k)
	}
	e.stats.Datagrams++
	p.src, p.dst = out.SrcIP, out.DstIP
	if out.Protocol != ipProtocolTCP {
		e.stats.NonTCP++
		return false
	}
	p.tcp = out.Payload
	return true
}

// expireFragments drops the datagrams that saw no fragment since before t.
func (e *Engine) expireFragments(t time.Time) {
	f := &e.frag
	if f.d == nil || len(f.held) == 0 {
		return
	}
	e.dropFragments(func(_ fragKey, h fragHeld) bool { return h.last.Before(t) })
	f.d.DiscardOlderThan(t)
}

// dropFragments forgets the held datagrams drop selects and counts their
// fragments as dropped. The caller makes ip4defrag forget them too.
func (e *Engine) dropFragments(drop func(fragKey, fragHeld) bool) {
	f := &e.frag
	for k, h := range f.held {
		if drop(k, h) {
			e.stats.FragmentsDropped += int64(h.frags)
			f.bytes -= h.bytes
			delete(f.held, k)
		}
	}
}
