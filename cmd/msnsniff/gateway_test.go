package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/msnsniff/msnsniff/internal/capgen"
	"github.com/msnsniff/msnsniff/report"
)

// gatewayCaptures are the shipped captures of MSNP through the HTTP
// gateway: each is the transcript of its direct-TCP twin (testdata/<twin>.txt,
// shipped as testdata/<twin>.pcap) carried through the gateway by
// capgen.Gateway, with the default options of both.
var gatewayCaptures = []struct{ name, twin string }{
	{"gateway-msnp7", "msnp7-login"},
	{"gateway-msnp2-chat", "msnp2-chat"},
}

// gatewayPcap generates the gateway capture of transcript twin.
func gatewayPcap(t *testing.T, twin string, gopt capgen.GatewayOptions, opt capgen.Options, pcapng bool) []byte {
	t.Helper()
	tr, err := capgen.Gateway(readTranscript(t, twin), gopt)
	if err != nil {
		t.Fatal(err)
	}
	return generate(t, tr, opt, pcapng)
}

// TestGatewayCapturesReproducible checks that each shipped gateway capture
// is what its twin's transcript generates.
func TestGatewayCapturesReproducible(t *testing.T) {
	for _, gc := range gatewayCaptures {
		want := gatewayPcap(t, gc.twin, capgen.GatewayOptions{}, capgen.Options{}, false)
		path := testdata + gc.name + ".pcap"
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what %s.txt generates through the gateway; run go test ./cmd/msnsniff -update", path, gc.twin)
		}
	}
}

func TestGatewayGolden(t *testing.T) {
	for _, gc := range gatewayCaptures {
		for _, f := range []string{"json"} {
			t.Run(gc.name+"/"+f, func(t *testing.T) {
				out, stderr, code := runCLI(t, nil, "-T", f, testdata+gc.name+".pcap")
				if code != 0 {
					t.Fatalf("exit %d: %s", code, stderr)
				}
				checkGolden(t, testdata+gc.name+"."+f+".golden", out)
			})
		}
	}
}

// transportKeys are the JSON keys that differ between a session over TCP
// and the same session through the gateway: the endpoints and the
// transport. timeKeys are those of packet times, which the gateway's extra
// packets shift.
var (
	transportKeys = []string{"client", "server", "transport", "http_connections", "unlisted_http_connections", "empty_polls"}
	timeKeys      = []string{"time", "start", "end", "first", "last", "joined", "left", "latency_us"}
)

// scrub removes keys from every object in v, recursively.
func scrub(v any, keys []string) any {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range keys {
			delete(x, k)
		}
		for k, e := range x {
			x[k] = scrub(e, keys)
		}
	case []any:
		for i, e := range x {
			x[i] = scrub(e, keys)
		}
	}
	return v
}

// reportOf runs -T json on the capture at path and returns the report
// without its capture section and without the keys.
func reportOf(t *testing.T, path string, keys []string, extra ...string) map[string]any {
	t.Helper()
	out, stderr, code := runCLI(t, nil, append([]string{"-T", "json", path}, extra...)...)
	if code != 0 {
		t.Fatalf("%s: exit %d: %s", path, code, stderr)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "capture")
	scrub(m, keys)
	return m
}

