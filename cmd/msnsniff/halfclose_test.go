package main

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/msnsniff/msnsniff/dissect"
	"github.com/msnsniff/msnsniff/internal/capgen"
)

// TestHalfCloseTimeoutFlag checks --half-close-timeout on a capture whose
// first connection lost the server's FIN: by default the session ends at
// its last packet once silent for 2 minutes, while another connection
// goes on; with a longer timeout it is still open at the end of the
// capture, and ends there. Either way it is reported open.
func TestHalfCloseTimeoutFlag(t *testing.T) {
	const (
		ver   = "VER 1 MSNP8 CVR0\r\n"
		verOK = "VER 1 MSNP8\r\n"
		first = "192.168.0.3:50000"
		busy  = "192.168.0.4:50000"
	)
	tr := &dissect.Transcript{Conns: []dissect.TranscriptConn{
		{Client: netip.MustParseAddrPort(first), Server: netip.MustParseAddrPort("10.0.0.5:1863")},
		{Client: netip.MustParseAddrPort(busy), Server: netip.MustParseAddrPort("10.0.0.6:1863")},
	}}
	add := func(wait time.Duration, conn int, dir dissect.Dir, data string) {
		tr.Events = append(tr.Events, dissect.TranscriptEvent{Conn: conn, Dir: dir, Wait: wait, Data: []byte(data)})
	}
	add(0, 0, dissect.C2S, ver)
	add(0, 0, dissect.S2C, verOK)
	add(0, 1, dissect.C2S, ver)
	add(0, 1, dissect.S2C, verOK)
	for range 4 {
		add(time.Minute, 1, dissect.C2S, "PNG\r\n")
		add(0, 1, dissect.S2C, "QNG 50\r\n")
	}
	path := filepath.Join(t.TempDir(), "halfclose.pcap")
	if err := os.WriteFile(path, dropFIN(t, generate(t, tr, capgen.Options{}, false), 5, 1863), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args  []string
		early bool
	}{
		{nil, true},
		{[]string{"--half-close-timeout", "10m"}, false},
		// Never longer than --idle-timeout, which is not refused.
		{[]string{"--half-close-timeout", "10m", "--idle-timeout", "2m"}, true},
	} {
		r := runLossReport(t, append(tt.args, path)...)
		ends := map[string]string{}
		for _, s := range r.Sessions {
			ends[s.Client] = s.End
			if s.Client == first && s.Closed {
				t.Errorf("%q: the half-closed session is reported closed", tt.args)
			}
		}
		if len(ends) != 2 || ends[first] == "" || ends[busy] == "" {
			t.Fatalf("%q: sessions %v", tt.args, ends)
		}
		if early := ends[first] < ends[busy]; early != tt.early {
			t.Errorf("%q: the half-closed session ends at %s, the busy one at %s; want it ended early %v", tt.args, ends[first], ends[busy], tt.early)
		}
	}
	for _, bad := range []string{"0", "-1s"} {
		_, stderr, code := runCLI(t, nil, "--half-close-timeout", bad, path)
		if code != exitUsage || !strings.Contains(stderr, "--half-close-timeout") || !strings.Contains(stderr, "not a positive duration") {
			t.Errorf("--half-close-timeout %s: exit %d (%s), want %d naming the flag", bad, code, stderr, exitUsage)
		}
	}
}

// dropFIN rewrites a pcap of Ethernet frames without the FIN segments
// sent from server port port by the host whose IPv4 address ends in last.
func dropFIN(t *testing.T, capture []byte, last byte, port layers.TCPPort) []byte {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(capture))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := pcapgo.NewWriter(&out)
	if err := w.WriteFileHeader(r.Snaplen(), r.LinkType()); err != nil {
		t.Fatal(err)
	}
	dropped := 0
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if ip != nil && tcp != nil && tcp.FIN && tcp.SrcPort == port && ip.SrcIP.To4()[3] == last {
			dropped++
			continue
		}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	if dropped == 0 {
		t.Fatal("no FIN to drop")
	}
	return out.Bytes()
}
