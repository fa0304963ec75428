package capgen

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/msnsniff/msnsniff/dissect"
)

// The MSN HTTP gateway carries MSNP in HTTP requests and responses for
// clients behind firewalls that block port 1863 (msnp-grammar.md §14).
// Gateway rewrites a transcript into the HTTP traffic such a client and the
// gateway exchange, as a transcript of HTTP connections that Packets then
// turns into TCP.

// Gateway defaults.
const (
	// DefaultGatewayAddr is where each session's first TCP connection
	// goes: a made-up address for gateway.messenger.hotmail.com, port 80.
	DefaultGatewayAddr = "10.0.0.80:80"
	// DefaultGWIP is the gateway address the responses name in GW-IP,
	// where later connections go (as in hypothetic's example, §14).
	DefaultGWIP = "10.0.0.81"
	// DefaultRequestsPerConn is how many requests a client sends on one
	// TCP connection (keep-alive) before it opens another.
	DefaultRequestsPerConn = 3
	// DefaultPollInterval is how often an idle client polls: about every
	// 2 s for the official client (msnp-grammar.md §14).
	DefaultPollInterval = 2 * time.Second
	// maxIdlePolls bounds the polls of each session during one @wait, so
	// that a long wait does not make an endless capture.
	maxIdlePolls = 30
	// firstGatewayPort is the first client port of the gateway
	// connections of each client address: the start of the IANA dynamic
	// range (RFC 6335).
	firstGatewayPort = 49152
	// gatewayHost is the Host of requests to Gateway.
	gatewayHost = "gateway.messenger.hotmail.com"
	// sessionIDBase is the part before the dot of the first session's
	// ids, that of hypothetic's example (msnp-grammar.md §14); session i
	// adds 1000*i.
	sessionIDBase = 954547325
)

// GatewayOptions control how Gateway carries a transcript through the HTTP
// gateway. The zero value selects every default.
type GatewayOptions struct {
	// Gateway is where each session's first TCP connection goes
	// (DefaultGatewayAddr if zero).
	Gateway netip.AddrPort
	// GWIP is the address responses name in GW-IP; later TCP connections
	// of the session go there, on Gateway's port (DefaultGWIP if zero).
	GWIP netip.Addr
	// RequestsPerConn is how many requests go on one TCP connection
	// before the client opens a new one (DefaultRequestsPerConn if zero).
	RequestsPerConn int
	// PollInterval is how often each open session polls during an @wait
	// (DefaultPollInterval if zero).
	PollInterval time.Duration
	// Chunked sends response bodies with Transfer-Encoding: chunked, in
	// chunks of at most chunkSize bytes, instead of Content-Length.
	Chunked bool
}

// chunkSize is the largest chunk of a chunked response body.
const chunkSize = 100

func (o GatewayOptions) normalize() (GatewayOptions, error) {
	if !o.Gateway.IsValid() {
		o.Gateway = netip.MustParseAddrPort(DefaultGatewayAddr)
	}
	if !o.GWIP.IsValid() {
		o.GWIP = netip.MustParseAddr(DefaultGWIP)
	}
	switch {
	case o.RequestsPerConn < 0:
		return o, fmt.Errorf("%w: %d requests per connection", ErrOptions, o.RequestsPerConn)
	case o.RequestsPerConn == 0:
		o.RequestsPerConn = DefaultRequestsPerConn
	}
	switch {
	case o.PollInterval < 0:
		return o, fmt.Errorf("%w: poll interval %v is negative", ErrOptions, o.PollInterval)
	case o.PollInterval == 0:
		o.PollInterval = DefaultPollInterval
	}
	if o.Gateway.Addr().Unmap().Is4() != o.GWIP.Unmap().Is4() {
		return o, fmt.Errorf("%w: gateway %v and GW-IP %v differ in IP version", ErrOptions, o.Gateway, o.GWIP)
	}
	return o, nil
}

