package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/msnsniff/msnsniff/dissect"
	"github.com/msnsniff/msnsniff/internal/capgen"
	"github.com/msnsniff/msnsniff/report"
)

// malformedDir holds the malformed-capture corpus: damaged copies of
// msnp7-login.pcap and of its pcapng form, each with a golden of the -T json
// report, and expected.txt with the exit code and stderr of each.
const malformedDir = testdata + "malformed/"

// damageNeedle is the first bytes of the MSG payload of the notification
// session's login: the corpus damages the packet carrying it, so that the
// dispatch session and the first eight commands of the NS session come
// before the damage.
const damageNeedle = "MSG Hotmail Hotmail 367"

// base is a capture the corpus is made from, with the offsets of its
// records (pcap) or blocks (pcapng).
type base struct {
	data []byte
	// recs are the pcap records or pcapng blocks, in file order.
	recs []span
	// msg is the index in recs of the record or block carrying
	// damageNeedle.
	msg int
}

// span is a pcap record or pcapng block: its offset, total length and, for
// pcapng, its block type.
type span struct {
	off, n int
	typ    uint32
}

// bytes returns a copy of the base capture, which a case may change.
func (b *base) bytes() []byte { return slices.Clone(b.data) }

// at returns the offset of the damaged record or block.
func (b *base) at() int { return b.recs[b.msg].off }

// Link-layer, pcap and pcapng constants the generator writes. They are
// spelled out here rather than taken from reassembly, so that the corpus
// checks the reader against the file formats, not against itself.
const (
	pcapFileHeaderLen = 24
	pcapRecHeaderLen  = 16
	ngSHB             = 0x0a0d0d0a
	ngIDB             = 1
	ngNRB             = 4
	ngISB             = 5
	ngEPB             = 6
	ngEPBFixedLen     = 32
	// linkTypeUser0 is LINKTYPE_USER0 (147), reserved for private use:
	// no reader knows it.
	linkTypeUser0 = 147
	// ngLocalBlock is a pcapng block type with the high bit set, reserved
	// for local use (pcapng spec §11.1): a reader that does not know it
	// must skip it.
	ngLocalBlock = 0x80000001
	// hugeLen is the length the "gigabytes" cases claim.
	hugeLen = 0xfffffff0
)

var le = binary.LittleEndian

// pcapSpans returns the records of a pcap file.
func pcapSpans(t testing.TB, b []byte) []span {
	t.Helper()
	var recs []span
	for off := pcapFileHeaderLen; off < len(b); {
		if off+pcapRecHeaderLen > len(b) {
			t.Fatalf("pcap record header at %d cut", off)
		}
		n := pcapRecHeaderLen + int(le.Uint32(b[off+8:]))
		recs = append(recs, span{off: off, n: n})
		off += n
	}
	return recs
}

// ngSpans returns the blocks of a little-endian pcapng file.
func ngSpans(t testing.TB, b []byte) []span {
	t.Helper()
	var blocks []span
	for off := 0; off < len(b); {
		if off+8 > len(b) {
			t.Fatalf("pcapng block header at %d cut", off)
		}
		blocks = append(blocks, span{off: off, n: int(le.Uint32(b[off+4:])), typ: le.Uint32(b[off:])})
		off += blocks[len(blocks)-1].n
	}
	return blocks
}

// newBase indexes capture data.
func newBase(t testing.TB, data []byte, pcapng bool) *base {
	t.Helper()
	b := &base{data: data, msg: -1}
	if pcapng {
		b.recs = ngSpans(t, data)
	} else {
		b.recs = pcapSpans(t, data)
	}
	for i, r := range b.recs {
		if bytes.Contains(data[r.off:r.off+r.n], []byte(damageNeedle)) {
			b.msg = i
			break
		}
	}
	if b.msg < 0 {
		t.Fatalf("no record carries %q", damageNeedle)
	}
	return b
}

// bases returns msnp7-login.pcap and the pcapng file capgen writes from
// msnp7-login.txt.
func bases(t testing.TB) (pcap, ng *base) {
	t.Helper()
	data, err := os.ReadFile(testdata + "msnp7-login.pcap")
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(testdata + "msnp7-login.txt")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := dissect.ParseTranscript(text)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := capgen.Write(&b, tr, capgen.Options{}, true); err != nil {
		t.Fatal(err)
	}
	return newBase(t, data, false), newBase(t, b.Bytes(), true)
}

