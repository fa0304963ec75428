package reassembly

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/msnsniff/msnsniff/dissect"
)

// gwT0 is the time of the first step of a gateway test script.
var gwT0 = time.Date(2005, 3, 14, 12, 0, 0, 0, time.UTC)

// gwSink records the sessions an HTTPGateway opens, with their targets.
type gwSink struct {
	sessions []*gwRec
}

// gwRec records one gateway session.
type gwRec struct {
	Client, Server string
	Target         string
	SYN            bool
	Transport      string
	Start          time.Time
	Data           [2]string // bytes per direction, gaps as <gap n>
	Conns          []string
	Polls          int
	Ends           int
	Closed         bool
	EndT           time.Time
	Late           int // calls after End
	// Evicted and GatewayEvicted count the calls of Evict and
	// EvictGatewaySession, and EvictedLast is set when the last one came
	// right before End.
	Evicted, GatewayEvicted int
	EvictedLast             bool
	// Jumps records the TimeJump calls, each with the bytes fed next;
	// JumpPending is one not followed by a Feed yet.
	Jumps       []string
	JumpPending string
}

func (r *gwSink) Open(c dissect.ConnInfo) Stream {
	s := &gwRec{Client: c.Client.String(), Server: c.Server.String(), SYN: c.SYN, Transport: c.Transport, Start: c.Start}
	if c.Target.IsValid() {
		s.Target = c.Target.String()
	}
	r.sessions = append(r.sessions, s)
	return s
}

func (s *gwRec) TimeJump(d dissect.Dir, t time.Time, ahead time.Duration) {
	s.JumpPending = fmt.Sprintf("%v %v %v", d, t.Format(time.RFC3339), ahead)
}

func (s *gwRec) Feed(d dissect.Dir, t time.Time, b []byte) {
	if s.Ends > 0 {
		s.Late++
	}
	if s.JumpPending != "" {
		s.Jumps = append(s.Jumps, fmt.Sprintf("%s %q", s.JumpPending, b))
		s.JumpPending = ""
	}
	s.EvictedLast = false
	s.Data[d] += string(b)
}

func (s *gwRec) Gap(d dissect.Dir, t time.Time, n int) {
	if s.Ends > 0 {
		s.Late++
	}
	s.EvictedLast = false
	s.Data[d] += fmt.Sprintf("<gap %d>", n)
}

func (s *gwRec) Evict(t time.Time) {
	if s.Ends > 0 {
		s.Late++
	}
	s.Evicted++
	s.EvictedLast = true
}

func (s *gwRec) EvictGatewaySession(t time.Time) {
	if s.Ends > 0 {
		s.Late++
	}
	s.GatewayEvicted++
	s.EvictedLast = true
}

func (s *gwRec) End(t time.Time, closed bool) {
	s.Ends++
	s.Closed = closed
	s.EndT = t
}

// NoteHTTPConnection records every call: the gateway notes each
// connection once per session, so a repeat shows in Conns.
func (s *gwRec) NoteHTTPConnection(c string) { s.Conns = append(s.Conns, c) }

func (s *gwRec) NoteEmptyPoll() { s.Polls++ }

// gwStep is one call on a TCP connection of a test script: Feed of data,
// else Gap of gap bytes (gap < 0: an unknown number), else Evict and an
// open End (after which a step on conn opens a new connection, as the
// Engine does), else End.
type gwStep struct {
	conn  int
	dir   dissect.Dir
	data  string
	gap   int
	evict bool
	end   bool
}

// gwScript is a set of TCP connections and the calls made on them. Each
// step is 10 ms after the one before.
type gwScript struct {
	conns [][2]string // client, server
	steps []gwStep
}

// splitter cuts a Feed into the pieces actually fed.
type splitter struct {
	name string
	cut  func(b []byte) [][]byte
}

var splitters = []splitter{
	{"whole", func(b []byte) [][]byte { return [][]byte{b} }},
	{"bytes", func(b []byte) [][]byte {
		var out [][]byte
		for i := range b {
			out = append(out, b[i:i+1])
		}
		return out
	}},
	{"odd", func(b []byte) [][]byte { return cutEvery(b, 3) }},
	{"even", func(b []byte) [][]byte { return cutEvery(b, 2) }},
	{"halves", func(b []byte) [][]byte { return [][]byte{b[:len(b)/2], b[len(b)/2:]} }},
}

func cutEvery(b []byte, n int) [][]byte {
	var out [][]byte
	for len(b) > n {
		out = append(out, b[:n])
		b = b[n:]
	}
	return append(out, b)
}

// run plays s on a new HTTPGateway, each Feed cut by sp, then calls
// Finish one step after the last. Fed slices are overwritten after each
// call, so nothing may keep them.
func (s gwScript) run(tb testing.TB, opt GatewayOptions, sp splitter) (*gwSink, GatewayStats) {
	tb.Helper()
	sink := &gwSink{}
	g := NewHTTPGateway(sink, opt)
	streams := make([]Stream, len(s.conns))
	t := gwT0
	for _, st := range s.steps {
		if streams[st.conn] == nil {
			c := s.conns[st.conn]
			streams[st.conn] = g.Open(dissect.ConnInfo{
				Client: netip.MustParseAddrPort(c[0]), Server: netip.MustParseAddrPort(c[1]),
				Start: t, SYN: true, File: "test.pcap", Packet: 1, DetectedBy: "port"})
		}
		out := streams[st.conn]
		switch {
		case st.data != "":
			for _, piece := range sp.cut([]byte(st.data)) {
				out.Feed(st.dir, t, piece)
				for i := range piece {
					piece[i] = 'X'
				}
			}
		case st.gap != 0:
			out.Gap(st.dir, t, max(st.gap, 0))
		case st.evict:
			out.(Evicter).Evict(t)
			out.End(t, false)
			streams[st.conn] = nil
		case st.end:
			out.End(t, true)
		}
		t = t.Add(10 * time.Millisecond)
	}
	g.Finish(t)
	return sink, g.Stats()
}

const (
	gwClient = "192.168.0.2:49152"
	gwHost   = "10.0.0.80:80"
	gwIP     = "10.0.0.81:80"
)

