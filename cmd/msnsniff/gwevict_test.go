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

// gwRequest is a gateway request with query q and body (msnp-grammar.md
// §14), as capgen.Gateway writes them.
func gwRequest(q, body string) string {
	return "POST /gateway/gateway.dll?" + q + " HTTP/1.1\r\nHost: gateway.messenger.hotmail.com\r\n" +
		"Content-Type: application/x-msn-messenger\r\nContent-Length: " + fmt.Sprint(len(body)) + "\r\n\r\n" + body
}

// gwResponse is a gateway response naming the next SessionID id, closing
// the session when closing is set.
func gwResponse(id, body string, closing bool) string {
	h := "HTTP/1.1 200 OK\r\nX-MSN-Messenger: SessionID=" + id + "; GW-IP=10.0.0.80"
	if closing {
		h += "; Session=close"
	}
	return h + "\r\nContent-Type: application/x-msn-messenger\r\nContent-Length: " + fmt.Sprint(len(body)) + "\r\n\r\n" + body
}

// gwTranscript builds a transcript of TCP connections to the gateway.
type gwTranscript struct{ tr dissect.Transcript }

// conn adds a connection from client to the gateway 10.0.0.80:80 and
// returns its index.
func (g *gwTranscript) conn(client string) int {
	g.tr.Conns = append(g.tr.Conns, dissect.TranscriptConn{
		Client: netip.MustParseAddrPort(client), Server: netip.MustParseAddrPort("10.0.0.80:80")})
	return len(g.tr.Conns) - 1
}

// send adds data from dir on conn, after wait.
func (g *gwTranscript) send(wait time.Duration, conn int, dir dissect.Dir, data string) {
	g.tr.Events = append(g.tr.Events, dissect.TranscriptEvent{Conn: conn, Dir: dir, Wait: wait, Data: []byte(data)})
}

// exchange adds a request and its response on conn, after wait.
func (g *gwTranscript) exchange(wait time.Duration, conn int, req, resp string) {
	g.send(wait, conn, dissect.C2S, req)
	g.send(0, conn, dissect.S2C, resp)
}