// insert returns b with x inserted at offset off.
func insert(b []byte, off int, x []byte) []byte {
	return slices.Concat(b[:off], x, b[off:])
}

// ngBlock returns a pcapng block of type typ with body, padded, and both
// length fields.
func ngBlock(typ uint32, body []byte) []byte {
	n := 12 + (len(body)+3)&^3
	b := le.AppendUint32(nil, typ)
	b = le.AppendUint32(b, uint32(n))
	b = append(b, body...)
	b = append(b, make([]byte, n-8-len(body)-4)...)
	return le.AppendUint32(b, uint32(n))
}

// setLen sets both length fields of the pcapng block r in b to n.
func setLen(b []byte, r span, n uint32) {
	le.PutUint32(b[r.off+4:], n)
	le.PutUint32(b[r.off+r.n-4:], n)
}

// bigEndianPcap returns the pcap file p with its file and record headers
// byte-swapped, as a big-endian host writes it.
func bigEndianPcap(p *base) []byte {
	b := p.bytes()
	for _, f := range [][2]int{{0, 4}, {4, 2}, {6, 2}, {8, 4}, {12, 4}, {16, 4}, {20, 4}} {
		slices.Reverse(b[f[0] : f[0]+f[1]])
	}
	for _, r := range p.recs {
		for i := 0; i < pcapRecHeaderLen; i += 4 {
			slices.Reverse(b[r.off+i : r.off+i+4])
		}
	}
	return b
}

// bigEndianPcapng returns the pcapng file n, as capgen writes it (section
// header, interface description, enhanced packet blocks), with every field
// byte-swapped, as a big-endian host writes it.
func bigEndianPcapng(n *base) []byte {
	b := n.bytes()
	swap := func(off, size int) { slices.Reverse(b[off : off+size]) }
	options := func(off, end int) {
		for off < end {
			code, size := le.Uint16(b[off:]), int(le.Uint16(b[off+2:]))
			swap(off, 2)
			swap(off+2, 2)
			if code == 0 {
				return
			}
			off += 4 + (size+3)&^3
		}
	}
	for _, r := range n.recs {
		end := r.off + r.n - 4
		switch r.typ {
		case ngSHB:
			swap(r.off+8, 4)
			swap(r.off+12, 2)
			swap(r.off+14, 2)
			swap(r.off+16, 8)
			options(r.off+24, end)
		case ngIDB:
			swap(r.off+8, 2)
			swap(r.off+12, 4)
			options(r.off+16, end)
		case ngEPB:
			for i := 8; i < 28; i += 4 {
				swap(r.off+i, 4)
			}
		}
		swap(r.off, 4)
		swap(r.off+4, 4)
		swap(end, 4)
	}
	return b
}

// malformedCase is one file of the corpus.
type malformedCase struct {
	name string // file name in testdata/malformed/
	what string // what is damaged, for README.md
	make func(pcap, ng *base) []byte
	// exit is the expected exit code, and err the error msnsniff prints
	// after "msnsniff: FILE: " ("" for none).
	exit int
	err  string
	// unopened is true when the file header is damaged: the file is not
	// listed in the report.
	unopened bool
	// commands are the command counts (c2s+s2c) of the sessions
	// reported, in order.
	commands []int64
	// packets is the number of packets read from the file, and skipped
	// the counts of those not analysed, by reason (those not 0).
	packets int64
	skipped map[string]int64
}

// Figures of the clean captures, used by the cases: msnp7-login has 60
// packets; its dispatch session has 6 commands, its NS session 42. The
// damaged packet (the MSG, packet 24) comes after 8 commands of the NS
// session.
const (
	cleanPackets = 60
	msgPacket    = 24
	dispatchCmds = 6
	nsCmds       = 42
	nsCmdsBefore = 8
)