// post is a gateway request with query q and body.
func post(q, body string, extra ...string) string {
	h := "POST /gateway/gateway.dll?" + q + " HTTP/1.1\r\nHost: gateway.messenger.hotmail.com\r\n" +
		"Content-Type: application/x-msn-messenger\r\n"
	for _, e := range extra {
		h += e + "\r\n"
	}
	return h + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// reply is a gateway response naming the next session id, with body.
func reply(id, body string, extra ...string) string {
	h := "HTTP/1.1 200 OK\r\nX-MSN-Messenger: SessionID=" + id + "; GW-IP=10.0.0.81\r\n" +
		"Content-Type: application/x-msn-messenger\r\n"
	for _, e := range extra {
		h += e + "\r\n"
	}
	return h + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// chunks encodes body in chunks of n bytes, with a chunk extension on the
// first and a trailer field.
func chunks(body string, n int) string {
	var b strings.Builder
	for i := 0; i < len(body); i += n {
		part := body[i:min(i+n, len(body))]
		ext := ""
		if i == 0 {
			ext = ";name=value"
		}
		fmt.Fprintf(&b, "%x%s\r\n%s\r\n", len(part), ext, part)
	}
	b.WriteString("0\r\nX-Trailer: 1\r\n\r\n")
	return b.String()
}

func c2s(conn int, data string) gwStep { return gwStep{conn: conn, dir: dissect.C2S, data: data} }
func s2c(conn int, data string) gwStep { return gwStep{conn: conn, dir: dissect.S2C, data: data} }
func endConn(conn int) gwStep          { return gwStep{conn: conn, end: true} }
func evictConn(conn int) gwStep        { return gwStep{conn: conn, evict: true} }

const (
	ver    = "VER 1 MSNP8 CVR0\r\n"
	verOK  = "VER 1 MSNP8\r\n"
	cvr    = "CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS a@b.c\r\n"
	cvrOK  = "CVR 2 6.0.0602 6.0.0602 1.0.0000 http://x http://y\r\n"
	msgHdr = "MSG Hotmail Hotmail 5\r\nhello"
)

// gwOpen is the open exchange of a notification session on conn 0.
var gwOpen = []gwStep{
	c2s(0, post("Action=open&Server=NS&IP=10.0.0.5", ver)),
	s2c(0, reply("954547325.13160", verOK)),
}

func steps(lists ...[]gwStep) []gwStep {
	var out []gwStep
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// ns is the expected record of the notification session opened by gwOpen.
func ns(c2sData, s2cData string, conns ...string) *gwRec {
	if len(conns) == 0 {
		conns = []string{gwClient + " -> " + gwHost}
	}
	return &gwRec{Client: gwClient, Server: gwHost, Target: "10.0.0.5:1863", SYN: true, Transport: "http-gateway",
		Data: [2]string{c2sData, s2cData}, Conns: conns, Ends: 1}
}

func TestHTTPGateway(t *testing.T) {
	one := [][2]string{{gwClient, gwHost}}
	two := [][2]string{{gwClient, gwHost}, {"192.168.0.2:49153", gwIP}}
	tests := []struct {
		name   string
		script gwScript
		want   []*gwRec
		stats  GatewayStats
	}{
		{
			name:   "keep-alive, content-length",
			script: gwScript{one, steps(gwOpen, []gwStep{c2s(0, post("SessionID=954547325.13160", cvr)), s2c(0, reply("954547325.2", cvrOK))})},
			want:   []*gwRec{ns(ver+cvr, verOK+cvrOK)},
			stats:  GatewayStats{Connections: 1, GatewayConnections: 1, Requests: 2, Responses: 2, Sessions: 1, FinishedSessions: 1},
		},
		{
			name: "session id chain across connections, to GW-IP",
			script: gwScript{two, steps(gwOpen, []gwStep{
				endConn(0),
				c2s(1, post("SessionID=954547325.13160", cvr)),
				s2c(1, reply("954547325.32498", cvrOK)),
				c2s(1, post("Action=poll&SessionID=954547325.32498", "")),
				s2c(1, reply("954547325.7", msgHdr)),
			})},
			want: []*gwRec{ns(ver+cvr, verOK+cvrOK+msgHdr, gwClient+" -> "+gwHost, "192.168.0.2:49153 -> "+gwIP)},
			stats: GatewayStats{Connections: 2, GatewayConnections: 2, Requests: 3, Responses: 3, Sessions: 1,
				FinishedSessions: 1},
		},
		{
			// Each connection is noted once, however often the session
			// goes back to it.
			name: "session alternating between two connections",
			script: gwScript{two, steps(gwOpen, []gwStep{
				c2s(1, post("SessionID=954547325.13160", cvr)),
				s2c(1, reply("954547325.2", cvrOK)),
				c2s(0, post("Action=poll&SessionID=954547325.2", "")),
				s2c(0, reply("954547325.3", msgHdr)),
				c2s(1, post("Action=poll&SessionID=954547325.3", "")),
				s2c(1, reply("954547325.4", "")),
			})},
			want: []*gwRec{func() *gwRec {
				r := ns(ver+cvr, verOK+cvrOK+msgHdr, gwClient+" -> "+gwHost, "192.168.0.2:49153 -> "+gwIP)
				r.Polls = 1
				return r
			}()},
			stats: GatewayStats{Connections: 2, GatewayConnections: 2, Requests: 4, Responses: 4, Sessions: 1,
				FinishedSessions: 1, EmptyPolls: 1},
		},
		{
			name: "empty poll and Session=close",
			script: gwScript{one, steps(gwOpen, []gwStep{
				c2s(0, post("Action=poll&SessionID=954547325.13160", "")),
				s2c(0, reply("954547325.2", "")),
				c2s(0, post("SessionID=954547325.2", "OUT\r\n")),
				s2c(0, reply("954547325.3", "", "X-Unused: 1")),
				c2s(0, post("Action=poll&SessionID=954547325.3", "")),
				s2c(0, "HTTP/1.1 200 OK\r\nX-MSN-Messenger: SessionID=954547325.4; GW-IP=10.0.0.81; Session=close\r\nContent-Length: 0\r\n\r\n"),
			})},
			want: []*gwRec{func() *gwRec {
				r := ns(ver+"OUT\r\n", verOK)
				r.Polls, r.Closed = 2, true
				return r
			}()},
			stats: GatewayStats{Connections: 1, GatewayConnections: 1, Requests: 4, Responses: 4, Sessions: 1,
				ClosedSessions: 1, EmptyPolls: 2},
		},
		{
			name: "chunked request and response",
			script: gwScript{one, []gwStep{
				c2s(0, "POST /gateway/gateway.dll?Action=open&Server=NS&IP=10.0.0.5 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"+chunks(ver+cvr, 7)),
				s2c(0, "HTTP/1.1 200 OK\r\nX-MSN-Messenger: SessionID=1.1; GW-IP=10.0.0.81\r\nTransfer-Encoding: chunked\r\n\r\n"+chunks(verOK+cvrOK, 5)),
				c2s(0, post("SessionID=1.1", "INF 3\r\n")),
				s2c(0, reply("1.2", "INF 3 MD5\r\n")),
			}},
			want:  []*gwRec{ns(ver+cvr+"INF 3\r\n", verOK+cvrOK+"INF 3 MD5\r\n")},
			stats: GatewayStats{Connections: 1, GatewayConnections: 1, Requests: 2, Responses: 2, Sessions: 1, FinishedSessions: 1},
		},
		{
			name: "pipelining: two sessions on one connection",
			script: gwScript{one, []gwStep{
				c2s(0, post("Action=open&Server=NS&IP=10.0.0.5", ver)+post("Action=open&Server=SB&IP=10.0.0.9:1865", "USR 1 a@b.c 17.1\r\n")),
				s2c(0, reply("1.1", verOK)+reply("2.1", "USR 1 OK a@b.c A\r\n")),
				c2s(0, post("SessionID=2.1", "CAL 2 x@y.z\r\n")+post("SessionID=1.1", cvr)),
				s2c(0, reply("2.2", "CAL 2 RINGING 1\r\n")),
				s2c(0, reply("1.2", cvrOK)),
			}},
			want: []*gwRec{
				ns(ver+cvr, verOK+cvrOK),
				{Client: gwClient, Server: gwHost, Target: "10.0.0.9:1865", SYN: true, Transport: "http-gateway",
					Data:  [2]string{"USR 1 a@b.c 17.1\r\nCAL 2 x@y.z\r\n", "USR 1 OK a@b.c A\r\nCAL 2 RINGING 1\r\n"},
					Conns: []string{gwClient + " -> " + gwHost}, Ends: 1},
			},
			stats: GatewayStats{Connections: 1, GatewayConnections: 1, Requests: 4, Responses: 4, Sessions: 2, FinishedSessions: 2},
		},
		{
			name: "interim 100 Continue, LF line ends, absolute target",
			script: gwScript{one, []gwStep{
				c2s(0, "POST http://gateway.messenger.hotmail.com/gateway/gateway.dll?Action=open&Server=NS&IP=10.0.0.5 HTTP/1.1\n"+
					"Expect: 100-continue\nContent-Length: "+strconv.Itoa(len(ver))+"\n\n"+ver),
				s2c(0, "HTTP/1.1 100 Continue\r\n\r\n"+reply("1.1", verOK)),
			}},
			want:  []*gwRec{ns(ver, verOK)},
			stats: GatewayStats{Connections: 1, GatewayConnections: 1, Requests: 1, Responses: 1, Sessions: 1, FinishedSessions: 1},
		},
		{
			name: "response until close",
			script: gwScript{one, []gwStep{
				c2s(0, post("Action=open&Server=NS&IP=10.0.0.5", ver)),
				s2c(0, "HTTP/1.0 200 OK\r\nX-MSN-Messenger: SessionID=1.1; GW-IP=10.0.0.81\r\n\r\n"+verOK),
				endConn(0),
			}},
			want:  []*gwRec{ns(ver, verOK)},
			stats: GatewayStats{Connections: 1, GatewayConnections: 1, Requests: 1, Responses: 1, Sessions: 1, FinishedSessions: 1},
		},
		{
			name: "error response body is not MSNP",
			script: gwScript{one, steps(gwOpen, []gwStep{
				c2s(0, post("SessionID=954547325.13160", cvr)),
				s2c(0, "HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\n\r\nBad Request"),
			})},
			want: []*gwRec{ns(ver+cvr, verOK)},
			stats: GatewayStats{Connections: 1, GatewayConnections: 1, Requests: 2, Responses: 2, ErrorResponses: 1,
				Sessions: 1, FinishedSessions: 1},
		},
		{
			name: "unknown session id: caught mid-way",
			script: gwScript{one, []gwStep{
				c2s(0, post("SessionID=77.1", "PNG\r\n")),
				s2c(0, reply("77.2", "QNG 50\r\n")),
				c2s(0, post("SessionID=77.2", "CHG 9 NLN 0\r\n")),
				s2c(0, reply("77.3", "CHG 9 NLN 0\r\n")),
			}},
			want: []*gwRec{{Client: gwClient, Server: gwHost, Transport: "http-gateway",
				Data: [2]string{"PNG\r\nCHG 9 NLN 0\r\n", "QNG 50\r\nCHG 9 NLN 0\r\n"}, Conns: []string{gwClient + " -> " + gwHost}, Ends: 1}},
			stats: GatewayStats{Connections: 1, GatewayConnections: 1, Requests: 2, Responses: 2, Sessions: 1, MidSessions: 1,
				FinishedSessions: 1},
		},
		{
			name: "stale session id still leads to its session",
			script: gwScript{one, steps(gwOpen, []gwStep{
				c2s(0, post("SessionID=954547325.13160", cvr)),
				s2c(0, reply("954547325.2", cvrOK)),
				c2s(0, post("SessionID=954547325.13160", "INF 3\r\n")),
				s2c(0, reply("954547325.3", "INF 3 MD5\r\n")),
			})},
			want:  []*gwRec{ns(ver+cvr+"INF 3\r\n", verOK+cvrOK+"INF 3 MD5\r\n")},
			stats: GatewayStats{Connections: 1, GatewayConnections: 1, Requests: 3, Responses: 3, Sessions: 1, FinishedSessions: 1},
		},
		{
			name:   "garbage is not HTTP",
			script: gwScript{one, []gwStep{c2s(0, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), s2c(0, "\x16\x03\x03\x00")}},
			stats:  GatewayStats{Connections: 1, NotHTTP: 1},
		},
		{
			name:   "MSNP on the gateway port is dissected as plain MSNP",
			script: gwScript{one, []gwStep{c2s(0, ver), s2c(0, verOK)}},
			want: []*gwRec{{Client: "192.168.0.2:49152", Server: "10.0.0.80:80", SYN: true,
				Data: [2]string{"VER 1 MSNP8 CVR0\r\n", "VER 1 MSNP8\r\n"}}},
			stats: GatewayStats{Connections: 1, DirectMSNP: 1},
		},
		{
			// As on an MSNP port, the session reports the cut line.
			name:   "MSNP line cut by the end of the connection",
			script: gwScript{one, []gwStep{c2s(0, "VER 1 MSNP8 CVR0"), endConn(0)}},
			want: []*gwRec{{Client: gwClient, Server: gwHost, SYN: true, Data: [2]string{"VER 1 MSNP8 CVR0", ""},
				Ends: 1, Closed: true}},
			stats: GatewayStats{Connections: 1, DirectMSNP: 1},
		},
		{
			name:   "server's MSNP line cut by the end of the connection",
			script: gwScript{one, []gwStep{s2c(0, "VER 1 MSNP8\r"), endConn(0)}},
			want: []*gwRec{{Client: gwClient, Server: gwHost, SYN: true, Data: [2]string{"", "VER 1 MSNP8\r"},
				Ends: 1, Closed: true}},
			stats: GatewayStats{Connections: 1, DirectMSNP: 1},
		},
		{
			name: "MSNP line cut by a gap",
			script: gwScript{one, []gwStep{c2s(0, "VER 1 MSNP8 CV"), {conn: 0, dir: dissect.C2S, gap: 3},
				c2s(0, cvr), s2c(0, verOK)}},
			want: []*gwRec{{Client: gwClient, Server: gwHost, SYN: true,
				Data: [2]string{"VER 1 MSNP8 CV<gap 3>" + cvr, verOK}}},
			stats: GatewayStats{Connections: 1, DirectMSNP: 1},
		},
		{
			name:   "MSNP line cut by an eviction",
			script: gwScript{one, []gwStep{c2s(0, "VER 1 MSNP8 CVR0"), evictConn(0)}},
			want: []*gwRec{{Client: gwClient, Server: gwHost, SYN: true, Data: [2]string{"VER 1 MSNP8 CVR0", ""},
				Ends: 1, Evicted: 1, EvictedLast: true}},
			stats: GatewayStats{Connections: 1, DirectMSNP: 1, EvictedConnections: 1},
		},
		{
			name:   "HTTP request line cut by the end of the connection",
			script: gwScript{one, []gwStep{c2s(0, "PUT /gateway/gateway.dll?Action=open HTTP/1.1"), endConn(0)}},
			stats:  GatewayStats{Connections: 1, TruncatedMessages: 1},
		},
		{
			name:   "too short to tell",
			script: gwScript{one, []gwStep{c2s(0, "VER"), endConn(0)}},
			stats:  GatewayStats{Connections: 1, TruncatedMessages: 1},
		},
		{
			name: "other HTTP is not the gateway",
			script: gwScript{one, []gwStep{
				c2s(0, "GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n"),
				s2c(0, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"),
			}},
			stats: GatewayStats{Connections: 1, NotGateway: 1, Requests: 1},
		},
		{
			name: "other request on a gateway connection is skipped",
			script: gwScript{one, steps(gwOpen, []gwStep{
				c2s(0, "GET /favicon.ico HTTP/1.1\r\nHost: x\r\n\r\n"),
				s2c(0, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"),
				c2s(0, post("SessionID=954547325.13160", cvr)),
				s2c(0, reply("954547325.2", cvrOK)),
			})},
			want: []*gwRec{ns(ver+cvr, verOK+cvrOK)},
			stats: GatewayStats{Connections: 1, GatewayConnections: 1, Requests: 3, Responses: 3, OtherRequests: 1,
				ErrorResponses: 1, Sessions: 1, FinishedSessions: 1},
		},
		{
			name: "malformed response breaks the connection",
			script: gwScript{one, steps(gwOpen, []gwStep{
				c2s(0, post("SessionID=954547325.13160", cvr)),
				s2c(0, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nxxxxx"),
			})},
			want: []*gwRec{ns(ver+cvr, verOK+"<gap 0>")},
			stats: GatewayStats{Connections: 1, GatewayConnections: 1, Requests: 2, Responses: 1, Broken: 1,
				UnansweredRequests: 1, Sessions: 1, FinishedSessions: 1},
		},
		{
			// The request names its session: it loses a body of unknown
			// size.
			name: "malformed request breaks the connection",
			script: gwScript{one, steps(gwOpen, []gwStep{
				c2s(0, "POST /gateway/gateway.dll?SessionID=954547325.13160 HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
			})},
			want: []*gwRec{ns(ver+"<gap 0>", verOK)},
			stats: GatewayStats{Connections: 1, GatewayConnections: 1, Requests: 1, Responses: 1, Broken: 1,
				Sessions: 1, FinishedSessions: 1},
		},
		{
			name: "request header cut by the end of the connection",
			script: gwScript{one, steps(gwOpen, []gwStep{
				c2s(0, "POST /gateway/gateway.dll?SessionID=954547325.13160 HTTP/1.1\r\nHost: x\r\nContent-Le"),
				endConn(0),
			})},
			want: []*gwRec{ns(ver+"<gap 0>", verOK)},
			stats: GatewayStats{Connections: 1, GatewayConnections: 1, Requests: 1, Responses: 1, TruncatedMessages: 1,
				Sessions: 1, FinishedSessions: 1},
		},
		{
			// A poll carries no body: nothing is lost.
			name: "poll header cut by the end of the connection",
			script: gwScript{one, steps(gwOpen, []gwStep{
				c2s(0, "POST /gateway/gateway.dll?Action=poll&SessionID=954547325.13160 HTTP/1.1\r\nHost: x\r\n"),
				endConn(0),
			})},
			want: []*gwRec{ns(ver, verOK)},
			stats: GatewayStats{Connections: 1, GatewayConnections: 1, Requests: 1, Responses: 1, TruncatedMessages: 1,
				Sessions: 1, FinishedSessions: 1},
		},
		{
			// More than maxGapReport missing: how many is not believed.
			name: "huge body cut by the end of the connection",
			script: gwScript{one, steps(gwOpen, []gwStep{
				c2s(0, post("SessionID=954547325.13160", cvr)),
				s2c(0, "HTTP/1.1 200 OK\r\nContent-Length: 5000000000\r\n\r\nCVR 2"),
				endConn(0),
			})},
			want: []*gwRec{ns(ver+cvr, verOK+"CVR 2<gap 0>")},
			stats: GatewayStats{Connections: 1, GatewayConnections: 1, Requests: 2, Responses: 2, TruncatedMessages: 1,
				Sessions: 1, FinishedSessions: 1},
		},
		{
			// The session ends (Session=close) while a request of it
			// waits on another connection: its response has nowhere to
			// go, and is counted.
			name: "response after the session ended",
			script: gwScript{two, steps(gwOpen, []gwStep{
				c2s(1, post("SessionID=954547325.13160", cvr)),
				c2s(0, post("Action=poll&SessionID=954547325.13160", "")),
				s2c(0, "HTTP/1.1 200 OK\r\nX-MSN-Messenger: SessionID=954547325.2; GW-IP=10.0.0.81; Session=close\r\nContent-Length: 0\r\n\r\n"),
				s2c(1, reply("954547325.3", cvrOK)),
			})},
			want: []*gwRec{func() *gwRec {
				r := ns(ver+cvr, verOK, gwClient+" -> "+gwHost, "192.168.0.2:49153 -> "+gwIP)
				r.Closed, r.Polls = true, 1
				return r
			}()},
			stats: GatewayStats{Connections: 2, GatewayConnections: 2, Requests: 3, Responses: 3, Sessions: 1,
				ClosedSessions: 1, EmptyPolls: 1, LateBodies: 1, LateBytes: int64(len(cvrOK))},
		},
		{
			name: "bad chunk size breaks the connection",
			script: gwScript{one, steps(gwOpen, []gwStep{
				c2s(0, post("SessionID=954547325.13160", cvr)),
				s2c(0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
			})},
			want: []*gwRec{ns(ver+cvr, verOK+"<gap 0>")},
			stats: GatewayStats{Connections: 1, GatewayConnections: 1, Requests: 2, Responses: 2, Broken: 1,
				Sessions: 1, FinishedSessions: 1},
		},
		{
			name: "gap inside a body keeps sync",
			script: gwScript{one, []gwStep{
				c2s(0, post("Action=open&Server=NS&IP=10.0.0.5", ver)),
				s2c(0, reply("1.1", verOK+cvrOK)[:len(reply("1.1", verOK+cvrOK))-len(cvrOK)]),
				{conn: 0, dir: dissect.S2C, gap: 10},
				s2c(0, cvrOK[10:]),
				c2s(0, post("SessionID=1.1", "INF 3\r\n")),
				s2c(0, reply("1.2", "INF 3 MD5\r\n")),
			}},
			want:  []*gwRec{ns(ver+"INF 3\r\n", verOK+"<gap 10>"+cvrOK[10:]+"INF 3 MD5\r\n")},
			stats: GatewayStats{Connections: 1, GatewayConnections: 1, Requests: 2, Responses: 2, Sessions: 1, FinishedSessions: 1},
		},
		{
			name: "gap between messages breaks the connection",
			script: gwScript{one, steps(gwOpen, []gwStep{
				{conn: 0, dir: dissect.C2S, gap: 40},
				c2s(0, post("SessionID=954547325.13160", cvr)),
			})},
			want:  []*gwRec{ns(ver, verOK)},
			stats: GatewayStats{Connections: 1, GatewayConnections: 1, Requests: 1, Responses: 1, Broken: 1, Sessions: 1, FinishedSessions: 1},
		},
		{
			name: "body cut short by the end of the connection",
			script: gwScript{one, []gwStep{
				c2s(0, post("Action=open&Server=NS&IP=10.0.0.5", ver)),
				s2c(0, reply("1.1", verOK+cvrOK)[:len(reply("1.1", verOK+cvrOK))-4]),
				endConn(0),
			}},
			want:  []*gwRec{ns(ver, verOK+cvrOK[:len(cvrOK)-4]+"<gap 4>")},
			stats: GatewayStats{Connections: 1, GatewayConnections: 1, Requests: 1, Responses: 1, TruncatedMessages: 1, Sessions: 1, FinishedSessions: 1},
		},
		{
			name: "response without request",
			script: gwScript{one, []gwStep{
				s2c(0, reply("1.1", verOK)),
				c2s(0, post("Action=open&Server=NS&IP=10.0.0.5", ver)),
				s2c(0, reply("1.2", verOK)),
			}},
			want:  []*gwRec{ns(ver, verOK)},
			stats: GatewayStats{Connections: 1, GatewayConnections: 1, Requests: 1, Responses: 2, UnmatchedResponses: 1, Sessions: 1, FinishedSessions: 1},
		},
		{
			name: "host name target",
			script: gwScript{one, []gwStep{
				c2s(0, post("Action=open&Server=NS&IP=messenger.hotmail.com", ver)),
				s2c(0, reply("1.1", verOK)),
			}},
			want: []*gwRec{func() *gwRec { r := ns(ver, verOK); r.Target = ""; return r }()},
			stats: GatewayStats{Connections: 1, GatewayConnections: 1, Requests: 1, Responses: 1, Sessions: 1,
				FinishedSessions: 1},
		},
	}
	for _, tt := range tests {
		for _, sp := range splitters {
			t.Run(tt.name+"/"+sp.name, func(t *testing.T) {
				sink, st := tt.script.run(t, GatewayOptions{}, sp)
				for _, s := range sink.sessions {
					s.Start, s.EndT = time.Time{}, time.Time{}
				}
				if diff := cmp.Diff(tt.want, sink.sessions); diff != "" {
					t.Errorf("sessions (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.stats, st); diff != "" {
					t.Errorf("stats (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestHTTPGatewayEvictedConnection evicts a TCP connection (the Engine's
// MaxConnections) in each state it can be in: every open session it
// carried is told and ended open, after the bytes it lost; a session that
// had moved to another connection goes on; a request of an ended session
// starts a new, partial one; MSNP itself on the gateway port passes the
// eviction on.
func TestHTTPGatewayEvictedConnection(t *testing.T) {
	one := [][2]string{{gwClient, gwHost}}
	two := [][2]string{{gwClient, gwHost}, {"192.168.0.2:49153", gwIP}}
	conn0, conn1 := gwClient+" -> "+gwHost, "192.168.0.2:49153 -> "+gwIP
	evicted := func(r *gwRec) *gwRec { r.Evicted, r.EvictedLast = 1, true; return r }
	cut := post("SessionID=954547325.13160", cvr)
	cut = cut[:len(cut)-10]
	tests := []struct {
		name   string
		script gwScript
		want   []*gwRec
		stats  GatewayStats
	}{
		{
			name:   "idle keep-alive connection, then a request on another",
			script: gwScript{two, steps(gwOpen, []gwStep{evictConn(0), c2s(1, post("SessionID=954547325.13160", cvr)), s2c(1, reply("954547325.2", cvrOK))})},
			want: []*gwRec{evicted(ns(ver, verOK)), {Client: "192.168.0.2:49153", Server: gwIP, Transport: "http-gateway",
				Data: [2]string{cvr, cvrOK}, Conns: []string{conn1}, Ends: 1}},
			stats: GatewayStats{Connections: 2, GatewayConnections: 2, Requests: 2, Responses: 2, EvictedConnections: 1,
				Sessions: 2, MidSessions: 1, ConnEvictedSessions: 1, FinishedSessions: 1},
		},
		{
			name:   "idle keep-alive connection, then a request on it",
			script: gwScript{one, steps(gwOpen, []gwStep{evictConn(0), c2s(0, post("SessionID=954547325.13160", cvr)), s2c(0, reply("954547325.2", cvrOK))})},
			want: []*gwRec{evicted(ns(ver, verOK)), {Client: gwClient, Server: gwHost, Transport: "http-gateway",
				Data: [2]string{cvr, cvrOK}, Conns: []string{conn0}, Ends: 1}},
			stats: GatewayStats{Connections: 2, GatewayConnections: 2, Requests: 2, Responses: 2, EvictedConnections: 1,
				Sessions: 2, MidSessions: 1, ConnEvictedSessions: 1, FinishedSessions: 1},
		},
		{
			name:   "the session moved to another connection",
			script: gwScript{two, steps(gwOpen, []gwStep{c2s(1, post("SessionID=954547325.13160", cvr)), s2c(1, reply("954547325.2", cvrOK)), evictConn(0)})},
			want:   []*gwRec{ns(ver+cvr, verOK+cvrOK, conn0, conn1)},
			stats: GatewayStats{Connections: 2, GatewayConnections: 2, Requests: 2, Responses: 2, EvictedConnections: 1,
				Sessions: 1, FinishedSessions: 1},
		},
		{
			name:   "request body cut",
			script: gwScript{one, steps(gwOpen, []gwStep{c2s(0, cut), evictConn(0)})},
			want:   []*gwRec{evicted(ns(ver+cvr[:len(cvr)-10]+"<gap 10>", verOK+"<gap 0>"))},
			stats: GatewayStats{Connections: 1, GatewayConnections: 1, Requests: 2, Responses: 1, UnansweredRequests: 1,
				EvictedConnections: 1, TruncatedMessages: 1, Sessions: 1, ConnEvictedSessions: 1},
		},
		{
			name: "response body until close, closing the session",
			script: gwScript{one, steps(gwOpen, []gwStep{
				c2s(0, post("SessionID=954547325.13160", cvr)),
				s2c(0, "HTTP/1.0 200 OK\r\nX-MSN-Messenger: SessionID=1.2; Session=close\r\n\r\n"+cvrOK),
				evictConn(0),
			})},
			want: []*gwRec{evicted(ns(ver+cvr, verOK+cvrOK+"<gap 0>"))},
			stats: GatewayStats{Connections: 1, GatewayConnections: 1, Requests: 2, Responses: 2, EvictedConnections: 1,
				TruncatedMessages: 1, Sessions: 1, ConnEvictedSessions: 1},
		},
		{
			name: "request awaiting a response, the session since on another connection",
			script: gwScript{two, steps(gwOpen, []gwStep{
				c2s(0, post("SessionID=954547325.13160", "PNG\r\n")),
				c2s(1, post("SessionID=954547325.13160", cvr)),
				s2c(1, reply("954547325.2", cvrOK)),
				evictConn(0),
			})},
			want: []*gwRec{evicted(ns(ver+"PNG\r\n"+cvr, verOK+cvrOK+"<gap 0>", conn0, conn1))},
			stats: GatewayStats{Connections: 2, GatewayConnections: 2, Requests: 3, Responses: 2, UnansweredRequests: 1,
				EvictedConnections: 1, Sessions: 1, ConnEvictedSessions: 1},
		},
		{
			name: "two sessions on the connection",
			script: gwScript{one, []gwStep{
				c2s(0, post("Action=open&Server=NS&IP=10.0.0.5", ver)+post("Action=open&Server=NS&IP=10.0.0.6", ver)),
				s2c(0, reply("1.1", verOK)+reply("2.1", verOK)),
				evictConn(0),
			}},
			want: []*gwRec{evicted(ns(ver, verOK)), func() *gwRec { r := evicted(ns(ver, verOK)); r.Target = "10.0.0.6:1863"; return r }()},
			stats: GatewayStats{Connections: 1, GatewayConnections: 1, Requests: 2, Responses: 2, EvictedConnections: 1,
				Sessions: 2, ConnEvictedSessions: 2},
		},
		{
			name:   "not gateway traffic",
			script: gwScript{one, []gwStep{c2s(0, "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"), evictConn(0)}},
			stats:  GatewayStats{Connections: 1, NotGateway: 1, Requests: 1, EvictedConnections: 1},
		},
		{
			name:   "MSNP itself on the gateway port",
			script: gwScript{one, []gwStep{c2s(0, ver), s2c(0, verOK), evictConn(0)}},
			want: []*gwRec{{Client: gwClient, Server: gwHost, SYN: true, Data: [2]string{ver, verOK}, Ends: 1,
				Evicted: 1, EvictedLast: true}},
			stats: GatewayStats{Connections: 1, DirectMSNP: 1, EvictedConnections: 1},
		},
	}
	for _, tt := range tests {
		for _, sp := range splitters {
			t.Run(tt.name+"/"+sp.name, func(t *testing.T) {
				sink, st := tt.script.run(t, GatewayOptions{}, sp)
				for _, s := range sink.sessions {
					s.Start, s.EndT = time.Time{}, time.Time{}
				}
				if diff := cmp.Diff(tt.want, sink.sessions, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("sessions (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.stats, st); diff != "" {
					t.Errorf("stats (-want +got):\n%s", diff)
				}
				if ended := st.ClosedSessions + st.IdleSessions + st.EvictedSessions + st.ConnEvictedSessions + st.FinishedSessions; ended != st.Sessions {
					t.Errorf("%d sessions opened, %d counted as ended", st.Sessions, ended)
				}
			})
		}
	}
}

// TestHTTPGatewayTimes checks the times given downstream: a session starts
// with the connection that opened it and ends at the response that closed
// it, or at its last message when it goes idle.
func TestHTTPGatewayTimes(t *testing.T) {
	s := gwScript{[][2]string{{gwClient, gwHost}}, steps(gwOpen, []gwStep{
		c2s(0, post("SessionID=954547325.13160", "OUT\r\n")),
		s2c(0, "HTTP/1.1 200 OK\r\nX-MSN-Messenger: SessionID=954547325.4; GW-IP=10.0.0.81; Session=close\r\nContent-Length: 0\r\n\r\n"),
		c2s(0, post("SessionID=954547325.4", "late\r\n")),
	})}
	sink, st := s.run(t, GatewayOptions{}, splitters[0])
	if len(sink.sessions) != 2 {
		t.Fatalf("got %d sessions, want the closed one and one for the late request", len(sink.sessions))
	}
	r := sink.sessions[0]
	if !r.Start.Equal(gwT0) || !r.EndT.Equal(gwT0.Add(30*time.Millisecond)) || !r.Closed || r.Late != 0 {
		t.Errorf("session start %v end %v closed %v late calls %d; want %v, %v, true, 0", r.Start, r.EndT, r.Closed, r.Late,
			gwT0, gwT0.Add(30*time.Millisecond))
	}
	if st.MidSessions != 1 || st.ClosedSessions != 1 {
		t.Errorf("stats %+v: want 1 mid session, 1 closed", st)
	}

	// Idle: another connection's traffic moves packet time on.
	idle := gwScript{[][2]string{{gwClient, gwHost}, {"192.168.0.3:49152", gwHost}}, steps(gwOpen, []gwStep{
		c2s(1, post("Action=open&Server=NS&IP=10.0.0.5", ver)),
		s2c(1, reply("5.1", verOK)),
	})}
	sink, st = idle.run(t, GatewayOptions{IdleTimeout: 15 * time.Millisecond}, splitters[0])
	if st.IdleSessions != 1 || st.FinishedSessions != 1 {
		t.Errorf("stats %+v; want 1 idle session, 1 finished", st)
	}
	if r := sink.sessions[0]; r.Ends != 1 || r.Closed || !r.EndT.Equal(gwT0.Add(10*time.Millisecond)) {
		t.Errorf("idle session ends %d times, closed %v, at %v; want once, false, at %v", r.Ends, r.Closed, r.EndT,
			gwT0.Add(10*time.Millisecond))
	}
	if r := sink.sessions[1]; r.Ends != 1 || r.Closed || !r.EndT.Equal(gwT0.Add(40*time.Millisecond)) {
		t.Errorf("finished session ends %d times, closed %v, at %v; want once, false, at the Finish time %v", r.Ends,
			r.Closed, r.EndT, gwT0.Add(40*time.Millisecond))
	}
}

// TestHTTPGatewayLimits checks each bound: it is enforced, counted, and
// the analysis goes on.
func TestHTTPGatewayLimits(t *testing.T) {
	one := [][2]string{{gwClient, gwHost}}
	t.Run("header block", func(t *testing.T) {
		big := "POST /gateway/gateway.dll?Action=open HTTP/1.1\r\nX-Pad: " + strings.Repeat("a", 2000) + "\r\n\r\n"
		sink, st := gwScript{one, []gwStep{c2s(0, big)}}.run(t, GatewayOptions{MaxHeaderBytes: 1024}, splitters[0])
		if st.NotHTTP != 1 || len(sink.sessions) != 0 {
			t.Errorf("stats %+v, %d sessions; want NotHTTP 1, none", st, len(sink.sessions))
		}
	})
	t.Run("start line", func(t *testing.T) {
		_, st := gwScript{one, []gwStep{c2s(0, "POST /"+strings.Repeat("a", maxStartLine+10))}}.run(t, GatewayOptions{}, splitters[0])
		if st.NotHTTP != 1 {
			t.Errorf("stats %+v; want NotHTTP 1", st)
		}
	})
	t.Run("chunked body over the limit", func(t *testing.T) {
		body := strings.Repeat("MSG x y 3\r\nabc", 100)
		sink, st := gwScript{one, steps(gwOpen, []gwStep{
			c2s(0, post("SessionID=954547325.13160", cvr)),
			s2c(0, "HTTP/1.1 200 OK\r\nX-MSN-Messenger: SessionID=1.2\r\nTransfer-Encoding: chunked\r\n\r\n"+chunks(body, 64)),
			c2s(0, post("SessionID=1.2", "INF 3\r\n")),
			s2c(0, reply("1.3", "INF 3 MD5\r\n")),
		})}.run(t, GatewayOptions{MaxChunkedBody: 256}, splitters[0])
		want := verOK + fmt.Sprintf("<gap %d>", len(body)) + "INF 3 MD5\r\n"
		if st.SkippedBodies != 1 || len(sink.sessions) != 1 || sink.sessions[0].Data[1] != want {
			t.Errorf("stats %+v, sessions %+v; want 1 skipped body and S2C %q", st, sink.sessions, want)
		}
	})
	t.Run("chunked body over the limit without data", func(t *testing.T) {
		// Trailer fields only: the body is over the limit, but no data
		// byte is lost.
		trailer := "0\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("a", 100)+"\r\n", 5) + "\r\n"
		sink, st := gwScript{one, steps(gwOpen, []gwStep{
			c2s(0, post("SessionID=954547325.13160", cvr)),
			s2c(0, "HTTP/1.1 200 OK\r\nX-MSN-Messenger: SessionID=1.2\r\nTransfer-Encoding: chunked\r\n\r\n"+trailer),
			c2s(0, post("SessionID=1.2", "INF 3\r\n")),
			s2c(0, reply("1.3", "INF 3 MD5\r\n")),
		})}.run(t, GatewayOptions{MaxChunkedBody: 256}, splitters[0])
		want := verOK + "INF 3 MD5\r\n"
		if st.SkippedBodies != 1 || len(sink.sessions) != 1 || sink.sessions[0].Data[1] != want {
			t.Errorf("stats %+v, sessions %+v; want 1 skipped body and S2C %q", st, sink.sessions, want)
		}
	})
	t.Run("content-length bodies stream through", func(t *testing.T) {
		body := strings.Repeat("z", 3<<20)
		sink := &gwSink{}
		g := NewHTTPGateway(sink, GatewayOptions{})
		s := g.Open(dissect.ConnInfo{Client: netip.MustParseAddrPort(gwClient), Server: netip.MustParseAddrPort(gwHost), SYN: true})
		s.Feed(dissect.C2S, gwT0, []byte(post("Action=open&Server=NS&IP=10.0.0.5", body)))
		c := s.(*gwConn)
		if n := cap(c.half[0].buf); n > DefaultGatewayMaxHeaderBytes {
			t.Errorf("half buffer capacity %d after a 3 MiB body; want at most %d", n, DefaultGatewayMaxHeaderBytes)
		}
		if len(sink.sessions) != 1 || len(sink.sessions[0].Data[0]) != len(body) {
			t.Errorf("session got %d bytes; want %d", len(sink.sessions[0].Data[0]), len(body))
		}
	})
	t.Run("pipelined requests", func(t *testing.T) {
		var st []gwStep
		for i := range 5 {
			st = append(st, c2s(0, post(fmt.Sprintf("Action=open&Server=SB&IP=10.0.0.%d", i+1), "USR 1 a b\r\n")))
		}
		st = append(st, s2c(0, reply("9.1", "USR 1 OK a A\r\n")))
		sink, stats := gwScript{one, st}.run(t, GatewayOptions{MaxPipelined: 2}, splitters[0])
		// The third request evicts the first, and so on; the one response
		// goes to the oldest request kept, the fourth.
		if stats.EvictedRequests != 3 || stats.UnansweredRequests != 3 || len(sink.sessions) != 5 {
			t.Fatalf("stats %+v, %d sessions; want 3 evicted and unanswered requests, 5 sessions", stats, len(sink.sessions))
		}
		for i, want := range []string{"<gap 0>", "<gap 0>", "<gap 0>", "USR 1 OK a A\r\n", ""} {
			if got := sink.sessions[i].Data[1]; got != want {
				t.Errorf("session %d got S2C %q; want %q", i+1, got, want)
			}
		}
	})
	t.Run("sessions", func(t *testing.T) {
		var st []gwStep
		for i := range 5 {
			st = append(st, c2s(0, post(fmt.Sprintf("Action=open&Server=SB&IP=10.0.0.%d", i+1), "USR 1 a b\r\n")))
		}
		sink, stats := gwScript{one, st}.run(t, GatewayOptions{MaxSessions: 2}, splitters[0])
		if stats.EvictedSessions != 3 || stats.Sessions != 5 || stats.FinishedSessions != 2 {
			t.Errorf("stats %+v; want 5 sessions, 3 evicted, 2 finished", stats)
		}
		// The first three are told, then ended open; the last two end at
		// Finish.
		for i, s := range sink.sessions {
			evicted := i < 3
			if s.Ends != 1 || s.Closed || s.Evicted != 0 || s.GatewayEvicted != btoi(evicted) || s.EvictedLast != evicted {
				t.Errorf("session %d: %+v; want ended once, open, told of the eviction %v right before End", i+1, s, evicted)
			}
		}
	})
}

// TestHTTPGatewayAllocs checks that body bytes flow through without
// allocating.
func TestHTTPGatewayAllocs(t *testing.T) {
	g := NewHTTPGateway(&gwSink{}, GatewayOptions{})
	s := g.Open(dissect.ConnInfo{Client: netip.MustParseAddrPort(gwClient), Server: netip.MustParseAddrPort(gwHost), SYN: true})
	s.Feed(dissect.C2S, gwT0, []byte("POST /gateway/gateway.dll?Action=open&IP=10.0.0.5 HTTP/1.1\r\nContent-Length: 100000000000\r\n\r\n"))
	// A session that keeps nothing, so that only the gateway's
	// allocations are measured.
	c := s.(*gwConn)
	c.half[0].msg.sess.out = discard{}
	chunk := make([]byte, 1460)
	if n := testing.AllocsPerRun(1000, func() { s.Feed(dissect.C2S, gwT0, chunk) }); n != 0 {
		t.Errorf("Feed of body bytes: %v allocations, want 0", n)
	}
}

func BenchmarkHTTPGatewayBody(b *testing.B) {
	g := NewHTTPGateway(&gwSink{}, GatewayOptions{})
	s := g.Open(dissect.ConnInfo{Client: netip.MustParseAddrPort(gwClient), Server: netip.MustParseAddrPort(gwHost), SYN: true})
	s.Feed(dissect.C2S, gwT0, []byte("POST /gateway/gateway.dll?Action=open&IP=10.0.0.5 HTTP/1.1\r\nContent-Length: 100000000000000\r\n\r\n"))
	s.(*gwConn).half[0].msg.sess.out = discard{}
	chunk := make([]byte, 1460)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		s.Feed(dissect.C2S, gwT0, chunk)
	}
}

func BenchmarkHTTPGatewayExchange(b *testing.B) {
	req := []byte(post("SessionID=954547325.13160", cvr))
	resp := []byte(reply("954547325.13160", cvrOK))
	g := NewHTTPGateway(&gwSink{}, GatewayOptions{})
	s := g.Open(dissect.ConnInfo{Client: netip.MustParseAddrPort(gwClient), Server: netip.MustParseAddrPort(gwHost), SYN: true})
	s.Feed(dissect.C2S, gwT0, []byte(post("Action=open&Server=NS&IP=10.0.0.5", ver)))
	s.Feed(dissect.S2C, gwT0, []byte(reply("954547325.13160", verOK)))
	g.byID["954547325.13160"].out = discard{}
	b.SetBytes(int64(len(req) + len(resp)))
	b.ReportAllocs()
	for b.Loop() {
		s.Feed(dissect.C2S, gwT0, req)
		s.Feed(dissect.S2C, gwT0, resp)
	}
}

// TestChunkScanner checks the framing of chunked bodies against what
// net/http accepts.
func TestChunkScanner(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int // bytes taken; -1: not done
		data int64
		ok   bool
	}{
		{"empty body", "0\r\n\r\nNEXT", 5, 0, true},
		{"one chunk", "3\r\nabc\r\n0\r\n\r\n", 13, 3, true},
		{"extension and trailer", "a;x=y\r\n0123456789\r\n0\r\nA: b\r\n\r\nNEXT", 30, 10, true},
		{"LF only", "3\nabc\n0\n\nNEXT", 9, 3, true},
		{"upper hex", "A\r\n0123456789\r\n0\r\n\r\n", 20, 10, true},
		{"not done", "3\r\nab", -1, 3, true},
		{"no digits", "\r\n", 0, 0, false},
		{"bad digit", "g\r\n", 0, 0, false},
		{"17 digits", "10000000000000000\r\n", 0, 0, false},
		{"no CRLF after data", "3\r\nabcd", 0, 3, false},
		{"CR without LF", "0\r\n\rX", 0, 0, false},
		{"long extension", "1;" + strings.Repeat("x", maxChunkLine+1) + "\r\n", 0, 0, false},
	}
	for _, tt := range tests {
		for _, sp := range splitters {
			t.Run(tt.name+"/"+sp.name, func(t *testing.T) {
				var s chunkScanner
				taken, done, ok := 0, false, true
				for _, piece := range sp.cut([]byte(tt.in)) {
					n, d, o := s.scan(piece)
					taken += n
					if !o {
						ok = false
						break
					}
					if d {
						done = true
						break
					}
				}
				switch {
				case ok != tt.ok:
					t.Errorf("scan(%q) ok = %v, want %v", tt.in, ok, tt.ok)
				case !ok:
				case tt.n < 0 && done:
					t.Errorf("scan(%q) done, want more", tt.in)
				case tt.n >= 0 && (!done || taken != tt.n || s.data != tt.data):
					t.Errorf("scan(%q) = %d bytes, done %v, %d data; want %d, true, %d", tt.in, taken, done, s.data, tt.n, tt.data)
				}
			})
		}
	}
}

func TestSessionHeader(t *testing.T) {
	tests := []struct {
		in      string
		id      string
		closing bool
	}{
		{"SessionID=954547325.13160; GW-IP=207.46.110.18", "954547325.13160", false},
		{"SessionID=1.2; GW-IP=10.0.0.81; Session=close", "1.2", true},
		{"Session=close", "", true},
		{"sessionid=1.2;gw-ip=x", "1.2", false},
		{"Session=active; SessionID=3.4", "3.4", false},
		{"", "", false},
	}
	for _, tt := range tests {
		id, closing := sessionHeader(tt.in)
		if id != tt.id || closing != tt.closing {
			t.Errorf("sessionHeader(%q) = %q, %v; want %q, %v", tt.in, id, closing, tt.id, tt.closing)
		}
	}
}

func TestStartLine(t *testing.T) {
	tests := []struct {
		in       string
		req      bool
		ok, done bool
	}{
		{"POST /x HTTP/1.1\r\n", true, true, true},
		{"POS", true, true, false},
		{"post /x HTTP/1.1\r\n", true, false, true},
		{"VER 1 MSNP8 CVR0\r\n", true, false, true},
		{"POST /x\r\n", true, false, true},
		{"\x16\x03", true, false, false},
		{"HTTP/1.1 200 OK\r\n", false, true, true},
		{"HTT", false, true, false},
		{"HTTP/2 200\r\n", false, false, true},
		{"VER 1 MSNP8\r\n", false, false, false},
	}
	for _, tt := range tests {
		ok, done := startLine([]byte(tt.in), 0, tt.req)
		if ok != tt.ok || done != tt.done && ok {
			t.Errorf("startLine(%q, req=%v) = %v, %v; want %v, %v", tt.in, tt.req, ok, done, tt.ok, tt.done)
		}
	}
}

// fuzzGatewayOptions are small limits, so that fuzzing reaches them.
var fuzzGatewayOptions = GatewayOptions{MaxHeaderBytes: 512, MaxChunkedBody: 256, MaxPipelined: 4, MaxSessions: 4}

// runGatewayFuzz feeds one connection's C2S bytes, then its S2C bytes, in
// pieces of n bytes (all at once when n is 0) or, when alternate is set,
// one piece of each in turn; then ends it (evicted first when evict is
// set) and finishes.
func runGatewayFuzz(c2sData, s2cData []byte, n int, alternate, evict bool) (*gwSink, GatewayStats, int) {
	sink := &gwSink{}
	g := NewHTTPGateway(sink, fuzzGatewayOptions)
	s := g.Open(dissect.ConnInfo{Client: netip.MustParseAddrPort(gwClient), Server: netip.MustParseAddrPort(gwHost), Start: gwT0, SYN: true})
	conn := s.(*gwConn)
	maxCap := 0
	piece := func(b []byte) ([]byte, []byte) {
		if n == 0 || n >= len(b) {
			return b, nil
		}
		return b[:n], b[n:]
	}
	feed := func(d dissect.Dir, b []byte) {
		buf := append([]byte(nil), b...)
		s.Feed(d, gwT0, buf)
		for i := range buf {
			buf[i] = 0xff
		}
		for i := range conn.half {
			maxCap = max(maxCap, cap(conn.half[i].buf))
		}
	}
	for len(c2sData) > 0 || len(s2cData) > 0 {
		var p []byte
		if len(c2sData) > 0 {
			p, c2sData = piece(c2sData)
			feed(dissect.C2S, p)
			if !alternate {
				continue
			}
		}
		if len(s2cData) > 0 {
			p, s2cData = piece(s2cData)
			feed(dissect.S2C, p)
		}
	}
	if evict {
		conn.Evict(gwT0)
	}
	s.End(gwT0, !evict)
	g.Finish(gwT0)
	return sink, g.Stats(), maxCap
}

// FuzzHTTPGateway feeds arbitrary bytes as the two directions of a gateway
// connection: the first byte picks the piece size, whether the directions
// alternate and whether the connection is evicted before it ends, and the
// rest is the C2S bytes, then "\x00\x00", then the S2C bytes. It checks
// that nothing panics, that buffers stay within the limits, that every
// session ends once and gets nothing after, that a session told of an
// eviction is told once, right before its End, and ends open, and that the
// result does not depend on how the bytes were split.
func FuzzHTTPGateway(f *testing.F) {
	seed := func(c2sParts, s2cParts []string) {
		in := []byte(strings.Join(c2sParts, "") + "\x00\x00" + strings.Join(s2cParts, ""))
		f.Add([]byte{3}, in)
		f.Add([]byte{0x40 | 3}, in) // evicted
	}
	seed([]string{post("Action=open&Server=NS&IP=10.0.0.5", ver), post("Action=poll&SessionID=1.1", "")},
		[]string{reply("1.1", verOK), "HTTP/1.1 200 OK\r\nX-MSN-Messenger: SessionID=1.2; Session=close\r\nContent-Length: 0\r\n\r\n"})
	seed([]string{"POST /gateway/gateway.dll?Action=open&IP=10.0.0.5 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks(ver+cvr, 7)},
		[]string{"HTTP/1.1 200 OK\r\nX-MSN-Messenger: SessionID=1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks(verOK, 3)})
	seed([]string{post("SessionID=9.9", cvr), "GET / HTTP/1.1\r\n\r\n"},
		[]string{"HTTP/1.1 100 Continue\r\n\r\n", reply("9.10", cvrOK), "HTTP/1.0 404 Not Found\r\n\r\nnope"})
	seed([]string{"\x16\x03\x01"}, []string{"HTTP/1.1 200 OK\r\n\r\n"})
	f.Fuzz(func(t *testing.T, ctl, in []byte) {
		if len(ctl) == 0 {
			return
		}
		c2sData, s2cData, _ := bytes.Cut(in, []byte("\x00\x00"))
		n := int(ctl[0]%16) + 1
		evict := ctl[0]&0x40 != 0
		whole, wholeStats, _ := runGatewayFuzz(c2sData, s2cData, 0, false, evict)
		split, splitStats, maxCap := runGatewayFuzz(c2sData, s2cData, n, false, evict)
		// Ended on the same feed, times may differ by nothing here: all
		// calls are at gwT0.
		if diff := cmp.Diff(whole.sessions, split.sessions); diff != "" {
			t.Errorf("sessions differ, whole vs pieces of %d (-whole +pieces):\n%s", n, diff)
		}
		if diff := cmp.Diff(wholeStats, splitStats); diff != "" {
			t.Errorf("stats differ, whole vs pieces of %d (-whole +pieces):\n%s", n, diff)
		}
		if limit := 2 * (fuzzGatewayOptions.MaxHeaderBytes + fuzzGatewayOptions.MaxChunkedBody + 16); maxCap > limit {
			t.Errorf("a half buffer reached capacity %d, over %d", maxCap, limit)
		}
		alt, _, maxCap := runGatewayFuzz(c2sData, s2cData, n, ctl[0]&0x80 != 0, evict)
		if limit := 2 * (fuzzGatewayOptions.MaxHeaderBytes + fuzzGatewayOptions.MaxChunkedBody + 16); maxCap > limit {
			t.Errorf("a half buffer reached capacity %d, over %d", maxCap, limit)
		}
		for _, sink := range []*gwSink{whole, alt} {
			for i, s := range sink.sessions {
				if s.Ends != 1 || s.Late != 0 {
					t.Errorf("session %d ended %d times, %d calls after End", i+1, s.Ends, s.Late)
				}
				if told := s.Evicted + s.GatewayEvicted; told > 1 || (told == 1) != s.EvictedLast || (told == 1 && s.Closed) {
					t.Errorf("session %d told of %d evictions and %d gateway evictions, last call an eviction %v, closed %v; "+
						"want at most one, right before an open End", i+1, s.Evicted, s.GatewayEvicted, s.EvictedLast, s.Closed)
				}
			}
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestHTTPGatewayTimeJump passes a lone jump on to the sessions given the
// bytes of the packet it dated: a body's session, the plain MSNP session
// of a connection that carries MSNP itself; not a session given nothing.
func TestHTTPGatewayTimeJump(t *testing.T) {
	t.Parallel()
	far := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	open := func(g *HTTPGateway, server string) Stream {
		return g.Open(dissect.ConnInfo{Client: netip.MustParseAddrPort(gwClient), Server: netip.MustParseAddrPort(server),
			Start: gwT0, SYN: true, File: "test.pcap", Packet: 1, DetectedBy: "port"})
	}

	sink := &gwSink{}
	g := NewHTTPGateway(sink, GatewayOptions{})
	c := open(g, gwHost)
	c.Feed(dissect.C2S, gwT0, []byte(post("Action=open&Server=NS&IP=10.0.0.5", ver)))
	// Damaged: the response's header and body, in one packet.
	ahead := far.Sub(gwT0)
	c.(TimeJumper).TimeJump(dissect.S2C, far, ahead)
	c.Feed(dissect.S2C, far, []byte(reply("954547325.13160", verOK)))
	// Undamaged, and a damaged header without a body.
	c.Feed(dissect.C2S, gwT0, []byte(post("SessionID=954547325.13160", cvr)))
	c.(TimeJumper).TimeJump(dissect.S2C, far, ahead)
	c.Feed(dissect.S2C, far, []byte(reply("954547325.2", "")))
	c.End(gwT0.Add(time.Second), true)
	g.Finish(gwT0.Add(time.Second))
	want := []string{"s2c 2100-01-01T00:00:00Z " + ahead.String() + " " + strconv.Quote(verOK)}
	if len(sink.sessions) != 1 {
		t.Fatalf("%d sessions, want 1: the damaged time moved the gateway's clock", len(sink.sessions))
	}
	if diff := cmp.Diff(want, sink.sessions[0].Jumps); diff != "" {
		t.Errorf("session told (-want +got):\n%s", diff)
	}

	// A hole in a body right before the damaged packet: the Gap carries
	// its time, after the jump is told.
	sink = &gwSink{}
	g = NewHTTPGateway(sink, GatewayOptions{})
	c = open(g, gwHost)
	c.Feed(dissect.C2S, gwT0, []byte(post("Action=open&Server=NS&IP=10.0.0.5", ver)))
	resp := reply("954547325.13160", verOK)
	head := len(resp) - len(verOK)
	c.Feed(dissect.S2C, gwT0, []byte(resp[:head]))
	c.(TimeJumper).TimeJump(dissect.S2C, far, ahead)
	c.Gap(dissect.S2C, far, 4)
	c.Feed(dissect.S2C, far, []byte(resp[head+4:]))
	c.Feed(dissect.C2S, gwT0, []byte(post("SessionID=954547325.13160", cvr)))
	c.Feed(dissect.S2C, gwT0, []byte(reply("954547325.2", cvrOK)))
	c.End(gwT0.Add(time.Second), true)
	g.Finish(gwT0.Add(time.Second))
	if len(sink.sessions) != 1 {
		t.Fatalf("hole before the damaged packet: %d sessions, want 1: the Gap moved the gateway's clock", len(sink.sessions))
	}
	want = []string{"s2c 2100-01-01T00:00:00Z " + ahead.String() + " " + strconv.Quote(verOK[4:])}
	if diff := cmp.Diff(want, sink.sessions[0].Jumps); diff != "" {
		t.Errorf("hole before the damaged packet: session told (-want +got):\n%s", diff)
	}

	// MSNP itself on the gateway port.
	sink = &gwSink{}
	g = NewHTTPGateway(sink, GatewayOptions{})
	c = open(g, gwHost)
	c.Feed(dissect.C2S, gwT0, []byte(ver))
	early := gwT0.Add(-3 * time.Hour)
	c.(TimeJumper).TimeJump(dissect.S2C, early, -3*time.Hour)
	c.Feed(dissect.S2C, early, []byte(verOK))
	c.End(gwT0.Add(time.Second), true)
	g.Finish(gwT0.Add(time.Second))
	want = []string{"s2c " + early.Format(time.RFC3339) + " -3h0m0s " + strconv.Quote(verOK)}
	if len(sink.sessions) != 1 {
		t.Fatalf("MSNP on the gateway port: %d sessions", len(sink.sessions))
	}
	if diff := cmp.Diff(want, sink.sessions[0].Jumps); diff != "" {
		t.Errorf("MSNP on the gateway port: session told (-want +got):\n%s", diff)
	}
}
