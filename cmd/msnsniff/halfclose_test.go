package main

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

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
	pkts, err := capgen.Packets(tr, capgen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pkts = without(pkts, serverFIN(t, pkts, netip.MustParseAddrPort(first), 1863))
	path := writePackets(t, t.TempDir(), "halfclose.pcap", capgen.DefaultSnaplen, pkts)
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

// serverFIN returns the index of the FIN that the server at port sends on
// the connection of client, an Ethernet/IPv4 frame made by capgen.
func serverFIN(t *testing.T, pkts []capgen.Packet, client netip.AddrPort, port uint16) int {
	t.Helper()
	for i, p := range pkts {
		ip := p.Data[14:]
		tcp := ip[int(ip[0]&0x0f)*4:]
		src, dst := binary.BigEndian.Uint16(tcp), binary.BigEndian.Uint16(tcp[2:])
		if src == port && dst == client.Port() && netip.AddrFrom4([4]byte(ip[16:20])) == client.Addr() && tcp[13]&0x01 != 0 {
			return i
		}
	}
	t.Fatalf("no FIN from the server of %v", client)
	return -1
}