// malformedCases lists the corpus. Offsets in err are computed from the
// clean files, so a change of capgen output shows up as a diff of the
// generated files, and of these messages, to review.
func malformedCases(pcap, ng *base) []malformedCase {
	pOff := pcap.at()
	pLen := pcap.recs[pcap.msg].n - pcapRecHeaderLen
	nLen := ng.recs[ng.msg].n
	full := []int64{dispatchCmds, nsCmds}
	cut := []int64{dispatchCmds, nsCmdsBefore}
	return []malformedCase{
		{
			name: "empty.pcap", what: "0 bytes",
			make: func(_, _ *base) []byte { return nil },
			exit: 1, err: "empty file", unopened: true,
		},
		{
			name: "header-only.pcap", what: "the 24-byte pcap file header of msnp7-login.pcap and no record: a valid capture of no packets",
			make: func(p, _ *base) []byte { return p.data[:pcapFileHeaderLen] },
		},
		{
			name: "truncated-file-header.pcap", what: "msnp7-login.pcap cut after 12 bytes, inside the file header",
			make: func(p, _ *base) []byte { return p.data[:12] },
			exit: 1, err: "pcap header: unexpected EOF", unopened: true,
		},
		{
			name: "bad-magic.pcap", what: "msnp7-login.pcap with the first magic byte changed from 0xd4 to 0xd5",
			make: func(p, _ *base) []byte { b := p.bytes(); b[0] = 0xd5; return b },
			exit: 1, err: "not a pcap or pcapng file (magic 0xa1b2c3d5)", unopened: true,
		},
		{
			name: "truncated-record-header.pcap", what: "msnp7-login.pcap cut 7 bytes into the record header of packet 24 (the MSG of the NS login)",
			make: func(p, _ *base) []byte { return p.data[:p.at()+7] },
			exit: 1, err: fmt.Sprintf("packet %d at byte %d: truncated record header (unexpected EOF)", msgPacket, pOff),
			commands: cut, packets: msgPacket - 1,
		},
		{
			name: "truncated-packet-data.pcap", what: "msnp7-login.pcap cut 100 bytes into the data of packet 24 (the MSG of the NS login)",
			make: func(p, _ *base) []byte { return p.data[:p.at()+pcapRecHeaderLen+100] },
			exit: 1, err: fmt.Sprintf("packet %d at byte %d: truncated packet data, %d bytes announced (unexpected EOF)", msgPacket, pOff, pLen),
			commands: cut, packets: msgPacket - 1,
		},
		{
			name: "record-gigabytes.pcap", what: fmt.Sprintf("msnp7-login.pcap with the captured and original lengths of packet 24 set to %#x", hugeLen),
			make: func(p, _ *base) []byte {
				b := p.bytes()
				le.PutUint32(b[p.at()+8:], hugeLen)
				le.PutUint32(b[p.at()+12:], hugeLen)
				return b
			},
			exit: 1, err: fmt.Sprintf("packet %d at byte %d: record too long: %d bytes captured, limit 262144", msgPacket, pOff, hugeLen),
			commands: cut, packets: msgPacket - 1,
		},
		{
			name: "caplen-exceeds-len.pcap", what: "msnp7-login.pcap with the original length of packet 24 set to 60, below its captured length",
			make: func(p, _ *base) []byte { b := p.bytes(); le.PutUint32(b[p.at()+12:], 60); return b },
			exit: 1, err: fmt.Sprintf("packet %d at byte %d: bad record header: capture length exceeds original packet length: %d > 60", msgPacket, pOff, pLen),
			commands: cut, packets: msgPacket - 1,
		},
		{
			name: "record-over-snaplen.pcap", what: "msnp7-login.pcap with a snap length of 64 in the file header; the records are longer. Read whole, as tcpdump and Wireshark do, up to 262144 bytes",
			make:     func(p, _ *base) []byte { b := p.bytes(); le.PutUint32(b[16:], 64); return b },
			commands: full, packets: cleanPackets,
		},
		{
			name: "unknown-linktype.pcap", what: "msnp7-login.pcap with link type 147 (LINKTYPE_USER0): every packet is skipped as unsupported_link",
			make:    func(p, _ *base) []byte { b := p.bytes(); le.PutUint32(b[20:], linkTypeUser0); return b },
			packets: cleanPackets, skipped: map[string]int64{"unsupported_link": cleanPackets},
		},
		{
			name: "zero-length-packets.pcap", what: "msnp7-login.pcap with three empty records (captured length 0; original length 0, 60, 0) before packet 1, before the MSG and at the end: skipped as decode_link",
			make: func(p, _ *base) []byte {
				rec := func(orig uint32) []byte {
					b := le.AppendUint32(nil, 1726321960) // the first packet's second
					b = le.AppendUint32(b, 0)
					b = le.AppendUint32(b, 0)
					return le.AppendUint32(b, orig)
				}
				b := p.bytes()
				// The first record keeps the time of packet 1, so the
				// capture's first time does not change.
				b = append(b, rec(0)...)
				b = insert(b, p.at(), rec(60))
				return insert(b, pcapFileHeaderLen, rec(0))
			},
			commands: full, packets: cleanPackets + 3, skipped: map[string]int64{"decode_link": 3},
		},
		{
			name: "truncated.pcap.gz", what: "msnp7-login.pcap gzip-compressed (stored, no compression, so the bytes are stable) and cut in the middle of packet 24's data",
			make: func(p, _ *base) []byte {
				var b bytes.Buffer
				w, _ := gzip.NewWriterLevel(&b, gzip.NoCompression)
				w.Write(p.data)
				w.Close()
				// A stored block has 5 bytes of header; the gzip header is
				// 10 bytes.
				return b.Bytes()[:10+5+p.at()+pcapRecHeaderLen+100]
			},
			exit: 1, err: fmt.Sprintf("packet %d: truncated packet data, %d bytes announced (unexpected EOF)", msgPacket, pLen),
			commands: cut, packets: msgPacket - 1,
		},
		{
			name: "big-endian.pcap", what: "msnp7-login.pcap rewritten big-endian (every header field byte-swapped): read like the original",
			make:     func(p, _ *base) []byte { return bigEndianPcap(p) },
			commands: full, packets: cleanPackets,
		},
		{
			name: "header-only.pcapng", what: "the section header and interface description blocks of msnp7-login in pcapng: a valid capture of no packets",
			make: func(_, n *base) []byte { return n.data[:n.recs[2].off] },
		},
		{
			name: "truncated-section-header.pcapng", what: "msnp7-login in pcapng cut after 20 bytes, inside the section header block",
			make: func(_, n *base) []byte { return n.data[:20] },
			exit: 1, err: "pcapng header: truncated block (unexpected EOF)", unopened: true,
		},
		{
			name: "bad-byte-order.pcapng", what: "msnp7-login in pcapng with the byte-order magic of the section header changed to 0x1a2b3c4e",
			make: func(_, n *base) []byte { b := n.bytes(); b[8] = 0x4e; return b },
			exit: 1, err: "pcapng header: bad section header block: byte-order magic 0x1a2b3c4e, want 0x1a2b3c4d", unopened: true,
		},
		{
			name: "truncated-block-header.pcapng", what: "msnp7-login in pcapng cut 6 bytes into the enhanced packet block of packet 24 (the MSG)",
			make: func(_, n *base) []byte { return n.data[:n.at()+6] },
			exit: 1, err: fmt.Sprintf("packet %d: truncated block (unexpected EOF)", msgPacket),
			commands: cut, packets: msgPacket - 1,
		},
		{
			name: "truncated-packet-data.pcapng", what: "msnp7-login in pcapng cut 100 bytes into the data of packet 24 (the MSG)",
			make: func(_, n *base) []byte { return n.data[:n.at()+28+100] },
			exit: 1, err: fmt.Sprintf("packet %d: truncated block (unexpected EOF)", msgPacket),
			commands: cut, packets: msgPacket - 1,
		},
		{
			name: "block-length-too-small.pcapng", what: "msnp7-login in pcapng with the total length of packet 24's block set to 8 at both ends",
			make: func(_, n *base) []byte { b := n.bytes(); setLen(b, n.recs[n.msg], 8); return b },
			exit: 1, err: fmt.Sprintf("packet %d: bad enhanced packet block: total length 8, minimum 32", msgPacket),
			commands: cut, packets: msgPacket - 1,
		},
		{
			name: "block-length-unaligned.pcapng", what: "msnp7-login in pcapng with the total length of packet 24's block one more at both ends, not a multiple of 4",
			make: func(_, n *base) []byte { b := n.bytes(); setLen(b, n.recs[n.msg], uint32(nLen+1)); return b },
			exit: 1, err: fmt.Sprintf("packet %d: bad enhanced packet block: total length %d not a multiple of 4", msgPacket, nLen+1),
			commands: cut, packets: msgPacket - 1,
		},
		{
			name: "block-length-trailer-mismatch.pcapng", what: "msnp7-login in pcapng with the trailing total length of packet 24's block 4 more than the leading one",
			make: func(_, n *base) []byte {
				b := n.bytes()
				r := n.recs[n.msg]
				le.PutUint32(b[r.off+r.n-4:], uint32(nLen+4))
				return b
			},
			exit: 1, err: fmt.Sprintf("packet %d: bad enhanced packet block: total length %d at the end, %d at the start", msgPacket, nLen+4, nLen),
			commands: cut, packets: msgPacket - 1,
		},
		{
			name: "block-length-huge.pcapng", what: fmt.Sprintf("msnp7-login in pcapng with the total length of packet 24's block set to %#x at both ends", hugeLen),
			make: func(_, n *base) []byte { b := n.bytes(); setLen(b, n.recs[n.msg], hugeLen); return b },
			exit: 1, err: fmt.Sprintf("packet %d: record too long: block of %d bytes, limit 327712", msgPacket, hugeLen),
			commands: cut, packets: msgPacket - 1,
		},
		{
			name: "epb-caplen-huge.pcapng", what: fmt.Sprintf("msnp7-login in pcapng with the captured and original lengths in packet 24's block set to %#x", hugeLen),
			make: func(_, n *base) []byte {
				b := n.bytes()
				le.PutUint32(b[n.at()+20:], hugeLen)
				le.PutUint32(b[n.at()+24:], hugeLen)
				return b
			},
			exit: 1, err: fmt.Sprintf("packet %d: record too long: %d bytes captured, limit 262144", msgPacket, hugeLen),
			commands: cut, packets: msgPacket - 1,
		},
		{
			name: "epb-caplen-exceeds-block.pcapng", what: "msnp7-login in pcapng with the captured length in packet 24's block 8 more than the block holds",
			make: func(_, n *base) []byte {
				b := n.bytes()
				le.PutUint32(b[n.at()+20:], uint32(nLen-ngEPBFixedLen+8))
				return b
			},
			exit: 1, err: fmt.Sprintf("packet %d: bad enhanced packet block: %d bytes captured, the block holds %d", msgPacket, nLen-ngEPBFixedLen+8, nLen-ngEPBFixedLen),
			commands: cut, packets: msgPacket - 1,
		},
		{
			name: "epb-option-overrun.pcapng", what: "msnp7-login in pcapng with a comment option in packet 24's block that claims 200 bytes and has 8",
			make: func(_, n *base) []byte {
				r := n.recs[n.msg]
				blk := slices.Clone(n.data[r.off : r.off+r.n-4])
				blk = le.AppendUint16(blk, 1) // opt_comment
				blk = le.AppendUint16(blk, 200)
				blk = append(blk, "comment!"...)
				blk = le.AppendUint32(blk, uint32(len(blk)+4))
				le.PutUint32(blk[4:], uint32(len(blk)))
				return slices.Concat(n.data[:r.off], blk, n.data[r.off+r.n:])
			},
			exit: 1, err: fmt.Sprintf("packet %d: bad enhanced packet block: option 1 at byte %d of the block runs past its end", msgPacket, nLen-4),
			commands: cut, packets: msgPacket - 1,
		},
		{
			name: "epb-missing-interface.pcapng", what: "msnp7-login in pcapng with packet 24's block referring to interface 1 where the section has only interface 0",
			make: func(_, n *base) []byte { b := n.bytes(); le.PutUint32(b[n.at()+8:], 1); return b },
			exit: 1, err: fmt.Sprintf("packet %d: bad enhanced packet block: interface 1 not described, the section has 1", msgPacket),
			commands: cut, packets: msgPacket - 1,
		},
		{
			name: "unknown-block.pcapng", what: fmt.Sprintf("msnp7-login in pcapng with blocks of type %#x (local use) after the interface description and before packet 24: skipped, as the pcapng spec requires", ngLocalBlock),
			make: func(_, n *base) []byte {
				b := insert(n.data, n.at(), ngBlock(ngLocalBlock, []byte("not a packet, skip me")))
				return insert(b, n.recs[2].off, ngBlock(ngLocalBlock, nil))
			},
			commands: full, packets: cleanPackets,
		},
		{
			name: "unknown-linktype.pcapng", what: "msnp7-login in pcapng with link type 147 (LINKTYPE_USER0) in the interface description: every packet is skipped as unsupported_link",
			make:    func(_, n *base) []byte { b := n.bytes(); le.PutUint16(b[n.recs[1].off+8:], linkTypeUser0); return b },
			packets: cleanPackets, skipped: map[string]int64{"unsupported_link": cleanPackets},
		},
		{
			name: "zero-length-packets.pcapng", what: "msnp7-login in pcapng with an enhanced packet block of no data (original length 60) before packet 24: skipped as decode_link",
			make: func(_, n *base) []byte {
				r := n.recs[n.msg]
				epb := slices.Clone(n.data[r.off : r.off+28])
				le.PutUint32(epb[4:], ngEPBFixedLen)
				le.PutUint32(epb[20:], 0)
				le.PutUint32(epb[24:], 60)
				epb = le.AppendUint32(epb, ngEPBFixedLen)
				return insert(n.data, r.off, epb)
			},
			commands: full, packets: cleanPackets + 1, skipped: map[string]int64{"decode_link": 1},
		},
		{
			name: "epb-timestamp-huge.pcapng", what: "msnp7-login in pcapng with the timestamp of packet 24 set to 2^64-1 microseconds, in the year 586524",
			make: func(_, n *base) []byte {
				b := n.bytes()
				le.PutUint32(b[n.at()+12:], 0xffffffff)
				le.PutUint32(b[n.at()+16:], 0xffffffff)
				return b
			},
			exit: 1, err: fmt.Sprintf("packet %d: timestamp out of range: 586524-01-19T08:01:49.551615Z, want years 0 to 9999", msgPacket),
			commands: cut, packets: msgPacket - 1,
		},
		{
			name: "big-endian.pcapng", what: "msnp7-login in pcapng rewritten big-endian (every block field byte-swapped): read like the original",
			make:     func(_, n *base) []byte { return bigEndianPcapng(n) },
			commands: full, packets: cleanPackets,
		},
		{
			name: "two-sections.pcapng", what: "msnp7-login in pcapng with a second section (its section header and interface description blocks again) before packet 24, as concatenating two pcapng files makes: read whole",
			make:     func(_, n *base) []byte { return insert(n.data, n.at(), n.data[:n.recs[2].off]) },
			commands: full, packets: cleanPackets,
		},
		{
			name: "name-resolution-and-statistics.pcapng", what: "msnp7-login in pcapng with a name resolution block (10.0.0.5 is ns.example) after the interface description and an interface statistics block at the end, as Wireshark writes them: skipped",
			make: func(_, n *base) []byte {
				nrb := le.AppendUint16(nil, 1) // nrb_record_ipv4
				nrb = le.AppendUint16(nrb, uint16(4+len("ns.example")+1))
				nrb = append(nrb, 10, 0, 0, 5)
				nrb = append(nrb, "ns.example\x00"...)
				nrb = append(nrb, make([]byte, (len(nrb)+3)&^3-len(nrb))...)
				nrb = le.AppendUint32(nrb, 0) // nrb_record_end
				isb := le.AppendUint32(nil, 0)
				isb = le.AppendUint32(isb, 0)
				isb = le.AppendUint32(isb, 0)
				isb = le.AppendUint16(isb, 4) // isb_ifrecv
				isb = le.AppendUint16(isb, 8)
				isb = le.AppendUint64(isb, cleanPackets)
				isb = le.AppendUint32(isb, 0) // opt_endofopt
				b := append(slices.Clone(n.data), ngBlock(ngISB, isb)...)
				return insert(b, n.recs[2].off, ngBlock(ngNRB, nrb))
			},
			commands: full, packets: cleanPackets,
		},
		{
			name: "idb-option-overrun.pcapng", what: "msnp7-login in pcapng with the if_tsresol option of the interface description claiming 12 bytes where the block has 8 left",
			make: func(_, n *base) []byte {
				b := n.bytes()
				le.PutUint16(b[n.recs[1].off+18:], 12)
				return b
			},
			exit: 1, err: "packet 1: bad interface description block: option 9 at byte 16 of the block runs past its end",
		},
		{
			name: "unknown-block-huge.pcapng", what: fmt.Sprintf("msnp7-login in pcapng with a block of type %#x claiming %#x bytes before packet 24: skipped by its length, which runs past the end of the file", ngLocalBlock, hugeLen),
			make: func(_, n *base) []byte {
				blk := ngBlock(ngLocalBlock, []byte("not a packet, skip me"))
				le.PutUint32(blk[4:], hugeLen)
				return insert(n.data, n.at(), blk)
			},
			exit: 1, err: fmt.Sprintf("packet %d: truncated block (unexpected EOF)", msgPacket),
			commands: cut, packets: msgPacket - 1,
		},
		{
			name: "unknown-block-trailer-mismatch.pcapng", what: fmt.Sprintf("msnp7-login in pcapng with a block of type %#x before packet 24 whose trailing total length is 4 more than the leading one", ngLocalBlock),
			make: func(_, n *base) []byte {
				blk := ngBlock(ngLocalBlock, []byte("not a packet, skip me"))
				le.PutUint32(blk[len(blk)-4:], uint32(len(blk)+4))
				return insert(n.data, n.at(), blk)
			},
			exit: 1, err: fmt.Sprintf("packet %d: bad block of type %#x: total length 40 at the end, 36 at the start", msgPacket, ngLocalBlock),
			commands: cut, packets: msgPacket - 1,
		},
	}
}