// write generates the capture, without FINs: every connection stays open
// until it is evicted or the capture ends.
func (g *gwTranscript) write(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gw.pcap")
	if err := os.WriteFile(path, generate(t, &g.tr, capgen.Options{NoFIN: true}, false), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// gwEvictReport is what the eviction tests read of a -T json report.
type gwEvictReport struct {
	Capture struct {
		Anomalies []struct {
			Name  string `json:"name"`
			Count int    `json:"count"`
		} `json:"anomalies"`
		Gateway []struct {
			Name  string `json:"name"`
			Count int    `json:"count"`
		} `json:"gateway"`
	} `json:"capture"`
	Sessions []gwEvictSession `json:"sessions"`
}

type gwEvictSession struct {
	ID         int    `json:"id"`
	Client     string `json:"client"`
	Transport  string `json:"transport"`
	DetectedBy string `json:"detected_by"`
	Closed     bool   `json:"closed"`
	Partial    bool   `json:"partial"`
	Anomalies  []struct {
		Kind string `json:"kind"`
	} `json:"anomalies"`
}

// kinds returns the session's anomaly kinds.
func (s gwEvictSession) kinds() []string {
	var k []string
	for _, a := range s.Anomalies {
		k = append(k, a.Kind)
	}
	return k
}

func (r *gwEvictReport) anomalies(name string) int {
	for _, a := range r.Capture.Anomalies {
		if a.Name == name {
			return a.Count
		}
	}
	return 0
}

func (r *gwEvictReport) gateway(name string) int {
	for _, c := range r.Capture.Gateway {
		if c.Name == name {
			return c.Count
		}
	}
	return -1
}

// runEvictReport runs -T json with args and reads the report.
func runEvictReport(t *testing.T, args ...string) (*gwEvictReport, string) {
	t.Helper()
	out, stderr, code := runCLI(t, nil, append([]string{"-T", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r gwEvictReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	return &r, stderr
}

// checkGatewaySessionCounts checks that every gateway session is counted
// as ended in exactly one way.
func checkGatewaySessionCounts(t *testing.T, r *gwEvictReport) {
	t.Helper()
	ended := 0
	for _, name := range []string{"gateway_closed_sessions", "gateway_idle_sessions", "gateway_evicted_sessions",
		"gateway_conn_evicted_sessions", "gateway_finished_sessions"} {
		ended += r.gateway(name)
	}
	if opened := r.gateway("gateway_sessions"); ended != opened {
		t.Errorf("gateway sessions: %d opened, %d ended: %+v", opened, ended, r.Capture.Gateway)
	}
}

// TestGatewayMaxConnections runs --max-connections 2 over four
// connections to the gateway port, all still open (no FIN) at the flush
// that finds three of them idle since before the fourth was last used:
// two carry a gateway session each (A, B), one carries MSNP itself (D),
// and the last (C) goes on. Each of the three is ended early: A, B and D
// are reported open with an evicted_connection anomaly, counted in the
// capture's anomalies and gateway counts, and A's next request, on the
// same addresses, starts a new, partial gateway session, as a later
// packet of an evicted direct connection does.
func TestGatewayMaxConnections(t *testing.T) {
	const (
		ver   = "VER 1 MSNP8 CVR0\r\n"
		verOK = "VER 1 MSNP8\r\n"
		cvr   = "CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS a@b.c\r\n"
		cvrOK = "CVR 2 6.0.0602 6.0.0602 1.0.0000 http://x http://y\r\n"
	)
	var g gwTranscript
	a, b := g.conn("192.168.0.2:49152"), g.conn("192.168.0.3:49152")
	d, c := g.conn("192.168.0.5:50000"), g.conn("192.168.0.4:49152")
	g.exchange(0, a, gwRequest("Action=open&Server=NS&IP=10.0.0.5", ver), gwResponse("1.1", verOK, false))
	g.exchange(time.Second, b, gwRequest("Action=open&Server=NS&IP=10.0.0.6", ver), gwResponse("2.1", verOK, false))
	g.send(500*time.Millisecond, d, dissect.C2S, ver)
	g.send(0, d, dissect.S2C, verOK)
	g.exchange(time.Second, c, gwRequest("Action=open&Server=NS&IP=10.0.0.7", ver), gwResponse("3.1", verOK, false))
	g.exchange(9*time.Second, c, gwRequest("SessionID=3.1", cvr), gwResponse("3.2", cvrOK, false))
	g.exchange(9*time.Second, c, gwRequest("Action=poll&SessionID=3.2", ""), gwResponse("3.3", "", false))
	// After the evictions: A goes on where it was.
	g.exchange(9*time.Second, a, gwRequest("SessionID=1.1", cvr), gwResponse("1.2", cvrOK, false))
	g.exchange(time.Second, c, gwRequest("Action=poll&SessionID=3.3", ""), gwResponse("3.4", "", true))
	path := g.write(t)

	// Without the limit nothing is evicted: A is one session.
	r, _ := runEvictReport(t, path)
	if len(r.Sessions) != 4 || r.anomalies("evicted_connection") != 0 || r.gateway("gateway_mid_sessions") != 0 {
		t.Fatalf("without --max-connections: %d sessions, %d evicted_connection, %d mid sessions; want 4, 0, 0",
			len(r.Sessions), r.anomalies("evicted_connection"), r.gateway("gateway_mid_sessions"))
	}

	r, stderr := runEvictReport(t, "--max-connections", "2", path)
	type want struct {
		client, transport string
		closed, partial   bool
		evicted           bool
	}
	wants := map[string]want{
		"192.168.0.2:49152/false": {"192.168.0.2:49152", "http-gateway", false, false, true}, // A
		"192.168.0.3:49152/false": {"192.168.0.3:49152", "http-gateway", false, false, true}, // B
		"192.168.0.5:50000/false": {"192.168.0.5:50000", "tcp", false, false, true},          // D
		"192.168.0.4:49152/false": {"192.168.0.4:49152", "http-gateway", true, false, false}, // C
		"192.168.0.2:49152/true":  {"192.168.0.2:49152", "http-gateway", false, true, false}, // A again
	}
	if len(r.Sessions) != len(wants) {
		t.Fatalf("%d sessions, want %d: %+v", len(r.Sessions), len(wants), r.Sessions)
	}
	for _, s := range r.Sessions {
		key := fmt.Sprintf("%s/%v", s.Client, s.Partial)
		w, ok := wants[key]
		if !ok {
			t.Errorf("unexpected session %+v", s)
			continue
		}
		delete(wants, key)
		evicted := strings.Contains(strings.Join(s.kinds(), " "), "evicted_connection")
		if s.Transport != w.transport || s.Closed != w.closed || evicted != w.evicted {
			t.Errorf("session %d (%s): transport %s, closed %v, anomalies %q; want %s, closed %v, evicted_connection %v",
				s.ID, key, s.Transport, s.Closed, s.kinds(), w.transport, w.closed, w.evicted)
		}
	}
	for key := range wants {
		t.Errorf("no session %s", key)
	}
	if n := r.anomalies("evicted_connection"); n != 3 {
		t.Errorf("capture counts %d evicted_connection, want 3", n)
	}
	for name, n := range map[string]int{
		"gateway_evicted_connections":   3,
		"gateway_conn_evicted_sessions": 2,
		"gateway_mid_sessions":          1,
		"gateway_sessions":              4,
		"gateway_closed_sessions":       1,
		"gateway_finished_sessions":     1,
		"gateway_direct_msnp":           1,
	} {
		if got := r.gateway(name); got != n {
			t.Errorf("capture.gateway %s = %d, want %d", name, got, n)
		}
	}
	checkGatewaySessionCounts(t, r)
	if !strings.Contains(stderr, "evicted_connection 3") {
		t.Errorf("stderr summary does not count the evictions: %q", stderr)
	}
}

// TestGatewayMaxSessions opens one more gateway session than the gateway
// keeps open at once (reassembly.DefaultGatewayMaxSessions), all on one
// keep-alive connection, then sends a request of the first: the first is
// ended early, reported open with an evicted_gateway_session anomaly and
// counted, and its request starts a new, partial session, which ends the
// second the same way.
func TestGatewayMaxSessions(t *testing.T) {
	if testing.Short() {
		t.Skip("4097 gateway sessions")
	}
	const n = 4096 + 1 // reassembly.DefaultGatewayMaxSessions + 1
	var g gwTranscript
	c := g.conn("192.168.0.2:49152")
	for i := range n {
		g.exchange(0, c, gwRequest("Action=open&Server=SB&IP=10.0.0.5", "USR 1 a@b.c 1.2.3\r\n"),
			gwResponse(fmt.Sprintf("%d.1", i+1), "USR 1 OK a@b.c A\r\n", false))
	}
	g.exchange(time.Second, c, gwRequest("SessionID=1.1", "CAL 2 b@c.d\r\n"), gwResponse("1.2", "CAL 2 RINGING 1\r\n", false))
	r, stderr := runEvictReport(t, g.write(t))
	if len(r.Sessions) != n+1 {
		t.Fatalf("%d sessions, want %d", len(r.Sessions), n+1)
	}
	evicted, partial := 0, 0
	for _, s := range r.Sessions {
		kinds := strings.Join(s.kinds(), " ")
		if strings.Contains(kinds, "evicted_gateway_session") {
			evicted++
			if s.Closed || s.Partial || s.ID > 2 {
				t.Errorf("evicted session %d: closed %v, partial %v; want session 1 or 2, open, not partial", s.ID, s.Closed, s.Partial)
			}
		}
		if s.Partial {
			partial++
		}
	}
	if evicted != 2 || partial != 1 {
		t.Errorf("%d sessions with evicted_gateway_session, %d partial; want 2, 1", evicted, partial)
	}
	if got := r.anomalies("evicted_gateway_session"); got != 2 {
		t.Errorf("capture counts %d evicted_gateway_session, want 2", got)
	}
	if got := r.gateway("gateway_evicted_sessions"); got != 2 {
		t.Errorf("capture.gateway gateway_evicted_sessions = %d, want 2", got)
	}
	checkGatewaySessionCounts(t, r)
	if !strings.Contains(stderr, "evicted_gateway_session 2") {
		t.Errorf("stderr summary does not count the eviction: %q", stderr)
	}
}
