package capgen

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/msnsniff/msnsniff/dissect"
)

var (
	cl0 = netip.MustParseAddrPort("192.168.0.2:50000")
	sv0 = netip.MustParseAddrPort("10.0.0.1:1863")
	cl1 = netip.MustParseAddrPort("192.168.0.2:50001")
	sv1 = netip.MustParseAddrPort("10.0.0.5:1863")
)

// ev is shorthand for a transcript event.
func ev(conn int, d dissect.Dir, data string) dissect.TranscriptEvent {
	return dissect.TranscriptEvent{Conn: conn, Dir: d, Data: []byte(data)}
}

// msgPayload returns an MSG command with an n-byte payload holding every
// byte value.
func msgPayload(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "MSG Hotmail Hotmail %d\r\n", n)
	for i := range n {
		b.WriteByte(byte(i * 7))
	}
	return b.String()
}

// transcripts returns the test transcripts: two interleaved IPv4
// connections with back-to-back commands in one direction, a payload
// larger than AckThreshold and waits; IPv6 and IPv4-mapped connections;
// and a connection without events next to one that only the client
// speaks on.
func transcripts() map[string]*dissect.Transcript {
	const c, s = dissect.C2S, dissect.S2C
	ipv4 := &dissect.Transcript{
		Conns: []dissect.TranscriptConn{{Client: cl0, Server: sv0}, {Client: cl1, Server: sv1}},
		Events: []dissect.TranscriptEvent{
			ev(0, c, "VER 1 MSNP8 CVR0\r\n"),
			ev(0, s, "VER 1 MSNP8\r\n"),
			ev(1, c, "VER 4 MSNP8 CVR0\r\n"),
			ev(0, c, "CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS example@hotmail.com\r\n"),
			ev(0, c, "USR 3 TWN I example@hotmail.com\r\n"),
			ev(1, s, "VER 4 MSNP8\r\n"),
			ev(1, s, msgPayload(5000)),
			ev(0, s, "XFR 3 NS 10.0.0.5:1863 0 10.0.0.1:1863\r\n"),
			{Conn: 1, Dir: c, Wait: 200 * time.Millisecond, Data: []byte("CHG 5 NLN 0\r\n")},
			ev(1, s, "CHG 5 NLN 0\r\n"),
			ev(1, c, "OUT\r\n"),
		},
	}
	ipv6 := &dissect.Transcript{
		Conns: []dissect.TranscriptConn{
			{Client: netip.MustParseAddrPort("[2001:db8::2]:50000"), Server: netip.MustParseAddrPort("[2001:db8::1]:1863")},
			{Client: netip.MustParseAddrPort("[::ffff:192.0.2.7]:40000"), Server: netip.MustParseAddrPort("[::ffff:192.0.2.1]:1863")},
		},
		Events: []dissect.TranscriptEvent{
			ev(0, c, "VER 1 MSNP15 CVR0\r\n"),
			ev(1, c, "VER 1 MSNP15 CVR0\r\n"),
			ev(0, s, "VER 1 MSNP15\r\n"),
			ev(0, c, msgPayload(3000)),
			ev(1, s, "VER 1 MSNP15\r\n"),
			ev(0, s, "OUT\r\n"),
		},
	}
	oneSided := &dissect.Transcript{
		Conns: []dissect.TranscriptConn{{Client: cl0, Server: sv0}, {Client: cl1, Server: sv1}},
		Events: []dissect.TranscriptEvent{
			ev(1, c, "PNG\r\n"),
			ev(1, c, ""),
			ev(1, c, msgPayload(1500)),
		},
	}
	return map[string]*dissect.Transcript{"ipv4": ipv4, "ipv6": ipv6, "one-sided": oneSided}
}

// readBack writes pkts with the writer the test index picks and reads the
// file back.
func readBack(t *testing.T, link Link, snaplen int, pkts []Packet, pcapng bool) *capture {
	t.Helper()
	var buf bytes.Buffer
	write, read := WritePcap, readPcap
	if pcapng {
		write, read = WritePcapng, readPcapng
	}
	if err := write(&buf, link, snaplen, pkts); err != nil {
		t.Fatalf("write: %v", err)
	}
	c, err := read(buf.Bytes())
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	lt, _ := link.Type()
	if c.linkType != lt || len(c.recs) != len(pkts) {
		t.Fatalf("read back link type %d, %d records; want %d, %d", c.linkType, len(c.recs), lt, len(pkts))
	}
	return c
}

