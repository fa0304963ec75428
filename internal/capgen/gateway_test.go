package capgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/msnsniff/msnsniff/dissect"
)

// gwExchange is one decoded request and its response.
type gwExchange struct {
	conn            int // gateway transcript connection
	query           string
	host            string
	reqBody, body   []byte
	sessionHeader   string
	wait, respWait  time.Duration
	chunkedResponse bool
}

// decodeGateway parses every event of a gateway transcript with net/http:
// each C2S event must be one whole request, and the S2C event right after
// it on the same connection its whole response.
func decodeGateway(gt *dissect.Transcript) ([]gwExchange, error) {
	var out []gwExchange
	for i := 0; i < len(gt.Events); i += 2 {
		rq := gt.Events[i]
		if i+1 >= len(gt.Events) {
			return nil, fmt.Errorf("event %d: request without response", i)
		}
		rs := gt.Events[i+1]
		if rq.Dir != dissect.C2S || rs.Dir != dissect.S2C || rq.Conn != rs.Conn {
			return nil, fmt.Errorf("events %d, %d: not a request and its response on one connection", i, i+1)
		}
		br := bufio.NewReader(bytes.NewReader(rq.Data))
		req, err := http.ReadRequest(br)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		reqBody, err := io.ReadAll(req.Body)
		if err != nil || br.Buffered() != 0 {
			return nil, fmt.Errorf("event %d: body: %v, %d bytes left", i, err, br.Buffered())
		}
		br = bufio.NewReader(bytes.NewReader(rs.Data))
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i+1, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil || br.Buffered() != 0 {
			return nil, fmt.Errorf("event %d: body: %v, %d bytes left", i+1, err, br.Buffered())
		}
		if req.Method != http.MethodPost || req.URL.Path != "/gateway/gateway.dll" || resp.StatusCode != 200 ||
			req.Header.Get("Content-Type") != "application/x-msn-messenger" ||
			resp.Header.Get("Content-Type") != "application/x-msn-messenger" {
			return nil, fmt.Errorf("events %d, %d: %s %s, %d, content types %q, %q", i, i+1, req.Method, req.URL,
				resp.StatusCode, req.Header.Get("Content-Type"), resp.Header.Get("Content-Type"))
		}
		out = append(out, gwExchange{conn: rq.Conn, query: req.URL.RawQuery, host: req.Host, reqBody: reqBody, body: body,
			sessionHeader: resp.Header.Get("X-MSN-Messenger"), wait: rq.Wait, respWait: rs.Wait,
			chunkedResponse: len(resp.TransferEncoding) > 0})
	}
	return out, nil
}

// gwSessionView is what the decoded exchanges of one session show.
type gwSessionView struct {
	open        string // the query of Action=open
	c2s, s2c    []byte
	conns       []int
	polls       int // polls with empty bodies both ways
	closed      bool
	requests    int
	perConn     map[int]int
	lastID      string
	ids         map[string]bool
	chunked     int
	firstServer netip.AddrPort
}

// followSessions chains the exchanges into sessions by SessionID, checking
// the chain: each request names the id of the response before, and every
// response a new one.
func followSessions(gt *dissect.Transcript, exs []gwExchange, gwIP string) ([]*gwSessionView, error) {
	var views []*gwSessionView
	byID := map[string]*gwSessionView{}
	for i, ex := range exs {
		var v *gwSessionView
		if strings.HasPrefix(ex.query, "Action=open&") {
			v = &gwSessionView{open: ex.query, perConn: map[int]int{}, ids: map[string]bool{}, firstServer: gt.Conns[ex.conn].Server}
			views = append(views, v)
		} else {
			id := ex.query[strings.Index(ex.query, "SessionID=")+len("SessionID="):]
			if v = byID[id]; v == nil {
				return nil, fmt.Errorf("exchange %d: SessionID %q was never issued", i, id)
			}
			if id != v.lastID {
				return nil, fmt.Errorf("exchange %d: SessionID %q, but the last response said %q", i, id, v.lastID)
			}
			if v.closed {
				return nil, fmt.Errorf("exchange %d: request after Session=close", i)
			}
		}
		var id string
		for _, part := range strings.Split(ex.sessionHeader, "; ") {
			k, val, _ := strings.Cut(part, "=")
			switch {
			case k == "SessionID":
				id = val
			case k == "Session" && val == "close":
				v.closed = true
			case k == "GW-IP" && val != gwIP:
				return nil, fmt.Errorf("exchange %d: GW-IP %q", i, val)
			}
		}
		if id == "" || v.ids[id] {
			return nil, fmt.Errorf("exchange %d: response SessionID %q is not new", i, id)
		}
		v.ids[id] = true
		v.lastID = id
		byID[id] = v
		v.c2s = append(v.c2s, ex.reqBody...)
		v.s2c = append(v.s2c, ex.body...)
		if len(v.conns) == 0 || v.conns[len(v.conns)-1] != ex.conn {
			v.conns = append(v.conns, ex.conn)
		}
		v.perConn[ex.conn]++
		v.requests++
		if strings.HasPrefix(ex.query, "Action=poll&") && len(ex.reqBody) == 0 && len(ex.body) == 0 {
			v.polls++
		}
		if ex.chunkedResponse {
			v.chunked++
		}
	}
	return views, nil
}