// TestGatewayTwins checks that a session through the gateway reports as it
// does over TCP, transport aside: the whole JSON report less the capture
// section, endpoints, transport and times; and every command and anomaly
// record of -T ndjson less its time. It also checks the transport fields.
func TestGatewayTwins(t *testing.T) {
	keys := append(append([]string{}, transportKeys...), timeKeys...)
	for _, gc := range gatewayCaptures {
		t.Run(gc.name, func(t *testing.T) {
			tcp := reportOf(t, testdata+gc.twin+".pcap", keys, sbPorts...)
			gw := reportOf(t, testdata+gc.name+".pcap", keys)
			if diff := cmp.Diff(tcp, gw); diff != "" {
				t.Errorf("reports differ beyond transport and times (-tcp +gateway):\n%s", diff)
			}
			tcpPcap, err := os.ReadFile(testdata + gc.twin + ".pcap")
			if err != nil {
				t.Fatal(err)
			}
			gwPcap, err := os.ReadFile(testdata + gc.name + ".pcap")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(commandsOf(t, tcpPcap), commandsOf(t, gwPcap)); diff != "" {
				t.Errorf("commands differ (-tcp +gateway):\n%s", diff)
			}

			// The transport itself.
			full := reportOf(t, testdata+gc.name+".pcap", nil)
			sessions, _ := full["sessions"].([]any)
			if len(sessions) == 0 {
				t.Fatal("no sessions")
			}
			for _, s := range sessions {
				s, _ := s.(map[string]any)
				conns, _ := s["http_connections"].([]any)
				polls, _ := s["empty_polls"].(float64)
				if s["transport"] != "http-gateway" || s["server"] != "10.0.0.80:80" || len(conns) < 2 || polls < 1 || s["closed"] != true {
					t.Errorf("session %v: transport %v, server %v, %d HTTP connections, %v empty polls, closed %v; "+
						"want http-gateway, 10.0.0.80:80, at least 2, at least 1, true",
						s["id"], s["transport"], s["server"], len(conns), polls, s["closed"])
				}
			}
		})
	}
}

// TestGatewayInvariant cuts the gateway captures' segments down to a few
// bytes, reorders, duplicates and wraps them, and sends chunked response
// bodies: the commands must stay those of the clean capture.
func TestGatewayInvariant(t *testing.T) {
	for _, gc := range gatewayCaptures {
		want := commandsOf(t, gatewayPcap(t, gc.twin, capgen.GatewayOptions{}, capgen.Options{}, false))
		for _, v := range []struct {
			gopt capgen.GatewayOptions
			opt  capgen.Options
		}{
			{capgen.GatewayOptions{Chunked: true}, capgen.Options{}},
			{capgen.GatewayOptions{RequestsPerConn: 1}, capgen.Options{Segment: 1}},
			{capgen.GatewayOptions{Chunked: true, RequestsPerConn: 50}, capgen.Options{Segment: 3, Reorder: 0.5, Duplicate: 0.2, Seed: 2, WrapSeq: true}},
			{capgen.GatewayOptions{}, capgen.Options{Segment: 7, Reorder: 0.2, Duplicate: 0.3, Seed: 3, Link: capgen.LinuxSLL}},
		} {
			for _, ng := range []bool{false, true} {
				got := commandsOf(t, gatewayPcap(t, gc.twin, v.gopt, v.opt, ng))
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s with %+v %+v pcapng=%v: commands differ (-clean +varied):\n%s", gc.name, v.gopt, v.opt, ng, diff)
				}
			}
		}
	}
}

func TestGatewayFlags(t *testing.T) {
	path := testdata + "gateway-msnp7.pcap"
	tests := []struct {
		name     string
		args     []string
		code     int
		sessions int
		msg      string
	}{
		{"default port 80", nil, 0, 2, ""},
		{"off", []string{"--no-gateway"}, 0, 0, ""},
		{"other port only", []string{"--gateway-port", "8080"}, 0, 0, ""},
		{"port 80 given", []string{"--gateway-port", "8080", "--gateway-port", "80"}, 0, 2, ""},
		{"port 80 as MSNP", []string{"--port", "80"}, 0, 0, ""},
		{"both", []string{"--no-gateway", "--gateway-port", "80"}, 2, 0, "cannot set both --gateway-port and --no-gateway"},
		{"clash", []string{"--port", "80", "--gateway-port", "80"}, 2, 0, "port 80 cannot be both"},
		{"bad port", []string{"--gateway-port", "0"}, 2, 0, "--gateway-port 0: not a TCP port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := runCLI(t, nil, append(append([]string{"-T", "json"}, tt.args...), path)...)
			if code != tt.code || !strings.Contains(stderr, tt.msg) {
				t.Fatalf("run(%q) = %d, stderr %q; want %d with %q", tt.args, code, stderr, tt.code, tt.msg)
			}
			if code != 0 {
				return
			}
			var r struct {
				Sessions []struct {
					Transport string `json:"transport"`
				} `json:"sessions"`
			}
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatal(err)
			}
			gw := 0
			for _, s := range r.Sessions {
				if s.Transport == "http-gateway" {
					gw++
				}
			}
			if gw != tt.sessions {
				t.Errorf("run(%q): %d gateway sessions, want %d", tt.args, gw, tt.sessions)
			}
		})
	}
}