// TestPackets checks every option combination: each capture is written,
// read back with the test's own parser and checked packet by packet.
func TestPackets(t *testing.T) {
	impairs := []struct {
		name               string
		reorder, duplicate float64
	}{
		{"clean", 0, 0},
		{"reorder", 0.5, 0},
		{"duplicate", 0, 0.5},
		{"both", 0.3, 0.3},
	}
	seqs := []struct {
		name string
		isn  uint32
		wrap bool
	}{
		{"default-isn", 0, false},
		{"isn", 12345, false},
		{"wrap", 0, true},
	}
	n := 0
	for tname, tr := range transcripts() {
		for _, segment := range []int{0, 1, 7, 1460} {
			for _, imp := range impairs {
				for _, sq := range seqs {
					n++
					opt := Options{
						Segment:     segment,
						Reorder:     imp.reorder,
						Duplicate:   imp.duplicate,
						Seed:        int64(n),
						ISN:         sq.isn,
						WrapSeq:     sq.wrap,
						NoHandshake: n%3 == 1,
						NoFIN:       n%4 == 2,
						Link:        Link(n % int(numLinks)),
					}
					pcapng := n%2 == 0
					name := fmt.Sprintf("%s/seg=%d/%s/%s/%v/pcapng=%v/hs=%v/fin=%v", tname, segment, imp.name, sq.name, opt.Link, pcapng, !opt.NoHandshake, !opt.NoFIN)
					t.Run(name, func(t *testing.T) {
						pkts, err := Packets(tr, opt)
						if err != nil {
							t.Fatalf("Packets: %v", err)
						}
						c := readBack(t, opt.Link, 0, pkts, pcapng)
						for i, r := range c.recs {
							if !r.time.Equal(pkts[i].Time.Truncate(time.Microsecond)) || !bytes.Equal(r.data, pkts[i].Data) {
								t.Fatalf("record %d differs from packet %d", i+1, i+1)
							}
						}
						st, err := verify(tr, opt, c.linkType, c.recs)
						if err != nil {
							t.Fatal(err)
						}
						if sq.wrap && !st.wrapped {
							t.Errorf("WrapSeq: no sequence number wrapped")
						}
						if imp.duplicate == 0 && st.duplicates != 0 {
							t.Errorf("%d duplicates without Duplicate", st.duplicates)
						}
						if imp.reorder == 0 && imp.duplicate == 0 && st.outOfOrder != 0 {
							t.Errorf("%d segments out of order without Reorder", st.outOfOrder)
						}
						t.Logf("%+v", st)
					})
				}
			}
		}
	}
}

// TestImpairmentsHappen checks that Reorder and Duplicate do what they say
// when the probability is high enough to be sure.
func TestImpairmentsHappen(t *testing.T) {
	tr := transcripts()["ipv4"]
	tests := []struct {
		name             string
		opt              Options
		outOfOrder, dups bool
		minPureACKs      int
	}{
		{name: "clean", opt: Options{Segment: 7}, minPureACKs: 1},
		{name: "reorder", opt: Options{Segment: 7, Reorder: 0.5}, outOfOrder: true},
		{name: "reorder whole events", opt: Options{Reorder: 1}, outOfOrder: true},
		{name: "duplicate", opt: Options{Segment: 7, Duplicate: 0.5}, dups: true},
		{name: "duplicate all", opt: Options{Duplicate: 1}, dups: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkts, err := Packets(tr, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			st, err := verify(tr, tt.opt, 1, recordsOf(pkts))
			if err != nil {
				t.Fatal(err)
			}
			if (st.outOfOrder > 0) != tt.outOfOrder || (st.duplicates > 0) != tt.dups || st.pureACKs < tt.minPureACKs {
				t.Errorf("got %+v; want out of order %v, duplicates %v, pure ACKs >= %d", st, tt.outOfOrder, tt.dups, tt.minPureACKs)
			}
		})
	}
}