// TestMalformedCorpus checks that the corpus is what the generator makes
// (-update rewrites it, its README and the goldens), and that msnsniff
// reports each file as documented: the exit code, the error naming the
// file and the place of the damage, and a report of everything before it.
func TestMalformedCorpus(t *testing.T) {
	pcap, ng := bases(t)
	cases := malformedCases(pcap, ng)
	if *update {
		writeMalformed(t, pcap, ng, cases)
	}
	// Run every case first, so that expected.txt is whole whatever -run
	// selects.
	type result struct {
		out, stderr string
		code        int
	}
	results := make([]result, len(cases))
	var expected strings.Builder
	expected.WriteString(expectedHead)
	for i, tc := range cases {
		out, stderr, code := runCLI(t, nil, "-T", "json", malformedDir+tc.name)
		results[i] = result{out, stderr, code}
		fmt.Fprintf(&expected, "\n== %s\nexit %d\n%s", tc.name, code, stderr)
	}
	checkGolden(t, malformedDir+"expected.txt", expected.String())
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := malformedDir + tc.name
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if want := tc.make(pcap, ng); !bytes.Equal(got, want) {
				t.Fatalf("%s differs from what its generator makes; run go test ./cmd/msnsniff -update", path)
			}
			r := results[i]
			checkGolden(t, path+".json.golden", r.out)
			checkMalformedRun(t, tc, path, r.out, r.stderr, r.code)
		})
	}
}