// TestGatewayMixed reads a gateway capture and a direct-TCP one together:
// each connection goes to its own path.
func TestGatewayMixed(t *testing.T) {
	dir := t.TempDir()
	gwPath := filepath.Join(dir, "gw.pcap")
	if err := os.WriteFile(gwPath, gatewayPcap(t, "msnp2-chat", capgen.GatewayOptions{}, capgen.Options{}, false), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := runCLI(t, nil, "-T", "json", "--port", "1863", "--port", "1865", gwPath, testdata+"msnp7-login.pcap")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r struct {
		Sessions []struct {
			Transport string `json:"transport"`
		} `json:"sessions"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, s := range r.Sessions {
		count[s.Transport]++
	}
	if count["tcp"] != 2 || count["http-gateway"] != 6 {
		t.Errorf("sessions by transport %v; want 2 tcp, 6 http-gateway", count)
	}
}

// TestGatewayDamagedTimestamp dates one packet of a gateway response in
// 2100, alone: its session says so (jumped_timestamp), and the gateway's
// waits go on by the capture's time. Before, the gateway followed the
// packet's time, ended every session as idle, and the requests after it
// started 8 more sessions.
func TestGatewayDamagedTimestamp(t *testing.T) {
	raw, err := os.ReadFile(testdata + "gateway-msnp7.pcap")
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) < 24 || binary.LittleEndian.Uint32(raw) != 0xa1b2c3d4 {
		t.Fatal("gateway-msnp7.pcap is not a little-endian pcap")
	}
	// The record of the 20th packet with more than 200 bytes, a response
	// in the middle of the session.
	n := 0
	for off := 24; off+16 <= len(raw); {
		incl := int(binary.LittleEndian.Uint32(raw[off+8:]))
		if incl > 200 {
			if n++; n == 20 {
				binary.LittleEndian.PutUint32(raw[off:], uint32(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).Unix()))
				break
			}
		}
		off += 16 + incl
	}
	if n != 20 {
		t.Fatalf("only %d packets over 200 bytes", n)
	}
	path := filepath.Join(t.TempDir(), "damaged.pcap")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	count := func(p string) (sessions int, jumped []string, anomalies any) {
		t.Helper()
		out, stderr, code := runCLI(t, nil, "-T", "json", "-q", p)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", p, code, stderr)
		}
		var r report.Report
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		for _, s := range r.Sessions {
			for _, a := range s.Anomalies {
				if a.Kind == "jumped_timestamp" {
					jumped = append(jumped, a.Time.Format(time.RFC3339)+" "+a.Dir)
				}
			}
		}
		return len(r.Sessions), jumped, r.Capture.Anomalies
	}
	want, _, _ := count(testdata + "gateway-msnp7.pcap")
	got, jumped, anomalies := count(path)
	if got != want {
		t.Errorf("%d sessions, want %d as undamaged: the gateway followed the damaged time", got, want)
	}
	if diff := cmp.Diff([]string{"2100-01-01T00:00:00Z s2c"}, jumped); diff != "" {
		t.Errorf("jumped_timestamp anomalies (-want +got):\n%s", diff)
	}
	wantCounts := []report.Count{{Name: "jumped_timestamp", Count: 1}, {Name: "timestamp_jump", Count: 1}}
	if diff := cmp.Diff(wantCounts, anomalies); diff != "" {
		t.Errorf("capture.anomalies (-want +got):\n%s", diff)
	}
}