// Gateway returns the HTTP-gateway form of transcript t: each of t's
// connections becomes a gateway session of the same client host, and the
// result is a transcript of the TCP connections to the gateway, for
// Packets or Write.
//
// A session opens with POST /gateway/gateway.dll?Action=open&Server=NS|SB&
// IP=<the connection's server address> (SB when the first client command
// is ANS, or USR with a handle and cookie only), then sends
// ?SessionID=<id>, each id taken from the X-MSN-Messenger field of the
// response before ("SessionID=<n>.<m>; GW-IP=<GWIP>", m changing with
// every response). Events are taken in order: client events in a row
// make one request body, and the server events right after them the body
// of its response. Server events that follow a pause (an @wait) or
// another connection's events are fetched by a poll
// (Action=poll&SessionID=<id>, empty body). During an @wait every open
// session polls each PollInterval and gets an empty response. After its
// last event a session polls once more and the gateway answers with an
// empty body and "Session=close". Each session's requests go
// RequestsPerConn to a TCP connection from a new client port (from 49152
// up), the first connection to Gateway and later ones to GWIP.
//
// The returned transcript shares nothing with t. It fails with
// ErrTranscript when t is nil or its connections cannot be carried (an
// IPv6 client with an IPv4 gateway, too many connections from one host),
// and with ErrOptions for bad options.
func Gateway(t *dissect.Transcript, opt GatewayOptions) (*dissect.Transcript, error) {
	opt, err := opt.normalize()
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, fmt.Errorf("%w: nil transcript", ErrTranscript)
	}
	g := &gwGen{opt: opt, out: &dissect.Transcript{}, ports: map[netip.Addr]int{}}
	g.sess = make([]gwSess, len(t.Conns))
	for i, c := range t.Conns {
		g.sess[i] = gwSess{idx: i, client: unmap(c.Client).Addr(), server: unmap(c.Server), conn: -1, last: -1}
		if g.sess[i].client.Is4() != opt.Gateway.Addr().Unmap().Is4() {
			return nil, fmt.Errorf("%w: connection %d: client %v and gateway %v differ in IP version", ErrTranscript, i, c.Client, opt.Gateway)
		}
	}
	for i, ev := range t.Events {
		if ev.Conn < 0 || ev.Conn >= len(t.Conns) {
			return nil, fmt.Errorf("%w: event %d: connection %d out of range [0, %d)", ErrTranscript, i, ev.Conn, len(t.Conns))
		}
		if ev.Dir != dissect.C2S && ev.Dir != dissect.S2C {
			return nil, fmt.Errorf("%w: event %d: invalid direction %d", ErrTranscript, i, ev.Dir)
		}
		if ev.Wait < 0 {
			return nil, fmt.Errorf("%w: event %d: negative wait %v", ErrTranscript, i, ev.Wait)
		}
		if len(ev.Data) > 0 {
			g.sess[ev.Conn].last = i
		}
	}

	// Walk the runs: events of one connection in a row, with no wait
	// inside.
	evs := t.Events
	for i := 0; i < len(evs); {
		if err := g.idle(evs[i].Wait); err != nil {
			return nil, err
		}
		s := &g.sess[evs[i].Conn]
		j := i + 1
		for j < len(evs) && evs[j].Conn == evs[i].Conn && evs[j].Wait == 0 {
			j++
		}
		// Split the run into exchanges: client events, then the server
		// events after them (a run may start with server events: a poll).
		for k := i; k < j; {
			var req, resp []byte
			for ; k < j && evs[k].Dir == dissect.C2S; k++ {
				req = append(req, evs[k].Data...)
			}
			for ; k < j && evs[k].Dir == dissect.S2C; k++ {
				resp = append(resp, evs[k].Data...)
			}
			if len(req) == 0 && len(resp) == 0 {
				continue // empty events: only their time slot
			}
			if err := g.exchange(s, req, resp, false); err != nil {
				return nil, err
			}
		}
		if s.last >= i && s.last < j {
			if err := g.exchange(s, nil, nil, true); err != nil {
				return nil, err
			}
		}
		i = j
	}
	return g.out, nil
}

// gwSess is the state of one gateway session while it is generated.
type gwSess struct {
	idx       int
	client    netip.Addr
	server    netip.AddrPort // the MSNP server of the transcript
	id        string         // the SessionID of the next request
	responses int
	conn      int // current output connection, -1 before the first
	reqs      int // requests sent on it
	last      int // index of the session's last event with data, -1 if none
	open      bool
	closed    bool
}

// gwGen builds the gateway transcript.
type gwGen struct {
	opt   GatewayOptions
	out   *dissect.Transcript
	ports map[netip.Addr]int // next client port per client address
	sess  []gwSess
	wait  time.Duration // wait before the next event written
}

// idle spends a wait of w: every open session polls each PollInterval
// (at most maxIdlePolls times), and what is left of w goes before the
// next event.
func (g *gwGen) idle(w time.Duration) error {
	n := min(int64(w/g.opt.PollInterval), maxIdlePolls)
	for range n {
		g.wait += g.opt.PollInterval
		for i := range g.sess {
			if s := &g.sess[i]; s.open && !s.closed {
				if err := g.exchange(s, nil, nil, false); err != nil {
					return err
				}
			}
		}
	}
	g.wait += w - time.Duration(n)*g.opt.PollInterval
	return nil
}