// streams returns the bytes each transcript connection carries per
// direction.
func streams(t *dissect.Transcript) [][2][]byte {
	out := make([][2][]byte, len(t.Conns))
	for _, ev := range t.Events {
		out[ev.Conn][ev.Dir] = append(out[ev.Conn][ev.Dir], ev.Data...)
	}
	return out
}

func TestGateway(t *testing.T) {
	const c, s = dissect.C2S, dissect.S2C
	sb := &dissect.Transcript{
		Conns: []dissect.TranscriptConn{{Client: cl0, Server: netip.MustParseAddrPort("10.0.0.9:1865")}, {Client: cl1, Server: sv1}},
		Events: []dissect.TranscriptEvent{
			ev(0, c, "USR 1 a@b.c 17262163.1\r\n"),
			ev(0, s, "USR 1 OK a@b.c A\r\n"),
			ev(1, c, "ANS 1 b@b.c 17262163.2 11752013\r\n"),
			ev(1, s, "IRO 1 1 1 a@b.c A\r\n"),
			ev(1, s, "ANS 1 OK\r\n"),
			ev(0, s, "JOI b@b.c B\r\n"),
			{Conn: 0, Dir: c, Wait: 5 * time.Second, Data: []byte("MSG 2 N 5\r\nhello")},
			ev(1, s, "MSG a@b.c A 5\r\nhello"),
		},
	}
	trs := transcripts()
	trs["switchboard"] = sb
	// The gateway is IPv4 or IPv6, so one client of each: the IPv6
	// transcript's first connection alone.
	v6 := &dissect.Transcript{Conns: trs["ipv6"].Conns[:1]}
	for _, e := range trs["ipv6"].Events {
		if e.Conn == 0 {
			v6.Events = append(v6.Events, e)
		}
	}
	trs["ipv6"] = v6
	for name, tr := range trs {
		for _, opt := range []GatewayOptions{{}, {Chunked: true, RequestsPerConn: 1}, {RequestsPerConn: 5, PollInterval: time.Second}} {
			t.Run(fmt.Sprintf("%s/%+v", name, opt), func(t *testing.T) {
				if name == "ipv6" {
					opt.Gateway = netip.MustParseAddrPort("[2001:db8::80]:80")
					opt.GWIP = netip.MustParseAddr("2001:db8::81")
				}
				gt, err := Gateway(tr, opt)
				if err != nil {
					t.Fatal(err)
				}
				exs, err := decodeGateway(gt)
				if err != nil {
					t.Fatal(err)
				}
				norm, _ := opt.normalize()
				views, err := followSessions(gt, exs, norm.GWIP.String())
				if err != nil {
					t.Fatal(err)
				}
				want := streams(tr)
				k := 0
				for i, w := range want {
					if len(w[0]) == 0 && len(w[1]) == 0 {
						continue
					}
					if k >= len(views) {
						t.Fatalf("connection %d has no gateway session", i)
					}
					v := views[k]
					k++
					if !bytes.Equal(v.c2s, w[0]) || !bytes.Equal(v.s2c, w[1]) {
						t.Errorf("session %d carries %q / %q; want %q / %q", k, v.c2s, v.s2c, w[0], w[1])
					}
					kind := "NS"
					if isSwitchboardLogin(w[0]) {
						kind = "SB"
					}
					if wantOpen := "Action=open&Server=" + kind + "&IP=" + unmap(tr.Conns[i].Server).Addr().String(); v.open != wantOpen {
						t.Errorf("session %d opened with %q, want %q", k, v.open, wantOpen)
					}
					if !v.closed || v.polls < 1 {
						t.Errorf("session %d: closed %v, %d empty polls; want closed, at least 1", k, v.closed, v.polls)
					}
					if v.firstServer != norm.Gateway {
						t.Errorf("session %d: first connection to %v, want %v", k, v.firstServer, norm.Gateway)
					}
					for j, conn := range v.conns {
						srv := gt.Conns[conn].Server
						if j > 0 && srv != netip.AddrPortFrom(norm.GWIP, norm.Gateway.Port()) {
							t.Errorf("session %d: connection %d goes to %v, want GW-IP", k, j+1, srv)
						}
						if n := v.perConn[conn]; n > norm.RequestsPerConn || n < norm.RequestsPerConn && j < len(v.conns)-1 {
							t.Errorf("session %d: %d requests on connection %d, want %d", k, n, j+1, norm.RequestsPerConn)
						}
					}
					if opt.Chunked && v.chunked != v.requests {
						t.Errorf("session %d: %d of %d responses chunked", k, v.chunked, v.requests)
					}
				}
				if k != len(views) {
					t.Errorf("%d gateway sessions, want %d", len(views), k)
				}
				// The HTTP transcript makes a valid TCP capture.
				pkts, err := Packets(gt, Options{})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := verify(gt, Options{}, 1, recordsOf(pkts)); err != nil {
					t.Error(err)
				}
			})
		}
	}
}