// TestDeterministic checks that a seed fixes the output and that another
// seed changes it.
func TestDeterministic(t *testing.T) {
	tr := transcripts()["ipv4"]
	opt := Options{Segment: 7, Reorder: 0.3, Duplicate: 0.3, Seed: 42}
	write := func(opt Options) []byte {
		var buf bytes.Buffer
		if err := Write(&buf, tr, opt, false); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	a, b := write(opt), write(opt)
	if !bytes.Equal(a, b) {
		t.Errorf("two runs with seed 42 differ")
	}
	p1, _ := Packets(tr, opt)
	p2, _ := Packets(tr, opt)
	if !reflect.DeepEqual(p1, p2) {
		t.Errorf("Packets differ between two runs")
	}
	opt.Seed = 43
	if bytes.Equal(a, write(opt)) {
		t.Errorf("seeds 42 and 43 give the same capture")
	}
}

// TestTiming checks the packet times of a clean capture.
func TestTiming(t *testing.T) {
	const c, s = dissect.C2S, dissect.S2C
	start := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	tr := &dissect.Transcript{
		Conns: []dissect.TranscriptConn{{Client: cl0, Server: sv0}},
		Events: []dissect.TranscriptEvent{
			ev(0, c, "PNG\r\n"),
			{Conn: 0, Dir: s, Wait: time.Second, Data: []byte("QNG 50\r\n")},
			ev(0, c, "OUT\r\n"),
		},
	}
	us := time.Microsecond
	tests := []struct {
		name string
		opt  Options
		want []time.Duration // from start
	}{
		{"default", Options{Start: start}, []time.Duration{
			0, 10 * us, 20 * us, 30 * us, // handshake, PNG
			time.Second + time.Millisecond,                                             // QNG
			time.Second + 2*time.Millisecond, time.Second + 2*time.Millisecond + 10*us, // OUT, FIN
			time.Second + 2*time.Millisecond + 20*us, time.Second + 2*time.Millisecond + 30*us,
		}},
		{"step and 1-byte segments overrun", Options{Start: start, Step: 15 * us, Segment: 1, NoHandshake: true, NoFIN: true}, []time.Duration{
			0, 10 * us, 20 * us, 30 * us, 40 * us, // PNG at 0
			time.Second + 15*us, time.Second + 25*us, time.Second + 35*us, time.Second + 45*us, // QNG at 1s+15µs
			time.Second + 55*us, time.Second + 65*us, time.Second + 75*us, time.Second + 85*us,
			time.Second + 95*us, time.Second + 105*us, time.Second + 115*us, time.Second + 125*us, // OUT, due at 1s+30µs
			time.Second + 135*us,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkts, err := Packets(tr, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			var got []time.Duration
			for _, p := range pkts {
				got = append(got, p.Time.Sub(start))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("times = %v, want %v", got, tt.want)
			}
		})
	}
	pkts, err := Packets(tr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2024, 9, 14, 13, 52, 40, 0, time.UTC); !pkts[0].Time.Equal(want) {
		t.Errorf("default start = %v, want %v", pkts[0].Time, want)
	}
}

// TestSnaplen checks that frames are cut to the snapshot length with their
// original length kept, in Packets and in both file formats.
func TestSnaplen(t *testing.T) {
	tr := transcripts()["ipv4"]
	full, err := Packets(tr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, snaplen := range []int{1, 60, 100} {
		for _, pcapng := range []bool{false, true} {
			t.Run(fmt.Sprintf("snaplen=%d/pcapng=%v", snaplen, pcapng), func(t *testing.T) {
				opt := Options{Snaplen: snaplen}
				pkts, err := Packets(tr, opt)
				if err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				if err := Write(&buf, tr, opt, pcapng); err != nil {
					t.Fatal(err)
				}
				read := readPcap
				if pcapng {
					read = readPcapng
				}
				c, err := read(buf.Bytes())
				if err != nil {
					t.Fatal(err)
				}
				if c.snaplen != uint32(snaplen) || len(c.recs) != len(full) || len(pkts) != len(full) {
					t.Fatalf("snaplen %d, %d records, %d packets; want %d, %d, %d", c.snaplen, len(c.recs), len(pkts), snaplen, len(full), len(full))
				}
				cut := 0
				for i, f := range full {
					wantData := f.Data[:min(len(f.Data), snaplen)]
					if !bytes.Equal(pkts[i].Data, wantData) || pkts[i].OrigLen != len(f.Data) {
						t.Fatalf("packet %d: %d of %d bytes, want %d of %d", i+1, len(pkts[i].Data), pkts[i].OrigLen, len(wantData), len(f.Data))
					}
					if r := c.recs[i]; !bytes.Equal(r.data, wantData) || r.orig != len(f.Data) {
						t.Fatalf("record %d: %d of %d bytes, want %d of %d", i+1, len(r.data), r.orig, len(wantData), len(f.Data))
					}
					if len(wantData) < len(f.Data) {
						cut++
					}
				}
				if cut == 0 {
					t.Errorf("no packet was cut")
				}
			})
		}
	}
	// The writers also cut packets that are longer than their snaplen.
	var buf bytes.Buffer
	if err := WritePcap(&buf, Ethernet, 54, full); err != nil {
		t.Fatal(err)
	}
	c, err := readPcap(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range c.recs {
		if len(r.data) != min(54, len(full[i].Data)) || r.orig != len(full[i].Data) {
			t.Fatalf("WritePcap snaplen 54: record %d has %d of %d bytes", i+1, len(r.data), r.orig)
		}
	}
}

// TestAppendDoesNotClobber checks that each Packet.Data owns its bytes.
func TestAppendDoesNotClobber(t *testing.T) {
	pkts, err := Packets(transcripts()["ipv4"], Options{Snaplen: 60})
	if err != nil {
		t.Fatal(err)
	}
	second := bytes.Clone(pkts[1].Data)
	_ = append(pkts[0].Data, 0xff, 0xff, 0xff)
	if !bytes.Equal(pkts[1].Data, second) {
		t.Errorf("appending to packet 1 changed packet 2")
	}
}

// TestFrameHeaders checks the first frame of each link type byte by byte:
// the client's SYN from 192.168.0.2:50000 to 10.0.0.1:1863.
func TestFrameHeaders(t *testing.T) {
	const ipTCP = "4500002c" + // version, IHL, TOS, total length 44
		"%s4000" + // id, DF
		"4006%s" + // TTL 64, TCP, checksum
		"c0a80002" + "0a000001" + // addresses
		"c3500747" + // ports 50000, 1863
		"00003039" + "00000000" + // seq 12345, ack 0
		"6002ffff" + "%s0000" + // data offset 6, SYN, window, checksum, urgent
		"020405b4" // MSS 1460
	tests := []struct {
		link Link
		want string
	}{
		{Ethernet, "02000a000001" + "0200c0a80002" + "0800"},
		{EthernetVLAN, "02000a000001" + "0200c0a80002" + "8100" + "0064" + "0800"},
		{LinuxSLL, "0004" + "0001" + "0006" + "0200c0a80002" + "0000" + "0800"},
		{RawIP, ""},
		{Null, "02000000"},
	}
	for _, tt := range tests {
		t.Run(tt.link.String(), func(t *testing.T) {
			tr := transcripts()["ipv4"]
			pkts, err := Packets(tr, Options{Link: tt.link, ISN: 12345})
			if err != nil {
				t.Fatal(err)
			}
			got := fmt.Sprintf("%x", pkts[0].Data)
			ip := got[len(tt.want):]
			// Fill in the id and checksums from the frame; decodeFrame
			// has verified the checksums in TestPackets.
			want := tt.want + fmt.Sprintf(ipTCP, ip[8:12], ip[20:24], ip[72:76])
			if got != want {
				t.Errorf("frame = %s\nwant    %s", got, want)
			}
			lt, _ := tt.link.Type()
			if _, err := decodeFrame(lt, pkts[0].Data); err != nil {
				t.Errorf("decodeFrame: %v", err)
			}
		})
	}
	// IPv6 over Null uses address family 24.
	pkts, err := Packets(transcripts()["ipv6"], Options{Link: Null})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%x", pkts[0].Data[:5]); got != "1800000060" {
		t.Errorf("IPv6 null frame starts %s, want 1800000060", got)
	}
}

// TestEmpty checks transcripts without events.
func TestEmpty(t *testing.T) {
	for _, tr := range []*dissect.Transcript{{}, {Conns: []dissect.TranscriptConn{{Client: cl0, Server: sv0}}}} {
		pkts, err := Packets(tr, Options{})
		if err != nil || len(pkts) != 0 {
			t.Errorf("Packets(%+v) = %d packets, %v; want 0, nil", tr, len(pkts), err)
		}
		var buf bytes.Buffer
		if err := Write(&buf, tr, Options{}, false); err != nil || buf.Len() != 24 {
			t.Errorf("Write(%+v) = %d bytes, %v; want 24, nil", tr, buf.Len(), err)
		}
	}
}

// TestOptionErrors checks that every invalid option is refused.
func TestOptionErrors(t *testing.T) {
	tr := transcripts()["ipv4"]
	tests := []struct {
		name string
		opt  Options
		want error
	}{
		{"negative step", Options{Step: -1}, ErrOptions},
		{"negative segment", Options{Segment: -1}, ErrOptions},
		{"huge segment", Options{Segment: MaxSegment + 1}, ErrOptions},
		{"negative reorder", Options{Reorder: -0.1}, ErrOptions},
		{"reorder above 1", Options{Reorder: 1.1}, ErrOptions},
		{"NaN reorder", Options{Reorder: math.NaN()}, ErrOptions},
		{"NaN duplicate", Options{Duplicate: math.NaN()}, ErrOptions},
		{"duplicate above 1", Options{Duplicate: 2}, ErrOptions},
		{"ISN and WrapSeq", Options{ISN: 1, WrapSeq: true}, ErrOptions},
		{"unknown link", Options{Link: numLinks}, ErrLink},
		{"negative snaplen", Options{Snaplen: -1}, ErrOptions},
		{"huge step", Options{Step: math.MaxInt64}, ErrTimestamp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Packets(tr, tt.opt)
			if !errors.Is(err, tt.want) {
				t.Errorf("Packets(%+v) error = %v, want %v", tt.opt, err, tt.want)
			}
			if err := Write(new(bytes.Buffer), tr, tt.opt, false); !errors.Is(err, tt.want) {
				t.Errorf("Write(%+v) error = %v, want %v", tt.opt, err, tt.want)
			}
		})
	}
	if _, err := Packets(tr, Options{Segment: MaxSegment, Snaplen: MaxSnaplen}); err != nil {
		t.Errorf("largest Segment and Snaplen: %v", err)
	}
}

// TestTranscriptErrors checks that transcripts TCP cannot carry are
// refused.
func TestTranscriptErrors(t *testing.T) {
	const c, s = dissect.C2S, dissect.S2C
	v6 := netip.MustParseAddrPort("[2001:db8::1]:1863")
	one := []dissect.TranscriptConn{{Client: cl0, Server: sv0}}
	tests := []struct {
		name string
		tr   *dissect.Transcript
	}{
		{"nil", nil},
		{"conn out of range", &dissect.Transcript{Conns: one, Events: []dissect.TranscriptEvent{ev(1, c, "PNG\r\n")}}},
		{"negative conn", &dissect.Transcript{Conns: one, Events: []dissect.TranscriptEvent{ev(-1, c, "PNG\r\n")}}},
		{"no conns", &dissect.Transcript{Events: []dissect.TranscriptEvent{ev(0, c, "PNG\r\n")}}},
		{"bad direction", &dissect.Transcript{Conns: one, Events: []dissect.TranscriptEvent{ev(0, 7, "PNG\r\n")}}},
		{"negative wait", &dissect.Transcript{Conns: one, Events: []dissect.TranscriptEvent{{Conn: 0, Dir: s, Wait: -1, Data: []byte("x")}}}},
		{"invalid client", &dissect.Transcript{Conns: []dissect.TranscriptConn{{Server: sv0}}}},
		{"invalid server", &dissect.Transcript{Conns: []dissect.TranscriptConn{{Client: cl0}}}},
		{"mixed families", &dissect.Transcript{Conns: []dissect.TranscriptConn{{Client: cl0, Server: v6}}}},
		{"same endpoint", &dissect.Transcript{Conns: []dissect.TranscriptConn{{Client: cl0, Server: cl0}}}},
		{"overlapping twins", &dissect.Transcript{
			Conns:  []dissect.TranscriptConn{{Client: cl0, Server: sv0}, {Client: sv0, Server: cl0}},
			Events: []dissect.TranscriptEvent{ev(0, c, "a"), ev(1, c, "b"), ev(0, s, "c")},
		}},
		{"wait overflow", &dissect.Transcript{Conns: one, Events: []dissect.TranscriptEvent{
			{Conn: 0, Dir: c, Wait: math.MaxInt64, Data: []byte("a")},
			{Conn: 0, Dir: c, Wait: math.MaxInt64, Data: []byte("b")},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Packets(tt.tr, Options{})
			if !errors.Is(err, ErrTranscript) && !errors.Is(err, ErrTimestamp) {
				t.Errorf("Packets error = %v, want ErrTranscript or ErrTimestamp", err)
			}
		})
	}
	// Twins one after the other are fine: the port is reused.
	twins := &dissect.Transcript{
		Conns:  []dissect.TranscriptConn{{Client: cl0, Server: sv0}, {Client: cl0, Server: sv0}},
		Events: []dissect.TranscriptEvent{ev(0, c, "a"), ev(0, s, "c"), ev(1, c, "b")},
	}
	if _, err := Packets(twins, Options{}); err != nil {
		t.Errorf("sequential twins: %v", err)
	}
	// Also when the later one is declared first.
	twins.Events = []dissect.TranscriptEvent{ev(1, c, "a"), ev(1, s, "c"), ev(0, c, "b")}
	if _, err := Packets(twins, Options{}); err != nil {
		t.Errorf("sequential twins declared out of order: %v", err)
	}
}

// TestTooManyPackets checks the MaxPackets bound.
func TestTooManyPackets(t *testing.T) {
	tr := &dissect.Transcript{
		Conns:  []dissect.TranscriptConn{{Client: cl0, Server: sv0}},
		Events: []dissect.TranscriptEvent{{Conn: 0, Dir: dissect.C2S, Data: make([]byte, MaxPackets)}},
	}
	if _, err := Packets(tr, Options{Segment: 1}); !errors.Is(err, ErrTooManyPackets) {
		t.Errorf("Packets error = %v, want ErrTooManyPackets", err)
	}
}

// TestWriterErrors checks the writers' argument and time checks.
func TestWriterErrors(t *testing.T) {
	pkt := func(tm time.Time) []Packet { return []Packet{{Time: tm, Data: []byte{1, 2, 3}, OrigLen: 3}} }
	tests := []struct {
		name    string
		link    Link
		snaplen int
		pkts    []Packet
		pcap    error // from WritePcap
		pcapng  error // from WritePcapng
	}{
		{"ok", Ethernet, 0, pkt(time.Unix(1, 0)), nil, nil},
		{"unknown link", numLinks, 0, nil, ErrLink, ErrLink},
		{"negative snaplen", Ethernet, -1, nil, ErrOptions, ErrOptions},
		{"before 1970", Ethernet, 0, pkt(time.Unix(-1, 0)), ErrTimestamp, ErrTimestamp},
		{"after 2106", RawIP, 0, pkt(time.Unix(1<<32, 0)), ErrTimestamp, nil},
		{"year 300000", RawIP, 0, pkt(time.Date(300000, 1, 1, 0, 0, 0, 0, time.UTC)), ErrTimestamp, ErrTimestamp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := WritePcap(new(bytes.Buffer), tt.link, tt.snaplen, tt.pkts); !errors.Is(err, tt.pcap) {
				t.Errorf("WritePcap error = %v, want %v", err, tt.pcap)
			}
			if err := WritePcapng(new(bytes.Buffer), tt.link, tt.snaplen, tt.pkts); !errors.Is(err, tt.pcapng) {
				t.Errorf("WritePcapng error = %v, want %v", err, tt.pcapng)
			}
		})
	}
	// A writer error is returned.
	if err := WritePcap(failWriter{}, Ethernet, 0, pkt(time.Unix(1, 0))); err == nil {
		t.Errorf("WritePcap to a failing writer succeeded")
	}
	if err := WritePcapng(failWriter{}, Ethernet, 0, pkt(time.Unix(1, 0))); err == nil {
		t.Errorf("WritePcapng to a failing writer succeeded")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestPcapngTime checks that pcapng keeps times past 2106.
func TestPcapngTime(t *testing.T) {
	tm := time.Date(2200, 1, 2, 3, 4, 5, 678901000, time.UTC)
	var buf bytes.Buffer
	if err := WritePcapng(&buf, RawIP, 0, []Packet{{Time: tm, Data: []byte{0x45}}}); err != nil {
		t.Fatal(err)
	}
	c, err := readPcapng(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got := c.recs[0]; !got.time.Equal(tm) || got.orig != 1 {
		t.Errorf("read back %v, orig %d; want %v, 1", got.time, got.orig, tm)
	}
}

// TestParseLink checks that ParseLink inverts String.
func TestParseLink(t *testing.T) {
	for l := range numLinks {
		got, err := ParseLink(l.String())
		if err != nil || got != l {
			t.Errorf("ParseLink(%q) = %v, %v; want %v", l.String(), got, err, l)
		}
	}
	for _, s := range []string{"", "Ethernet", "loopback", "link(5)"} {
		if _, err := ParseLink(s); !errors.Is(err, ErrLink) {
			t.Errorf("ParseLink(%q) error = %v, want ErrLink", s, err)
		}
	}
	if got := numLinks.String(); got != "link(5)" {
		t.Errorf("numLinks.String() = %q", got)
	}
	if _, err := numLinks.Type(); !errors.Is(err, ErrLink) {
		t.Errorf("numLinks.Type() error = %v, want ErrLink", err)
	}
}
