package reassembly

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket/layers"
)

// readAll returns every packet of a capture file.
func readAll(tb testing.TB, path string) (pkts []pkt, links []layers.LinkType, info SourceInfo) {
	tb.Helper()
	src, err := Open(path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	for {
		data, ci, link, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		p := pkt{ts: ci.Timestamp, data: append([]byte(nil), data...)}
		if ci.Length != len(data) {
			p.orig = ci.Length
		}
		pkts = append(pkts, p)
		links = append(links, link)
	}
	return pkts, links, src.Info()
}

// TestDumpRoundTrip writes the packets an Engine analyses through
// Options.OnPacket, reads the file back and checks that the packets, to
// the nanosecond, and the analysis are the same.
func TestDumpRoundTrip(t *testing.T) {
	c := newConv(t, "192.168.0.2:50000", "10.0.0.1:1863", 1000, 5000)
	c.step = 1234567 * time.Nanosecond
	other := newConv(t, "192.168.0.2:50001", "10.0.0.9:443", 1, 1)
	msnp := join(c.handshake(), []pkt{c.seg(0, "A", "VER 1 MSNP8 CVR0\r\n"), c.seg(1, "A", "VER 1 MSNP8\r\n")})
	// Cut by the snap length: the record keeps both lengths.
	cut := c.seg(0, "A", "CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.2.0208 MSMSGS x@y.z\r\n")
	cut.orig, cut.data = len(cut.data), cut.data[:60]
	msnp = join(msnp, []pkt{cut}, c.close())
	// The capture interleaves a connection on another port, which the
	// file must leave out.
	var in, want []pkt
	for _, part := range []struct {
		pkts []pkt
		msnp bool
	}{{other.handshake(), false}, {msnp[:4], true}, {other.close(), false}, {msnp[4:], true}} {
		for _, p := range part.pkts {
			p.ts = t0.Add(time.Duration(len(in)) * 1234567 * time.Nanosecond)
			in = append(in, p)
			if part.msnp {
				want = append(want, p)
			}
		}
	}
	for _, name := range []string{"out.pcap", "out.pcapng", "OUT.PCAPNG"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			d, err := CreateDump(path)
			if err != nil {
				t.Fatal(err)
			}
			sink := &recSink{}
			e := NewEngine(sink, Options{OnPacket: d.WritePacket})
			for i, p := range in {
				e.Packet(p.data, captureInfo(p), layers.LinkTypeEthernet, "in", int64(i+1))
			}
			e.Finish(time.Time{})
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			got, links, info := readAll(t, path)
			wantFormat := "pcap"
			if name != "out.pcap" {
				wantFormat = "pcapng"
			}
			if info.Format != wantFormat || info.LinkType != "ethernet" || d.Packets() != int64(len(want)) {
				t.Errorf("file: %+v, %d packets written; want %s, ethernet, %d", info, d.Packets(), wantFormat, len(want))
			}
			if diff := cmp.Diff(want, got, cmp.AllowUnexported(pkt{})); diff != "" {
				t.Errorf("packets read back (-written +read):\n%s", diff)
			}
			for i, l := range links {
				if l != layers.LinkTypeEthernet {
					t.Errorf("packet %d: link type %s", i+1, l)
				}
			}
			replay, _ := runFiles(t, Options{}, path)
			if diff := cmp.Diff(streamsOf(sink), streamsOf(replay)); diff != "" {
				t.Errorf("analysis of the file differs (-live +file):\n%s", diff)
			}
		})
	}
}

// streamsOf returns what a recSink recorded, less the file names and
// packet numbers, as text for comparison.
func streamsOf(s *recSink) []string {
	out := make([]string, len(s.streams))
	for i, st := range s.streams {
		out[i] = fmt.Sprintf("%v -> %v start %v syn %v\n%q\nend %v closed %v ends %d",
			st.info.Client, st.info.Server, st.info.Start, st.info.SYN, st.events, st.endT, st.closed, st.ends)
	}
	return out
}

// TestDumpLinkTypes writes packets of two link types: pcapng keeps both,
// pcap refuses the second.
func TestDumpLinkTypes(t *testing.T) {
	s := tcpSeg{src: netip.MustParseAddrPort("10.0.0.2:50000"), dst: netip.MustParseAddrPort("10.0.0.1:1863"), seq: 1, flags: "S"}
	eth := pkt{ts: t0, data: frame(t, layers.LinkTypeEthernet, s)}
	raw := pkt{ts: t0.Add(time.Millisecond), data: frame(t, layers.LinkTypeRaw, s)}
	dir := t.TempDir()

	d, err := CreateDump(filepath.Join(dir, "mixed.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	d.WritePacket(eth.data, captureInfo(eth), layers.LinkTypeEthernet)
	d.WritePacket(raw.data, captureInfo(raw), layers.LinkTypeRaw)
	d.WritePacket(eth.data, captureInfo(eth), layers.LinkTypeEthernet)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	got, links, info := readAll(t, filepath.Join(dir, "mixed.pcapng"))
	want := []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeRaw, layers.LinkTypeEthernet}
	if diff := cmp.Diff(want, links); diff != "" || len(got) != 3 || info.LinkType != "ethernet,raw" {
		t.Errorf("pcapng link types %v (%s), %d packets (-want +got):\n%s", links, info.LinkType, len(got), diff)
	}

	d, err = CreateDump(filepath.Join(dir, "mixed.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	d.WritePacket(eth.data, captureInfo(eth), layers.LinkTypeEthernet)
	d.WritePacket(raw.data, captureInfo(raw), layers.LinkTypeRaw)
	d.WritePacket(eth.data, captureInfo(eth), layers.LinkTypeEthernet)
	if err := d.Close(); !errors.Is(err, ErrDumpLinkType) {
		t.Errorf("pcap with two link types: Close() = %v, want ErrDumpLinkType", err)
	}
	if d.Packets() != 1 {
		t.Errorf("pcap with two link types: %d packets written, want the 1 before the failure", d.Packets())
	}
	if got, _, _ := readAll(t, filepath.Join(dir, "mixed.pcap")); len(got) != 1 {
		t.Errorf("pcap with two link types: %d packets read back, want 1", len(got))
	}
}

// TestDumpEmpty checks that a Dump without packets is a valid capture file
// of the link type set.
func TestDumpEmpty(t *testing.T) {
	for _, name := range []string{"empty.pcap", "empty.pcapng"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			d, err := CreateDump(path)
			if err != nil {
				t.Fatal(err)
			}
			d.SetLinkType(layers.LinkTypeRaw)
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			got, _, info := readAll(t, path)
			if len(got) != 0 || info.LinkType != "raw" || !info.Complete {
				t.Errorf("read back %d packets, %+v; want none, raw, complete", len(got), info)
			}
		})
	}
}

func TestCreateDumpError(t *testing.T) {
	if _, err := CreateDump(filepath.Join(t.TempDir(), "no-such-dir", "x.pcap")); err == nil {
		t.Error("CreateDump in a missing directory succeeded")
	}
}
