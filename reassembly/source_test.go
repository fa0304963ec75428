package reassembly

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/msnsniff/msnsniff/dissect"
)

// exchange returns a full connection with n commands each way.
func exchange(t testing.TB, c *conv, n int) (pkts []pkt, c2s, s2c string) {
	pkts = c.handshake()
	for i := range n {
		q := fmt.Sprintf("PNG %d\r\n", i)
		r := fmt.Sprintf("QNG %d\r\n", 50+i)
		pkts = append(pkts, c.seg(dissect.C2S, "PA", q), c.seg(dissect.S2C, "PA", r))
		c2s += q
		s2c += r
	}
	return append(pkts, c.close()...), c2s, s2c
}

func TestMergeFiles(t *testing.T) {
	c := newConv(t, client, server, 1000, 5000)
	pkts, c2s, s2c := exchange(t, c, 5)
	// Two taps: one saw the client's packets, the other the server's.
	var a, b []pkt
	for _, p := range pkts {
		if isFromClient(t, p) {
			a = append(a, p)
		} else {
			b = append(b, p)
		}
	}
	dir := t.TempDir()
	fa := writePcap(t, dir, "client.pcap", layers.LinkTypeEthernet, a)
	fb := writePcap(t, dir, "server.pcap", layers.LinkTypeEthernet, b)
	sink, st := runFiles(t, Options{}, fb, fa)
	if len(sink.streams) != 1 {
		t.Fatalf("got %d streams", len(sink.streams))
	}
	s := sink.streams[0]
	checkStream(t, s, want{c2s: c2s, s2c: s2c, syn: true, closed: true})
	// Feeds come in capture order, alternating.
	for i, f := range s.feeds {
		if want := dissect.Dir(i % 2); f.dir != want {
			t.Errorf("feed %d dir %v, want %v", i, f.dir, want)
		}
	}
	if s.info.File != fa || s.info.Packet != 1 {
		t.Errorf("ConnInfo File %q Packet %d, want %q 1", s.info.File, s.info.Packet, fa)
	}
	if st.Packets != int64(len(pkts)) {
		t.Errorf("Packets = %d, want %d", st.Packets, len(pkts))
	}
}

// isFromClient tells whether an Ethernet/IPv4 test frame comes from the
// client address.
func isFromClient(_ testing.TB, p pkt) bool {
	return bytes.Equal(p.data[14+12:14+16], []byte{192, 168, 1, 20})
}

// TestMergeTies checks that packets with equal timestamps go in the order of
// the files given.
func TestMergeTies(t *testing.T) {
	tests := []struct {
		name      string
		swap      bool
		firstFeed dissect.Dir
	}{
		{"client file first", false, dissect.C2S},
		{"server file first", true, dissect.S2C},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newConv(t, client, server, 1000, 5000)
			c.step = 0
			q := c.seg(dissect.C2S, "PA", verC)
			r := c.seg(dissect.S2C, "PA", verS)
			dir := t.TempDir()
			files := []string{
				writePcap(t, dir, "c.pcap", layers.LinkTypeEthernet, []pkt{q}),
				writePcap(t, dir, "s.pcap", layers.LinkTypeEthernet, []pkt{r}),
			}
			if tt.swap {
				files[0], files[1] = files[1], files[0]
			}
			sink, _ := runFiles(t, Options{}, files...)
			if len(sink.streams) != 1 || len(sink.streams[0].feeds) != 2 {
				t.Fatalf("streams %d", len(sink.streams))
			}
			if got := sink.streams[0].feeds[0].dir; got != tt.firstFeed {
				t.Errorf("first feed %v, want %v", got, tt.firstFeed)
			}
		})
	}
}