const expectedHead = `# The exit code and stderr of msnsniff -T json FILE for each file here, run
# from cmd/msnsniff. Written by go test ./cmd/msnsniff -run TestMalformedCorpus -update.
`

// checkMalformedRun checks one run against the case's expectations.
func checkMalformedRun(t *testing.T, tc malformedCase, path, out, stderr string, code int) {
	t.Helper()
	if code != tc.exit {
		t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.exit, stderr)
	}
	var wantErrs []string
	if tc.err != "" {
		wantErrs = []string{path + ": " + tc.err}
	}
	var gotErrs []string
	for _, l := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		if msg, ok := strings.CutPrefix(l, "msnsniff: "); ok && strings.HasPrefix(msg, path) {
			gotErrs = append(gotErrs, msg)
		} else if l != "" && !strings.Contains(l, " anomalies: ") {
			t.Errorf("unexpected stderr line %q", l)
		}
	}
	if diff := cmp.Diff(wantErrs, gotErrs); diff != "" {
		t.Errorf("errors on stderr (-want +got):\n%s", diff)
	}
	var r report.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("stdout is not JSON: %v", err)
	}
	if diff := cmp.Diff(wantErrs, r.Capture.Errors, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("capture.errors (-want +got):\n%s", diff)
	}
	if tc.unopened {
		if len(r.Capture.Files) != 0 {
			t.Errorf("files %+v for a file that could not be opened", r.Capture.Files)
		}
	} else if len(r.Capture.Files) != 1 {
		t.Fatalf("files %+v, want 1", r.Capture.Files)
	} else if f := r.Capture.Files[0]; f.Complete != (tc.exit == 0) || f.Packets != tc.packets {
		t.Errorf("file %+v: want complete %v, %d packets", f, tc.exit == 0, tc.packets)
	}
	skipped := map[string]int64{}
	for _, c := range r.Capture.Skipped {
		if c.Count != 0 {
			skipped[c.Name] = c.Count
		}
	}
	if diff := cmp.Diff(tc.skipped, skipped, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("capture.skipped (-want +got):\n%s", diff)
	}
	var cmds []int64
	for _, s := range r.Sessions {
		cmds = append(cmds, s.Commands.C2S+s.Commands.S2C)
	}
	if diff := cmp.Diff(tc.commands, cmds, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("commands per session (-want +got):\n%s", diff)
	}
	if len(tc.commands) > 0 && r.Sessions[0].Kind != "dispatch" {
		t.Errorf("session 1 is %s, want the dispatch session", r.Sessions[0].Kind)
	}
}