// exchange writes one request of session s with body req and its response
// with body resp; closing makes the response close the session.
func (g *gwGen) exchange(s *gwSess, req, resp []byte, closing bool) error {
	if s.conn < 0 || s.reqs == g.opt.RequestsPerConn {
		if err := g.newConn(s); err != nil {
			return err
		}
	}
	server := g.out.Conns[s.conn].Server
	host := gatewayHost
	if server.Addr() != g.opt.Gateway.Addr() {
		host = server.Addr().String()
	}
	var query string
	switch {
	case !s.open:
		kind := "NS"
		if isSwitchboardLogin(req) {
			kind = "SB"
		}
		query = "Action=open&Server=" + kind + "&IP=" + s.server.Addr().String()
		s.open = true
	case len(req) == 0:
		query = "Action=poll&SessionID=" + s.id
	default:
		query = "SessionID=" + s.id
	}
	var b []byte
	b = fmt.Appendf(b, "POST /gateway/gateway.dll?%s HTTP/1.1\r\n", query)
	b = append(b, "Accept: */*\r\nContent-Type: application/x-msn-messenger\r\nUser-Agent: MSMSGS\r\n"...)
	b = fmt.Appendf(b, "Host: %s\r\nConnection: Keep-Alive\r\nCache-Control: no-cache\r\nContent-Length: %d\r\n\r\n", host, len(req))
	b = append(b, req...)
	g.add(s.conn, dissect.C2S, b)
	s.reqs++

	s.responses++
	s.id = g.sessionID(s)
	b = append([]byte(nil), "HTTP/1.1 200 OK\r\nServer: Microsoft-IIS/5.0\r\n"...)
	b = fmt.Appendf(b, "X-MSN-Messenger: SessionID=%s; GW-IP=%s", s.id, g.opt.GWIP)
	if closing {
		b = append(b, "; Session=close"...)
		s.closed = true
	}
	b = append(b, "\r\nContent-Type: application/x-msn-messenger\r\n"...)
	if g.opt.Chunked {
		b = append(b, "Transfer-Encoding: chunked\r\n\r\n"...)
		for p := resp; len(p) > 0; {
			n := min(len(p), chunkSize)
			b = fmt.Appendf(b, "%x\r\n", n)
			b = append(append(b, p[:n]...), "\r\n"...)
			p = p[n:]
		}
		b = append(b, "0\r\n\r\n"...)
	} else {
		b = fmt.Appendf(b, "Content-Length: %d\r\n\r\n", len(resp))
		b = append(b, resp...)
	}
	g.add(s.conn, dissect.S2C, b)
	return nil
}

// newConn starts a TCP connection for session s: to Gateway before the
// first response, to GWIP after.
func (g *gwGen) newConn(s *gwSess) error {
	port, ok := g.ports[s.client]
	if !ok {
		port = firstGatewayPort
	}
	if port > 65535 {
		return fmt.Errorf("%w: more than %d gateway connections from %v", ErrTranscript, 65536-firstGatewayPort, s.client)
	}
	g.ports[s.client] = port + 1
	server := g.opt.Gateway
	if s.responses > 0 {
		server = netip.AddrPortFrom(g.opt.GWIP, g.opt.Gateway.Port())
	}
	g.out.Conns = append(g.out.Conns, dissect.TranscriptConn{Client: netip.AddrPortFrom(s.client, uint16(port)), Server: server})
	s.conn = len(g.out.Conns) - 1
	s.reqs = 0
	return nil
}

// add appends an event, with the wait accumulated since the last one.
func (g *gwGen) add(conn int, d dissect.Dir, data []byte) {
	g.out.Events = append(g.out.Events, dissect.TranscriptEvent{Conn: conn, Dir: d, Wait: g.wait, Data: data})
	g.wait = 0
}

// sessionID returns the id the gateway gives session s in its latest
// response: a fixed number per session, a dot, and a number that changes
// with every response.
func (g *gwGen) sessionID(s *gwSess) string {
	major := sessionIDBase + 1000*uint64(s.idx)
	minor := 10000 + mix(uint64(s.idx)<<32|uint64(s.responses))%90000
	id := strconv.FormatUint(major, 10) + "." + strconv.FormatUint(minor, 10)
	if id == s.id {
		id = strconv.FormatUint(major, 10) + "." + strconv.FormatUint(minor+1, 10)
	}
	return id
}

// isSwitchboardLogin reports whether body starts with the first command of
// a switchboard session: ANS, or USR with a handle and a cookie only
// (commands/usr.md, commands/ans.md).
func isSwitchboardLogin(body []byte) bool {
	line, _, _ := bytes.Cut(body, []byte("\r\n"))
	f := bytes.Fields(line)
	return len(f) > 0 && (string(f[0]) == "ANS" || string(f[0]) == "USR" && len(f) == 4)
}