func TestTruncatedFile(t *testing.T) {
	c := newConv(t, client, server, 1000, 5000)
	pkts, _, _ := exchange(t, c, 3)
	dir := t.TempDir()
	path := writePcap(t, dir, "msnp.pcap", layers.LinkTypeEthernet, pkts)
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Offsets of each record in the file.
	var offs []int
	off := pcapHeaderLen
	for _, p := range pkts {
		offs = append(offs, off)
		off += pcapRecordLen + len(p.data)
	}
	const k = 6 // 1-based packet number where the file is cut
	tests := []struct {
		name    string
		cut     int
		wantErr string // after the file name and ": "
	}{
		{"record header", offs[k-1] + 7, fmt.Sprintf("packet %d at byte %d: truncated record header (unexpected EOF)", k, offs[k-1])},
		{"packet data", offs[k-1] + pcapRecordLen + 30, fmt.Sprintf("packet %d at byte %d: truncated packet data, %d bytes announced (unexpected EOF)", k, offs[k-1], len(pkts[k-1].data))},
		{"no packet data", offs[k-1] + pcapRecordLen, fmt.Sprintf("packet %d at byte %d: truncated packet data, %d bytes announced (unexpected EOF)", k, offs[k-1], len(pkts[k-1].data))},
		{"between records", offs[k-1], ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cut := filepath.Join(t.TempDir(), "msnp.pcap")
			if err := os.WriteFile(cut, full[:tt.cut], 0o644); err != nil {
				t.Fatal(err)
			}
			src, err := Open(cut, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			sink := &recSink{}
			e := NewEngine(sink, Options{})
			err = Run([]*Source{src}, e)
			switch {
			case tt.wantErr == "":
				if err != nil {
					t.Fatalf("Run = %v, want nil", err)
				}
			case err == nil || err.Error() != cut+": "+tt.wantErr:
				t.Fatalf("Run = %v, want %q", err, cut+": "+tt.wantErr)
			default:
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("errors.Is(%v, io.ErrUnexpectedEOF) = false", err)
				}
				var fe *FileError
				if !errors.As(err, &fe) || fe.Packet != k || fe.File != cut {
					t.Errorf("errors.As FileError = %+v, want packet %d", fe, k)
				}
			}
			checkInvariants(t, sink, e.Stats())
			if got := e.Stats().Packets; got != k-1 {
				t.Errorf("Packets = %d, want %d", got, k-1)
			}
			if len(sink.streams) != 1 || string(sink.streams[0].data[dissect.C2S]) != "PNG 0\r\n" {
				t.Errorf("delivered before the damage: %q, want %q", sink.streams[0].data[dissect.C2S], "PNG 0\r\n")
			}
		})
	}
}

