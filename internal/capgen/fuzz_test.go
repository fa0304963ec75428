package capgen

import (
	"net/netip"
	"testing"

	"github.com/msnsniff/msnsniff/dissect"
)

// FuzzPackets builds transcripts and options from the fuzzer's bytes and
// checks every capture with verify: no panic, and valid TCP that carries
// exactly the transcript's bytes. The first 7 bytes choose the options;
// then each event is one header byte (connection, direction, length)
// followed by its data.
func FuzzPackets(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\x00\x14VER 1\x16VER 1 X"))
	f.Add([]byte("\x07\x80\x80\x04\x01\x2a\x01\x28MSG 1 2 3\r\n\x2aMSG 1 2 3\r\n\x00\x01\x7cPNG"))
	f.Add([]byte("\x01\xff\xff\x03\x03\x07\x00\xfcPNG\r\nPNG\r\nPNG\r\nPNG\r\nPNG\r\nPNG\r\nPNG\r\nPNG\r\nPNG\r\nPNG\r\n\xfd0123456789"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 7 {
			return
		}
		opt := Options{
			Segment:     int(data[0] % 16),
			Reorder:     float64(data[1]) / 255,
			Duplicate:   float64(data[2]) / 255,
			NoHandshake: data[3]&1 != 0,
			NoFIN:       data[3]&2 != 0,
			WrapSeq:     data[3]&4 != 0,
			Link:        Link(data[4] % uint8(numLinks)),
			Seed:        int64(data[5]),
		}
		tr := &dissect.Transcript{Conns: []dissect.TranscriptConn{{Client: cl0, Server: sv0}, {Client: cl1, Server: sv1}}}
		if data[6]&1 != 0 {
			tr.Conns[1] = dissect.TranscriptConn{
				Client: netip.MustParseAddrPort("[2001:db8::2]:50000"),
				Server: netip.MustParseAddrPort("[2001:db8::1]:1863"),
			}
		}
		for rest := data[7:]; len(rest) > 0; {
			h := rest[0]
			n := min(int(h>>2), len(rest)-1)
			tr.Events = append(tr.Events, dissect.TranscriptEvent{Conn: int(h & 1), Dir: dissect.Dir(h >> 1 & 1), Data: rest[1 : 1+n]})
			rest = rest[1+n:]
		}
		pkts, err := Packets(tr, opt)
		if err != nil {
			t.Fatalf("Packets: %v", err)
		}
		lt, _ := opt.Link.Type()
		if _, err := verify(tr, opt, lt, recordsOf(pkts)); err != nil {
			t.Fatal(err)
		}
	})
}
