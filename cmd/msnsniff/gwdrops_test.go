package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/msnsniff/msnsniff/dissect"
	"github.com/msnsniff/msnsniff/internal/capgen"
)

// The tests here check that what the HTTP gateway loses or leaves out
// reaches the report, in the session it belongs to.

// gwLossReport is what these tests read of a -T json report.
type gwLossReport struct {
	Capture struct {
		Gateway []struct {
			Name  string `json:"name"`
			Count int    `json:"count"`
		} `json:"gateway"`
	} `json:"capture"`
	Sessions []gwLossSession `json:"sessions"`
}

type gwLossSession struct {
	ID                      int      `json:"id"`
	Client                  string   `json:"client"`
	Server                  string   `json:"server"`
	End                     string   `json:"end"`
	Closed                  bool     `json:"closed"`
	Transport               string   `json:"transport"`
	DetectedBy              string   `json:"detected_by"`
	HTTPConnections         []string `json:"http_connections"`
	UnlistedHTTPConnections *int     `json:"unlisted_http_connections"`
	LostBytes               int      `json:"lost_bytes"`
	UnknownSizeGaps         *int     `json:"unknown_size_gaps"`
	Anomalies               []struct {
		Kind   string `json:"kind"`
		Dir    string `json:"dir"`
		Bytes  int    `json:"bytes"`
		Line   string `json:"line"`
		Detail string `json:"detail"`
	} `json:"anomalies"`
}

// kinds returns the session's anomaly kinds, with their directions.
func (s gwLossSession) kinds() string {
	var k []string
	for _, a := range s.Anomalies {
		k = append(k, a.Kind+"/"+a.Dir)
	}
	return strings.Join(k, " ")
}

func (r *gwLossReport) gateway(name string) int {
	for _, c := range r.Capture.Gateway {
		if c.Name == name {
			return c.Count
		}
	}
	return -1
}