// TestRunGoesOn checks that a damaged file does not stop the others.
func TestRunGoesOn(t *testing.T) {
	c := newConv(t, client, server, 1000, 5000)
	good, c2s, s2c := exchange(t, c, 3)
	dir := t.TempDir()
	gp := writePcap(t, dir, "good.pcap", layers.LinkTypeEthernet, good)
	other := newConv(t, "10.0.0.1:3000", "10.0.0.2:1863", 1, 1)
	bp := writePcap(t, dir, "bad.pcap", layers.LinkTypeEthernet, []pkt{other.seg(dissect.C2S, "PA", verC), other.seg(dissect.C2S, "PA", verC)})
	raw, _ := os.ReadFile(bp)
	if err := os.WriteFile(bp, raw[:len(raw)-3], 0o644); err != nil {
		t.Fatal(err)
	}
	var srcs []*Source
	for _, p := range []string{bp, gp} {
		s, err := Open(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		srcs = append(srcs, s)
	}
	sink := &recSink{}
	err := Run(srcs, NewEngine(sink, Options{}))
	if err == nil || !strings.Contains(err.Error(), "bad.pcap: packet 2 ") || strings.Contains(err.Error(), "good.pcap") {
		t.Fatalf("Run = %v, want an error for bad.pcap packet 2 only", err)
	}
	if len(sink.streams) != 2 {
		t.Fatalf("got %d streams", len(sink.streams))
	}
	checkStream(t, sink.streams[1], want{c2s: c2s, s2c: s2c, syn: true, closed: true})
}

func TestPcapng(t *testing.T) {
	c := newConv(t, client, server, 1000, 5000)
	pkts, c2s, s2c := exchange(t, c, 4)
	// The server's packets were captured on a second interface, a raw IP
	// tunnel.
	c6 := newConv(t, client, server, 1000, 5000)
	c6.link = layers.LinkTypeRaw
	rawPkts, _, _ := exchange(t, c6, 4)
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriter(&buf, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := w.AddInterface(pcapgo.NgInterface{LinkType: layers.LinkTypeRaw, SnapLength: 65536})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range pkts {
		ci := captureInfo(p)
		if !isFromClient(t, p) {
			ci = captureInfo(rawPkts[i])
			ci.InterfaceIndex = raw
			p = rawPkts[i]
		}
		if err := w.WritePacket(ci, p.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "msnp.pcapng")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	sink, _ := runFiles(t, Options{}, path)
	if len(sink.streams) != 1 {
		t.Fatalf("got %d streams", len(sink.streams))
	}
	checkStream(t, sink.streams[0], want{c2s: c2s, s2c: s2c, syn: true, closed: true})

	src, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for {
		if _, _, _, err := src.Next(); err != nil {
			break
		}
	}
	if got := fmt.Sprint(src.Format(), src.LinkTypes(), src.Packets()); got != fmt.Sprint("pcapng", []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeRaw}, len(pkts)) {
		t.Errorf("Format, LinkTypes, Packets = %s", got)
	}
	wantInfo := SourceInfo{Name: path, Format: "pcapng", LinkType: "ethernet,raw", Packets: int64(len(pkts)), Bytes: src.Bytes(), Complete: true}
	if got := src.Info(); got != wantInfo || got.Bytes == 0 {
		t.Errorf("Info() = %+v, want %+v", got, wantInfo)
	}

	// Cut inside the last packet block.
	cut := filepath.Join(t.TempDir(), "cut.pcapng")
	if err := os.WriteFile(cut, buf.Bytes()[:buf.Len()-10], 0o644); err != nil {
		t.Fatal(err)
	}
	src2, err := Open(cut, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src2.Close()
	err = Run([]*Source{src2}, NewEngine(&recSink{}, Options{}))
	var fe *FileError
	if want := fmt.Sprintf("%s: packet %d: truncated block (unexpected EOF)", cut, len(pkts)); err == nil || err.Error() != want {
		t.Errorf("Run(cut pcapng) = %v, want %q", err, want)
	}
	if !errors.As(err, &fe) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Run(cut pcapng) = %v, want a FileError wrapping io.ErrUnexpectedEOF", err)
	}
}

func TestOpenFormats(t *testing.T) {
	c := newConv(t, client, server, 1000, 5000)
	pkts, c2s, _ := exchange(t, c, 2)
	path := writePcap(t, t.TempDir(), "msnp.pcap", layers.LinkTypeEthernet, pkts)
	plain, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	tests := []struct {
		name  string
		data  []byte
		stdin bool
	}{
		{"pcap", plain, false},
		{"gzip", gz.Bytes(), false},
		{"stdin", plain, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "-"
			var stdin io.Reader = bytes.NewReader(tt.data)
			if !tt.stdin {
				name = filepath.Join(t.TempDir(), "f")
				if err := os.WriteFile(name, tt.data, 0o644); err != nil {
					t.Fatal(err)
				}
				stdin = nil
			}
			src, err := Open(name, stdin)
			if err != nil {
				t.Fatalf("Open = %v", err)
			}
			defer src.Close()
			sink := &recSink{}
			if err := Run([]*Source{src}, NewEngine(sink, Options{})); err != nil {
				t.Fatal(err)
			}
			if len(sink.streams) != 1 || string(sink.streams[0].data[dissect.C2S]) != c2s {
				t.Errorf("streams %d", len(sink.streams))
			}
			if tt.stdin && (src.Name() != "stdin" || sink.streams[0].info.File != "stdin") {
				t.Errorf("Name = %q, File = %q, want stdin", src.Name(), sink.streams[0].info.File)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	pcapHeader := func(snap uint32) []byte {
		h := make([]byte, 24)
		binary.LittleEndian.PutUint32(h, magicPcapMicro)
		binary.LittleEndian.PutUint16(h[4:], 2)
		binary.LittleEndian.PutUint16(h[6:], 4)
		binary.LittleEndian.PutUint32(h[16:], snap)
		binary.LittleEndian.PutUint32(h[20:], 1)
		return h
	}
	record := func(capLen, origLen uint32) []byte {
		r := make([]byte, 16)
		binary.LittleEndian.PutUint32(r[0:], uint32(t0.Unix()))
		binary.LittleEndian.PutUint32(r[8:], capLen)
		binary.LittleEndian.PutUint32(r[12:], origLen)
		return r
	}
	tests := []struct {
		name    string
		data    []byte
		openErr string // error from Open, or "" if Open succeeds
		runErr  string
		is      error
	}{
		{name: "empty", data: nil, openErr: "empty file"},
		{name: "text", data: []byte("VER 1 MSNP8 CVR0\r\n"), openErr: "not a pcap or pcapng file (magic 0x20524556)", is: ErrNotCapture},
		{name: "short header", data: pcapHeader(65535)[:10], openErr: "pcap header: unexpected EOF", is: io.ErrUnexpectedEOF},
		{name: "three bytes", data: []byte{0xd4, 0xc3, 0xb2}, openErr: "truncated file header (unexpected EOF)", is: io.ErrUnexpectedEOF},
		{name: "huge record", data: append(pcapHeader(0xffffffff), record(1<<30, 1<<30)...),
			runErr: "packet 1 at byte 24: record too long: 1073741824 bytes captured, limit 262144", is: ErrRecordTooLong},
		{name: "huge record small snaplen", data: append(pcapHeader(96), record(MaxRecordLen+1, MaxRecordLen+1)...),
			runErr: "packet 1 at byte 24: record too long", is: ErrRecordTooLong},
		{name: "captured beyond original", data: append(append(pcapHeader(65535), record(10, 5)...), make([]byte, 10)...),
			runErr: "packet 1 at byte 24: bad record header: capture length exceeds original packet length"},
		{name: "huge pcapng block", data: ngWithEPB(t, 1<<30, 1<<30+32), runErr: "packet 1: record too long: block of 1073741856 bytes", is: ErrRecordTooLong},
		{name: "huge pcapng caplen", data: ngWithEPB(t, 1<<30, 100), runErr: "packet 1: record too long: 1073741824 bytes captured", is: ErrRecordTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.cap")
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			src, err := Open(path, nil)
			if tt.openErr != "" {
				if err == nil || err.Error() != path+": "+tt.openErr {
					t.Fatalf("Open = %v, want %q", err, path+": "+tt.openErr)
				}
			} else {
				if err != nil {
					t.Fatalf("Open = %v", err)
				}
				defer src.Close()
				err = Run([]*Source{src}, NewEngine(&recSink{}, Options{}))
				if err == nil || !strings.HasPrefix(err.Error(), path+": "+tt.runErr) {
					t.Fatalf("Run = %v, want %q", err, path+": "+tt.runErr)
				}
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
		})
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.pcap"), nil); err == nil || !strings.Contains(err.Error(), "missing.pcap") {
		t.Errorf("Open(missing) = %v", err)
	}
}

// ngWithEPB returns a pcapng file whose first packet block claims capLen
// captured bytes in a block of blockLen bytes.
func ngWithEPB(t *testing.T, capLen, blockLen uint32) []byte {
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriter(&buf, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	epb := make([]byte, 32)
	binary.LittleEndian.PutUint32(epb[0:], ngBlockEnhanced)
	binary.LittleEndian.PutUint32(epb[4:], blockLen)
	binary.LittleEndian.PutUint32(epb[20:], capLen)
	binary.LittleEndian.PutUint32(epb[24:], capLen)
	return append(buf.Bytes(), epb...)
}

// TestSourceCounts checks Packets, Bytes and the sticky end of a Source.
func TestSourceCounts(t *testing.T) {
	c := newConv(t, client, server, 1, 1)
	pkts, _, _ := exchange(t, c, 1)
	path := writePcap(t, t.TempDir(), "x.pcap", layers.LinkTypeEthernet, pkts)
	src, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var n, size int64
	for {
		data, ci, link, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if link != layers.LinkTypeEthernet || ci.Timestamp.Before(t0) || ci.Timestamp.After(t0.Add(time.Minute)) {
			t.Errorf("packet %d: link %v time %v", n+1, link, ci.Timestamp)
		}
		n++
		size += int64(len(data))
	}
	if src.Packets() != n || src.Bytes() != size || n != int64(len(pkts)) {
		t.Errorf("Packets %d Bytes %d, read %d packets %d bytes", src.Packets(), src.Bytes(), n, size)
	}
	if _, _, _, err := src.Next(); err != io.EOF {
		t.Errorf("Next after EOF = %v, want io.EOF", err)
	}
}

// TestInfo checks SourceInfo before, while and after reading.
func TestInfo(t *testing.T) {
	c := newConv(t, client, server, 1, 1)
	pkts, _, _ := exchange(t, c, 1)
	path := writePcap(t, t.TempDir(), "x.pcap", layers.LinkTypeLinuxSLL, pkts[:2])
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.pcap")
	if err := os.WriteFile(cut, raw[:len(raw)-1], 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		path  string
		reads int
		want  SourceInfo
	}{
		{"opened", path, 0, SourceInfo{Name: path, Format: "pcap", LinkType: "linux_sll"}},
		{"one read", path, 1, SourceInfo{Name: path, Format: "pcap", LinkType: "linux_sll", Packets: 1, Bytes: int64(len(pkts[0].data))}},
		{"to the end", path, 3, SourceInfo{Name: path, Format: "pcap", LinkType: "linux_sll", Packets: 2, Bytes: int64(len(pkts[0].data) + len(pkts[1].data)), Complete: true}},
		{"damaged", cut, 3, SourceInfo{Name: cut, Format: "pcap", LinkType: "linux_sll", Packets: 1, Bytes: int64(len(pkts[0].data))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := Open(tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			for range tt.reads {
				src.Next()
			}
			if got := src.Info(); got != tt.want {
				t.Errorf("Info() = %+v, want %+v", got, tt.want)
			}
		})
	}
	if got := linkTypeName(147); got != "linktype_147" {
		t.Errorf("linkTypeName(147) = %q", got)
	}
}