// writeMalformed rewrites the corpus files and README.md.
func writeMalformed(t *testing.T, pcap, ng *base, cases []malformedCase) {
	t.Helper()
	if err := os.MkdirAll(malformedDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var readme strings.Builder
	readme.WriteString(readmeHead)
	for _, tc := range cases {
		if err := os.WriteFile(malformedDir+tc.name, tc.make(pcap, ng), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&readme, "| `%s` | %s |\n", tc.name, tc.what)
	}
	readme.WriteString(readmeTail)
	if err := os.WriteFile(malformedDir+"README.md", []byte(readme.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

const readmeHead = `# testdata/malformed

Damaged captures: msnsniff must read each without crashing, name the file
and the place of the damage, report everything before it and exit 1 only
when the file could not be read to its end.

Every file is made by ` + "`malformedCases`" + ` in ` + "`cmd/msnsniff/malformed_test.go`" + ` from
` + "`testdata/msnp7-login.pcap`" + ` or from the pcapng file that capgen writes from
` + "`testdata/msnp7-login.txt`" + ` (SHB, IDB, one EPB per packet), and rewritten, with
this README and the goldens, by ` + "`go test ./cmd/msnsniff -run TestMalformedCorpus -update`" + `.
Packet 24 of both carries the MSG of the notification session's login: the
dispatch session (6 commands) and 8 commands of the notification session
come before it. ` + "`<file>.json.golden`" + ` is the ` + "`-T json`" + ` report of each file and
` + "`expected.txt`" + ` the exit code and stderr of each run.

| file | what it holds |
|---|---|
`

const readmeTail = `
The fuzz targets of ` + "`cmd/msnsniff/fuzz_test.go`" + ` start from these files too;
` + "`testdata/fuzz/`" + ` keeps the inputs they found that failed.
`

// TestMalformedMemory checks that records claiming gigabytes are refused
// before anything is allocated for them.
func TestMalformedMemory(t *testing.T) {
	for _, name := range []string{"record-gigabytes.pcap", "block-length-huge.pcapng", "epb-caplen-huge.pcapng"} {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, _, code := runCLI(t, nil, "-T", "json", malformedDir+name)
			runtime.ReadMemStats(&after)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			// The read buffer and the analysis of 30 packets take a few
			// MB; a record of 4 GB would take 4 GB.
			const limit = 32 << 20
			if n := after.TotalAlloc - before.TotalAlloc; n > limit {
				t.Errorf("allocated %d bytes, limit %d", n, limit)
			}
		})
	}
}

// TestMalformedStdin checks that a damaged file read from stdin is named
// "stdin" and located the same way.
func TestMalformedStdin(t *testing.T) {
	data, err := os.ReadFile(malformedDir + "truncated-packet-data.pcap")
	if err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runCLI(t, data, "-T", "json", "-r", "-")
	want := fmt.Sprintf("msnsniff: stdin: packet %d at byte ", msgPacket)
	if code != 1 || !strings.HasPrefix(stderr, want) {
		t.Errorf("exit %d, stderr %q; want 1 and %q...", code, stderr, want)
	}
}

// TestMalformedWithGoodFile checks that a damaged file does not stop the
// analysis of another file given with it.
func TestMalformedWithGoodFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.pcap")
	data, err := os.ReadFile(testdata + "msnp7-login.pcap")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code := runCLI(t, nil, "-T", "json", malformedDir+"truncated-record-header.pcap", good)
	var r report.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if code != 1 || len(r.Capture.Files) != 2 || !r.Capture.Files[1].Complete || r.Capture.Files[0].Complete {
		t.Errorf("exit %d, files %+v; want 1, the first incomplete, the second complete", code, r.Capture.Files)
	}
}