// runLossReport runs -T json with args and reads the report.
func runLossReport(t *testing.T, args ...string) *gwLossReport {
	t.Helper()
	out, stderr, code := runCLI(t, nil, append([]string{"-T", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r gwLossReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// TestGatewayUnknownSizeGaps checks that a response the gateway never saw
// reaches its session as a gap of unknown size: a request pushed out by
// the limit of 16 pipelined requests per connection, and a chunked
// response cut short by the end of its connection. Each is a
// gap_unknown_size anomaly in the server's direction, counted in
// unknown_size_gaps and not in lost_bytes; the other sessions lose
// nothing.
func TestGatewayUnknownSizeGaps(t *testing.T) {
	const (
		usr   = "USR 1 a@b.c 1.2.3\r\n"
		usrOK = "USR 1 OK a@b.c A\r\n"
	)
	t.Run("request pushed out of the pipeline", func(t *testing.T) {
		const n = 16 + 1 // reassembly.DefaultGatewayMaxPipelined + 1
		var g gwTranscript
		c := g.conn("192.168.0.2:49152")
		for range n {
			g.send(0, c, dissect.C2S, gwRequest("Action=open&Server=SB&IP=10.0.0.5", usr))
		}
		// The gateway answers the 16 requests it still pairs: the
		// response to the first is never seen.
		for i := 2; i <= n; i++ {
			g.send(0, c, dissect.S2C, gwResponse(fmt.Sprintf("%d.1", i), usrOK, true))
		}
		r := runLossReport(t, g.write(t))
		if len(r.Sessions) != n {
			t.Fatalf("%d sessions, want %d", len(r.Sessions), n)
		}
		for _, s := range r.Sessions {
			want, gaps := "", 0
			if s.ID == 1 {
				want, gaps = "gap_unknown_size/s2c", 1
			}
			if s.kinds() != want || s.UnknownSizeGaps == nil || *s.UnknownSizeGaps != gaps || s.LostBytes != 0 {
				t.Errorf("session %d: anomalies %q, unknown_size_gaps %v, lost_bytes %d; want %q, %d, 0",
					s.ID, s.kinds(), s.UnknownSizeGaps, s.LostBytes, want, gaps)
			}
			if s.ID == 1 && len(s.Anomalies) > 0 {
				if a := s.Anomalies[0]; a.Bytes != 0 || !strings.Contains(a.Detail, "unknown") {
					t.Errorf("session 1 gap: bytes %d, detail %q; want 0 and a detail saying the size is unknown", a.Bytes, a.Detail)
				}
			}
		}
		if got := r.gateway("gateway_evicted_requests"); got != 1 {
			t.Errorf("gateway_evicted_requests = %d, want 1", got)
		}
	})
	t.Run("chunked response cut by the end of the connection", func(t *testing.T) {
		var g gwTranscript
		c := g.conn("192.168.0.2:49152")
		g.exchange(0, c, gwRequest("Action=open&Server=NS&IP=10.0.0.5", "VER 1 MSNP8 CVR0\r\n"),
			"HTTP/1.1 200 OK\r\nX-MSN-Messenger: SessionID=1.1; GW-IP=10.0.0.80\r\nTransfer-Encoding: chunked\r\n\r\n"+
				"d\r\nVER 1 MSNP8\r\n\r\n5\r\nCVR 2")
		r := runLossReport(t, g.write(t))
		if len(r.Sessions) != 1 {
			t.Fatalf("%d sessions, want 1", len(r.Sessions))
		}
		s := r.Sessions[0]
		if s.kinds() != "gap_unknown_size/s2c" || s.UnknownSizeGaps == nil || *s.UnknownSizeGaps != 1 || s.LostBytes != 0 {
			t.Errorf("session: anomalies %q, unknown_size_gaps %v, lost_bytes %d; want gap_unknown_size/s2c, 1, 0",
				s.kinds(), s.UnknownSizeGaps, s.LostBytes)
		}
		if got := r.gateway("gateway_truncated_messages"); got != 1 {
			t.Errorf("gateway_truncated_messages = %d, want 1", got)
		}
		// The table says so too.
		out, stderr, code := runCLI(t, nil, g.write(t))
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if !strings.Contains(out, "1 gap(s) of unknown size") || !strings.Contains(out, "gap_unknown_size") {
			t.Errorf("table output does not show the gap of unknown size:\n%s", out)
		}
	})
}

// TestGatewayUnlistedHTTPConnections runs a gateway session over more TCP
// connections than a session lists (1024), going back to one of them at
// the end: the ones beyond the list are counted, each once, in
// unlisted_http_connections, and the table counts them all.
func TestGatewayUnlistedHTTPConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("1030 TCP connections")
	}
	const n = 1024 + 6
	var g gwTranscript
	conns := make([]int, n)
	for i := range conns {
		conns[i] = g.conn(fmt.Sprintf("192.168.%d.%d:49152", 1+i/250, 1+i%250))
	}
	g.exchange(0, conns[0], gwRequest("Action=open&Server=NS&IP=10.0.0.5", "VER 1 MSNP8 CVR0\r\n"),
		gwResponse("1.1", "VER 1 MSNP8\r\n", false))
	for i := 1; i < n; i++ {
		g.exchange(0, conns[i], gwRequest(fmt.Sprintf("Action=poll&SessionID=1.%d", i), ""),
			gwResponse(fmt.Sprintf("1.%d", i+1), "", false))
	}
	// Back to a connection beyond the list: it is not counted again.
	g.exchange(0, conns[n-3], gwRequest(fmt.Sprintf("Action=poll&SessionID=1.%d", n), ""),
		gwResponse(fmt.Sprintf("1.%d", n+1), "", true))
	path := g.write(t)
	r := runLossReport(t, path)
	if len(r.Sessions) != 1 {
		t.Fatalf("%d sessions, want 1", len(r.Sessions))
	}
	s := r.Sessions[0]
	if len(s.HTTPConnections) != 1024 || s.UnlistedHTTPConnections == nil || *s.UnlistedHTTPConnections != n-1024 {
		t.Errorf("%d HTTP connections listed, unlisted_http_connections %v; want 1024, %d",
			len(s.HTTPConnections), s.UnlistedHTTPConnections, n-1024)
	}
	out, stderr, code := runCLI(t, nil, path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if want := fmt.Sprintf("%d HTTP connection(s) (%d beyond the 1024 listed)", n, n-1024); !strings.Contains(out, want) {
		t.Errorf("table output does not say %q:\n%s", want, out)
	}
}

// TestGatewayDirectMSNPCutLine sends MSNP itself (not HTTP) to the
// gateway port, a first line that the end of the connection cuts before
// its CRLF: the connection is reported as on an MSNP port, its session
// with the cut line (truncated_line), whichever side sent it.
func TestGatewayDirectMSNPCutLine(t *testing.T) {
	for _, tt := range []struct {
		name string
		dir  dissect.Dir
		line string
		kind string
	}{
		{"client", dissect.C2S, "VER 1 MSNP8 CVR0", "truncated_line/c2s"},
		{"server", dissect.S2C, "VER 1 MSNP8\r", "truncated_line/s2c"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var reports []*gwLossReport
			for _, server := range []string{"10.0.0.80:1863", "10.0.0.80:80"} {
				tr := &dissect.Transcript{
					Conns:  []dissect.TranscriptConn{{Client: netip.MustParseAddrPort("192.168.0.2:49152"), Server: netip.MustParseAddrPort(server)}},
					Events: []dissect.TranscriptEvent{{Conn: 0, Dir: tt.dir, Data: []byte(tt.line)}},
				}
				path := filepath.Join(t.TempDir(), "cut.pcap")
				if err := os.WriteFile(path, generate(t, tr, capgen.Options{}, false), 0o644); err != nil {
					t.Fatal(err)
				}
				reports = append(reports, runLossReport(t, path))
			}
			for i, r := range reports {
				if len(r.Sessions) != 1 {
					t.Fatalf("report %d: %d sessions, want 1", i, len(r.Sessions))
				}
				s := r.Sessions[0]
				line := ""
				if len(s.Anomalies) > 0 {
					line = s.Anomalies[0].Line
				}
				if s.kinds() != tt.kind || line != tt.line || s.Transport != "tcp" || !s.Closed {
					t.Errorf("session to %s: anomalies %q (line %q), transport %s, closed %v; want %s of %q, tcp, closed",
						s.Server, s.kinds(), line, s.Transport, s.Closed, tt.kind, tt.line)
				}
			}
			if r := reports[1]; r.Sessions[0].DetectedBy != "content" || r.gateway("gateway_direct_msnp") != 1 ||
				r.gateway("gateway_truncated_messages") != 0 {
				t.Errorf("gateway port: detected_by %s, gateway_direct_msnp %d, gateway_truncated_messages %d; want content, 1, 0",
					r.Sessions[0].DetectedBy, r.gateway("gateway_direct_msnp"), r.gateway("gateway_truncated_messages"))
			}
		})
	}
}

// TestGatewayIdleLikeDirect checks that a gateway session silent for the
// gateway's idle timeout (2 minutes) is reported as a direct connection
// silent for --idle-timeout (2 minutes here) is: ended at its last message, not closed,
// with no anomaly, though no packet of the gateway port came after it,
// only traffic on port 1863 (the gateway counts it in
// gateway_idle_sessions).
func TestGatewayIdleLikeDirect(t *testing.T) {
	const (
		ver   = "VER 1 MSNP8 CVR0\r\n"
		verOK = "VER 1 MSNP8\r\n"
	)
	tr := &dissect.Transcript{Conns: []dissect.TranscriptConn{
		{Client: netip.MustParseAddrPort("192.168.0.2:49152"), Server: netip.MustParseAddrPort("10.0.0.80:80")},
		{Client: netip.MustParseAddrPort("192.168.0.3:50000"), Server: netip.MustParseAddrPort("10.0.0.5:1863")},
		{Client: netip.MustParseAddrPort("192.168.0.4:50000"), Server: netip.MustParseAddrPort("10.0.0.6:1863")},
	}}
	add := func(wait time.Duration, conn int, dir dissect.Dir, data string) {
		tr.Events = append(tr.Events, dissect.TranscriptEvent{Conn: conn, Dir: dir, Wait: wait, Data: []byte(data)})
	}
	add(0, 0, dissect.C2S, gwRequest("Action=open&Server=NS&IP=10.0.0.5", ver))
	add(0, 0, dissect.S2C, gwResponse("1.1", verOK, false))
	add(0, 1, dissect.C2S, ver)
	add(0, 1, dissect.S2C, verOK)
	add(0, 2, dissect.C2S, ver)
	add(0, 2, dissect.S2C, verOK)
	// Only the third connection goes on, a ping a minute, long after the
	// others fell silent.
	for range 3 {
		add(time.Minute, 2, dissect.C2S, "PNG\r\n")
		add(0, 2, dissect.S2C, "QNG 50\r\n")
	}
	path := filepath.Join(t.TempDir(), "idle.pcap")
	if err := os.WriteFile(path, generate(t, tr, capgen.Options{NoFIN: true}, false), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runLossReport(t, "--idle-timeout", "2m", path)
	if len(r.Sessions) != 3 {
		var clients []string
		for _, s := range r.Sessions {
			clients = append(clients, s.Client+" "+s.Transport)
		}
		t.Fatalf("%d sessions (%q), want 3: the idle ones once, the busy one once", len(r.Sessions), clients)
	}
	ends := map[string]string{}
	for _, s := range r.Sessions {
		ends[s.Client] = s.End
		if s.Closed || len(s.Anomalies) != 0 {
			t.Errorf("session %d (%s, %s): closed %v, anomalies %q; want open, none", s.ID, s.Client, s.Transport, s.Closed, s.kinds())
		}
	}
	gw, direct, busy := ends["192.168.0.2:49152"], ends["192.168.0.3:50000"], ends["192.168.0.4:50000"]
	if gw >= busy || direct >= busy {
		t.Errorf("ends: gateway session %s, idle direct session %s, busy session %s; want both idle ones to end before the busy one",
			gw, direct, busy)
	}
	if r.gateway("gateway_idle_sessions") != 1 || r.gateway("gateway_finished_sessions") != 0 {
		t.Errorf("gateway_idle_sessions %d, gateway_finished_sessions %d; want 1, 0",
			r.gateway("gateway_idle_sessions"), r.gateway("gateway_finished_sessions"))
	}
}