// TestGatewayWaits checks the polls during an @wait and that the time of
// the transcript is kept.
func TestGatewayWaits(t *testing.T) {
	const c, s = dissect.C2S, dissect.S2C
	tr := &dissect.Transcript{
		Conns: []dissect.TranscriptConn{{Client: cl0, Server: sv0}},
		Events: []dissect.TranscriptEvent{
			ev(0, c, "VER 1 MSNP8 CVR0\r\n"),
			ev(0, s, "VER 1 MSNP8\r\n"),
			{Conn: 0, Dir: s, Wait: 5500 * time.Millisecond, Data: []byte("NLN NLN x@y.z X\r\n")},
			{Conn: 0, Dir: c, Wait: time.Hour, Data: []byte("OUT\r\n")},
		},
	}
	gt, err := Gateway(tr, GatewayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	exs, err := decodeGateway(gt)
	if err != nil {
		t.Fatal(err)
	}
	var queries []string
	var total time.Duration
	for _, ex := range exs {
		q, _, _ := strings.Cut(ex.query, "&SessionID=")
		if strings.HasPrefix(q, "SessionID=") {
			q = "send"
		}
		queries = append(queries, fmt.Sprintf("%s %q %q", q, ex.reqBody, ex.body))
		total += ex.wait + ex.respWait
	}
	poll := `Action=poll "" ""`
	want := []string{`Action=open&Server=NS&IP=10.0.0.1 "VER 1 MSNP8 CVR0\r\n" "VER 1 MSNP8\r\n"`, poll, poll,
		`Action=poll "" "NLN NLN x@y.z X\r\n"`}
	for range maxIdlePolls {
		want = append(want, poll)
	}
	want = append(want, `send "OUT\r\n" ""`, poll)
	if !reflect.DeepEqual(queries, want) {
		t.Errorf("exchanges:\n%s\nwant:\n%s", strings.Join(queries, "\n"), strings.Join(want, "\n"))
	}
	if total != time.Hour+5500*time.Millisecond {
		t.Errorf("waits add up to %v, want %v", total, time.Hour+5500*time.Millisecond)
	}
}

func TestGatewayDeterministic(t *testing.T) {
	tr := transcripts()["ipv4"]
	a, err := Gateway(tr, GatewayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Gateway(tr, GatewayOptions{})
	if !reflect.DeepEqual(a, b) {
		t.Error("two runs differ")
	}
	if &a.Events[0].Data[0] == &tr.Events[0].Data[0] {
		t.Error("the gateway transcript shares bytes with the input")
	}
}

func TestGatewayErrors(t *testing.T) {
	many := &dissect.Transcript{}
	for i := range 70000 {
		many.Conns = append(many.Conns, dissect.TranscriptConn{Client: cl0, Server: sv0})
		many.Events = append(many.Events, ev(i, dissect.C2S, "PNG\r\n"))
	}
	tests := []struct {
		name string
		tr   *dissect.Transcript
		opt  GatewayOptions
		err  error
	}{
		{"nil", nil, GatewayOptions{}, ErrTranscript},
		{"ipv6 client", transcripts()["ipv6"], GatewayOptions{}, ErrTranscript},
		{"bad event", &dissect.Transcript{Conns: []dissect.TranscriptConn{{Client: cl0, Server: sv0}},
			Events: []dissect.TranscriptEvent{ev(1, dissect.C2S, "x")}}, GatewayOptions{}, ErrTranscript},
		{"negative wait", &dissect.Transcript{Conns: []dissect.TranscriptConn{{Client: cl0, Server: sv0}},
			Events: []dissect.TranscriptEvent{{Conn: 0, Dir: dissect.C2S, Wait: -1, Data: []byte("x")}}}, GatewayOptions{}, ErrTranscript},
		{"too many connections", many, GatewayOptions{}, ErrTranscript},
		{"requests per connection", transcripts()["ipv4"], GatewayOptions{RequestsPerConn: -1}, ErrOptions},
		{"poll interval", transcripts()["ipv4"], GatewayOptions{PollInterval: -time.Second}, ErrOptions},
		{"GW-IP version", transcripts()["ipv4"], GatewayOptions{GWIP: netip.MustParseAddr("::1")}, ErrOptions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Gateway(tt.tr, tt.opt); !errors.Is(err, tt.err) {
				t.Errorf("Gateway = %v, want %v", err, tt.err)
			}
		})
	}
}
