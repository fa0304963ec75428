package reassembly

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/msnsniff/msnsniff/dissect"
)

// DefaultGatewayPort is the TCP port of the MSN HTTP gateway
// (gateway.messenger.hotmail.com:80, msnp-grammar.md §14).
const DefaultGatewayPort = 80

// DefaultGatewayMaxHeaderBytes bounds an HTTP header block (start line,
// fields and the empty line). Gateway headers are a few hundred bytes
// (msnp-grammar.md §14); nginx serves requests whose header block fits its
// default large_client_header_buffers, 4 buffers of 8 KiB, so 32 KiB holds
// every header block a real server accepts. A longer one ends the
// connection's analysis (GatewayStats.NotHTTP or Broken).
const DefaultGatewayMaxHeaderBytes = 32 << 10

// DefaultGatewayMaxChunkedBody bounds a chunked body held until it is
// complete, so that net/http decodes it whole. It is the dissector's
// largest believed payload (1 MiB): one response may carry such a payload
// and a few lines more, and the gateway sends bodies with Content-Length
// anyway. A longer chunked body is still framed, not held, and reaches the
// session as lost bytes (GatewayStats.SkippedBodies). Bodies with a
// Content-Length are never held: they stream through.
const DefaultGatewayMaxChunkedBody = 1 << 20

// DefaultGatewayMaxPipelined bounds the requests awaiting a response on one
// TCP connection. The gateway allows one outstanding request per session
// (a second gets HTTP 400, msnp-grammar.md §14), and a client shares a
// connection among its notification and a few switchboard sessions at
// most, so 16 is ample. Beyond it the oldest request is given up
// (GatewayStats.EvictedRequests) and responses pair with the later ones.
const DefaultGatewayMaxPipelined = 16

// DefaultGatewayMaxSessions bounds the gateway sessions open at once: one
// per notification login and one per switchboard chat of every user behind
// the capture point. Beyond it the session idle the longest is ended,
// told first (GatewayEvicter) and counted (GatewayStats.EvictedSessions).
const DefaultGatewayMaxSessions = 4096

// DefaultGatewayIdleTimeout is how long, in packet time, a gateway session
// may go without a request or response before it is ended with
// closed=false. A gateway client cannot receive without asking: the
// official client polls about every 2 s (msnp-grammar.md §14), so two
// minutes of silence is sixty missed polls and means the client is gone.
const DefaultGatewayIdleTimeout = 2 * time.Minute

const (
	// maxStartLine bounds a request or status line: nginx's buffer for a
	// request line is 8 KiB (large_client_header_buffers).
	maxStartLine = 8 << 10
	// maxMethodLen is the longest request method accepted before the
	// first space; registered methods are at most 17 letters
	// (VERSION-CONTROL), gateway requests use POST.
	maxMethodLen = 20
	// maxChunkLine bounds a chunk-size line or trailer line, as net/http's
	// internal/chunked.go maxLineLength does.
	maxChunkLine = 4096
	// maxChunkDigits is the most hex digits of a chunk size, as net/http's
	// parseHexUint allows (64 bits).
	maxChunkDigits = 16
	// sessionIDAliases is how many of a session's latest SessionIDs lead
	// to it. The id changes with every response (msnp-grammar.md §14); a
	// request that crossed the response renaming its session, or a
	// client's retry, still names the one before.
	sessionIDAliases = 4
	// maxSessionIDLen bounds a SessionID kept as a key. Real ones are
	// "<number>.<number>", about 16 characters.
	maxSessionIDLen = 128
	// keepBufCap is the buffer capacity a connection half keeps between
	// messages; a larger one (a chunked body) is let go.
	keepBufCap = 64 << 10
	// msnpDefaultPort is the port assumed for an IP= parameter that names
	// only a host: every MSNP server listens on 1863 (DefaultPort).
	msnpDefaultPort = DefaultPort
)

// GatewayOptions bounds an HTTPGateway. The zero value selects every
// default; a zero or negative field means its default, never "unlimited".
type GatewayOptions struct {
	// MaxHeaderBytes bounds one HTTP header block. Default
	// DefaultGatewayMaxHeaderBytes.
	MaxHeaderBytes int
	// MaxChunkedBody bounds a chunked body held for decoding. Default
	// DefaultGatewayMaxChunkedBody.
	MaxChunkedBody int
	// MaxPipelined bounds the requests awaiting a response per TCP
	// connection. Default DefaultGatewayMaxPipelined.
	MaxPipelined int
	// MaxSessions bounds the gateway sessions open at once. Default
	// DefaultGatewayMaxSessions.
	MaxSessions int
	// IdleTimeout is the packet time after which a silent session ends.
	// Default DefaultGatewayIdleTimeout.
	IdleTimeout time.Duration
}

func (o GatewayOptions) withDefaults() GatewayOptions {
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultGatewayMaxHeaderBytes
	}
	if o.MaxChunkedBody <= 0 {
		o.MaxChunkedBody = DefaultGatewayMaxChunkedBody
	}
	if o.MaxPipelined <= 0 {
		o.MaxPipelined = DefaultGatewayMaxPipelined
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = DefaultGatewayMaxSessions
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultGatewayIdleTimeout
	}
	return o
}

// GatewayStats counts what an HTTPGateway did with its TCP connections,
// HTTP messages and sessions. Every connection is counted in Connections
// and, once it has shown enough bytes, in exactly one of
// GatewayConnections, NotHTTP or NotGateway.
type GatewayStats struct {
	// Connections counts the TCP connections given to the gateway.
	Connections int64
	// GatewayConnections counts those whose first request was a gateway
	// request.
	GatewayConnections int64
	// NotHTTP counts connections dropped because their first bytes were
	// not an HTTP message; NotGateway those whose first request was HTTP
	// but not for /gateway/gateway.dll.
	NotHTTP int64
	// DirectMSNP counts connections on a gateway port that carried MSNP
	// itself, not HTTP; each is dissected as a plain MSNP connection. A
	// connection whose first MSNP line was cut short, by its end or by a
	// gap, before it could be sniffed is one of them (see heldMSNP).
	DirectMSNP int64
	NotGateway int64
	// Broken counts gateway connections given up: a malformed message, or
	// bytes lost anywhere but inside a body of known length. Their
	// outstanding requests count as UnansweredRequests.
	Broken int64
	// Requests and Responses count the HTTP messages parsed.
	Requests  int64
	Responses int64
	// OtherRequests counts requests on gateway connections that were not
	// gateway requests; their bodies and responses are skipped.
	OtherRequests int64
	// ErrorResponses counts responses with a status other than 200; their
	// bodies are not MSNP and are skipped.
	ErrorResponses int64
	// UnmatchedResponses counts responses with no request waiting on
	// their connection; UnansweredRequests requests whose connection ended
	// or broke before their response; EvictedRequests requests given up by
	// the MaxPipelined limit.
	UnmatchedResponses int64
	UnansweredRequests int64
	EvictedRequests    int64
	// EvictedConnections counts the connections the Engine ended early
	// to keep within its Options.MaxConnections (Evicter). Each gateway
	// session such a connection carried is ended (ConnEvictedSessions);
	// a connection carrying MSNP itself passes the eviction on to its
	// session.
	EvictedConnections int64
	// TruncatedMessages counts messages cut short by the end of their
	// connection; the missing body bytes of a known length reach the
	// session as lost.
	TruncatedMessages int64
	// SkippedBodies counts chunked bodies over MaxChunkedBody, framed but
	// not held; they reach the session as lost bytes.
	SkippedBodies int64
	// LateBodies counts the bodies of messages whose session had ended
	// (Session=close, idle, evicted) before all of the body came, and
	// LateBytes the body bytes that came after: a session cannot take
	// them once ended, and a later request starts a new one.
	LateBodies int64
	LateBytes  int64

	// Sessions counts the gateway sessions opened; MidSessions those of
	// them opened for a SessionID never issued in the capture (a session
	// caught mid-way, reported as partial).
	Sessions    int64
	MidSessions int64
	// ClosedSessions counts sessions ended by a response with
	// "Session=close"; IdleSessions those silent for IdleTimeout;
	// EvictedSessions those ended by the MaxSessions limit;
	// ConnEvictedSessions those ended because the Engine evicted a TCP
	// connection they were using; and FinishedSessions those still open
	// at Finish. Every session is counted in exactly one of them.
	ClosedSessions      int64
	IdleSessions        int64
	EvictedSessions     int64
	ConnEvictedSessions int64
	FinishedSessions    int64
	// EmptyPolls counts polls with no data either way.
	EmptyPolls int64
}

// Counts returns the counts as named values in a fixed order, every one
// listed whether 0 or not, each name prefixed with "gateway_". The slice
// is the caller's.
func (s GatewayStats) Counts() []Count {
	return []Count{
		{"gateway_connections", s.Connections},
		{"gateway_http_connections", s.GatewayConnections},
		{"gateway_not_http", s.NotHTTP},
		{"gateway_direct_msnp", s.DirectMSNP},
		{"gateway_not_gateway", s.NotGateway},
		{"gateway_broken", s.Broken},
		{"gateway_evicted_connections", s.EvictedConnections},
		{"gateway_requests", s.Requests},
		{"gateway_responses", s.Responses},
		{"gateway_other_requests", s.OtherRequests},
		{"gateway_error_responses", s.ErrorResponses},
		{"gateway_unmatched_responses", s.UnmatchedResponses},
		{"gateway_unanswered_requests", s.UnansweredRequests},
		{"gateway_evicted_requests", s.EvictedRequests},
		{"gateway_truncated_messages", s.TruncatedMessages},
		{"gateway_skipped_bodies", s.SkippedBodies},
		{"gateway_late_bodies", s.LateBodies},
		{"gateway_late_bytes", s.LateBytes},
		{"gateway_sessions", s.Sessions},
		{"gateway_mid_sessions", s.MidSessions},
		{"gateway_closed_sessions", s.ClosedSessions},
		{"gateway_idle_sessions", s.IdleSessions},
		{"gateway_evicted_sessions", s.EvictedSessions},
		{"gateway_conn_evicted_sessions", s.ConnEvictedSessions},
		{"gateway_finished_sessions", s.FinishedSessions},
		{"gateway_empty_polls", s.EmptyPolls},
	}
}

// httpConnNoter and emptyPollNoter are the Stream methods through which a
// gateway session records its transport (dissect.Session has both).
type httpConnNoter interface{ NoteHTTPConnection(conn string) }
type emptyPollNoter interface{ NoteEmptyPoll() }

// GatewayEvicter is implemented by the Stream of a gateway session that
// wants to know when the session is ended early to keep the gateway
// sessions open at once within GatewayOptions.MaxSessions:
// EvictGatewaySession is called, with the session's latest message time,
// just before End. (A session ended because the Engine evicted the TCP
// connection it was using is told by Evicter instead.) dissect.Session
// implements it.
type GatewayEvicter interface {
	EvictGatewaySession(t time.Time)
}

// HTTPGateway is a Sink for TCP connections to the MSN HTTP gateway
// (msnp-grammar.md §14). It parses their HTTP messages with net/http,
// follows each MSNP session through the gateway by its SessionID across
// requests, responses and TCP connections, and presents it to the
// downstream Sink as one virtual MSNP stream: request bodies in order as
// C2S bytes, response bodies as S2C bytes.
//
// A connection is gateway traffic when its first request targets
// /gateway/gateway.dll (origin or absolute form) with Action=open or a
// SessionID in the query; its Content-Type (application/x-msn-messenger)
// is not required, since some clients do not send it. Other connections
// are dropped quietly and counted (GatewayStats.NotHTTP, NotGateway).
//
// Requests and responses are framed per RFC 9112: Content-Length,
// chunked, or (responses) until the connection closes; keep-alive and
// pipelining are followed, responses paired with requests in order.
// Header blocks are parsed with http.ReadRequest and http.ReadResponse;
// chunked messages are held whole and decoded by net/http. Bodies with a
// Content-Length are not held at all: their bytes go to the session as
// they arrive, each with its packet's time, and a TCP gap inside one
// becomes a Gap of the session.
//
// Sessions: Action=open&Server=NS|SB&IP=host starts one, opened
// downstream with the ConnInfo of the TCP connection that carried it
// (Transport "http-gateway", DetectedBy "port", SYN true). Each response's
// X-MSN-Messenger field names the SessionID the next request carries; a
// request naming an id never issued opens a partial session (SYN false),
// as a TCP connection caught mid-way would. Every TCP connection a session
// uses is noted once (NoteHTTPConnection, "client -> server"), and a poll
// (Action=poll) with empty bodies both ways is counted (NoteEmptyPoll),
// when the Stream has those methods.
//
// How a gateway session ends is not documented (msnp-grammar.md §14);
// clients (Miranda NG, BitlBee, emesene) take "Session=close" in
// X-MSN-Messenger as the gateway closing it. So a session ends with
// closed=true after the body of a response that says Session=close; with
// closed=false when IdleTimeout of packet time passes without a message
// (checked as packets arrive), when the MaxSessions limit evicts it (after
// EvictGatewaySession, when its Stream is a GatewayEvicter), when the
// Engine evicts a TCP connection it was using (after Evict, when its
// Stream is an Evicter; see gwConn.Evict), or at Finish. TCP connections
// are not otherwise part of the rule: clients may open one per request and
// close it after the response.
//
// Memory is bounded by GatewayOptions: per connection half one header
// block or one chunked body, MaxPipelined requests per connection,
// MaxSessions sessions of sessionIDAliases ids each. An HTTPGateway is not
// safe for concurrent use; it calls the downstream Sink and Streams
// synchronously.
type HTTPGateway struct {
	out   Sink
	opt   GatewayOptions
	stats GatewayStats
	byID  map[string]*gwSession
	lru   gwSession // sentinel of the open sessions, least recently active first
	open  int
	now   time.Time

	// Reused to parse a buffered message: rd reads it, br wraps rd.
	rd      bytes.Reader
	br      *bufio.Reader
	body    []byte
	postReq http.Request // the request of a response to anything but HEAD
	headReq http.Request // the request of a response to HEAD
}

// NewHTTPGateway returns an HTTPGateway that opens its sessions on out.
func NewHTTPGateway(out Sink, opt GatewayOptions) *HTTPGateway {
	g := &HTTPGateway{
		out:     out,
		opt:     opt.withDefaults(),
		byID:    make(map[string]*gwSession),
		postReq: http.Request{Method: http.MethodPost},
		headReq: http.Request{Method: http.MethodHead},
	}
	g.br = bufio.NewReader(&g.rd)
	g.lru.prev, g.lru.next = &g.lru, &g.lru
	return g
}

// Stats returns the counts so far.
func (g *HTTPGateway) Stats() GatewayStats { return g.stats }

// Open implements Sink: it returns the Stream of one TCP connection to the
// gateway.
func (g *HTTPGateway) Open(c dissect.ConnInfo) Stream {
	g.tick(c.Start)
	g.stats.Connections++
	return &gwConn{g: g, info: c}
}

// Finish ends every session still open with closed=false: those silent
// for IdleTimeout by time t as idle ones are (at their last message, as
// the Engine ends a connection silent for its IdleTimeout; packet time
// reaches the gateway only through its own connections, which may have
// ended long before t), the others at time t (or their latest message, if
// later). Call it after the Engine's Finish, which ends the TCP
// connections. The HTTPGateway may be used afterwards.
func (g *HTTPGateway) Finish(t time.Time) {
	g.tick(t)
	for g.lru.next != &g.lru {
		s := g.lru.next
		end := t
		if s.last.After(end) {
			end = s.last
		}
		g.stats.FinishedSessions++
		g.endSession(s, end, false)
	}
}

// tick advances packet time to t and ends the sessions idle for longer
// than IdleTimeout, each at the time of its last message.
func (g *HTTPGateway) tick(t time.Time) {
	if t.After(g.now) {
		g.now = t
	}
	for s := g.lru.next; s != &g.lru && g.now.Sub(s.last) > g.opt.IdleTimeout; s = g.lru.next {
		g.stats.IdleSessions++
		g.endSession(s, s.last, false)
	}
}

// reader returns g.br reading msg, which must stay unchanged while it is
// used.
func (g *HTTPGateway) reader(msg []byte) *bufio.Reader {
	g.rd.Reset(msg)
	g.br.Reset(&g.rd)
	return g.br
}

// gwSession is one MSNP session carried through the gateway.
type gwSession struct {
	out      Stream
	conns    httpConnNoter  // nil when out cannot note connections
	polls    emptyPollNoter // nil when out cannot count polls
	ids      [sessionIDAliases]string
	nids     int // ids issued so far; the latest is ids[(nids-1)%len]
	last     time.Time
	lastConn *gwConn // the connection noted last, nil once ended
	curIdx   int     // the session's index in lastConn.cur
	closing  bool    // a response said Session=close
	ended    bool
	// prev and next link the HTTPGateway's list of open sessions.
	prev, next *gwSession
}

// openSession opens a session for a request on c whose message began at
// start. syn is false for a session caught mid-way.
func (g *HTTPGateway) openSession(c *gwConn, start time.Time, target netip.AddrPort, syn bool) *gwSession {
	if g.open >= g.opt.MaxSessions {
		old := g.lru.next
		g.stats.EvictedSessions++
		if ev, ok := old.out.(GatewayEvicter); ok {
			ev.EvictGatewaySession(old.last)
		}
		g.endSession(old, old.last, false)
	}
	info := dissect.ConnInfo{
		Client:     c.info.Client,
		Server:     c.info.Server,
		Start:      start,
		SYN:        syn,
		File:       c.info.File,
		Packet:     c.info.Packet,
		DetectedBy: "port",
		Transport:  "http-gateway",
		Target:     target,
	}
	if c.requests == 1 {
		// The session began with the connection that carried it.
		info.Start = c.info.Start
	}
	out := g.out.Open(info)
	if out == nil {
		out = discard{}
	}
	s := &gwSession{out: out, last: start}
	s.conns, _ = out.(httpConnNoter)
	s.polls, _ = out.(emptyPollNoter)
	g.stats.Sessions++
	g.open++
	s.prev, s.next = g.lru.prev, &g.lru
	g.lru.prev.next = s
	g.lru.prev = s
	return s
}

// touch records activity of s at time t: it moves to the end of the list
// of open sessions.
func (g *HTTPGateway) touch(s *gwSession, t time.Time) {
	if t.After(s.last) {
		s.last = t
	}
	if s.next == &g.lru {
		return
	}
	s.prev.next, s.next.prev = s.next, s.prev
	s.prev, s.next = g.lru.prev, &g.lru
	g.lru.prev.next = s
	g.lru.prev = s
}

// name adds id as the latest SessionID of s, forgetting the oldest of its
// ids beyond sessionIDAliases.
func (g *HTTPGateway) name(s *gwSession, id string) {
	if s.nids > 0 && s.ids[(s.nids-1)%sessionIDAliases] == id {
		return
	}
	i := s.nids % sessionIDAliases
	if old := s.ids[i]; old != "" && g.byID[old] == s {
		delete(g.byID, old)
	}
	s.ids[i] = id
	s.nids++
	g.byID[id] = s
}

// endSession ends s at time t.
func (g *HTTPGateway) endSession(s *gwSession, t time.Time, closed bool) {
	if s.ended {
		return
	}
	s.ended = true
	for _, id := range s.ids {
		if id != "" && g.byID[id] == s {
			delete(g.byID, id)
		}
	}
	s.prev.next, s.next.prev = s.next, s.prev
	s.prev, s.next = nil, nil
	s.setConn(nil)
	g.open--
	s.out.End(t, closed)
}

// setConn makes c (nil for none) the connection s uses, the one that
// carried its latest request: s moves to c's list of such sessions.
func (s *gwSession) setConn(c *gwConn) {
	if old := s.lastConn; old != nil {
		i, last := s.curIdx, len(old.cur)-1
		old.cur[i] = old.cur[last]
		old.cur[i].curIdx = i
		old.cur[last] = nil
		old.cur = old.cur[:last]
	}
	s.lastConn = c
	if c != nil {
		s.curIdx = len(c.cur)
		c.cur = append(c.cur, s)
	}
}

// evictWithConn ends s, which was using a TCP connection the Engine
// evicted, at time t (or its latest message, if later) with closed=false,
// after telling it (Evicter).
func (g *HTTPGateway) evictWithConn(s *gwSession, t time.Time) {
	if s.ended {
		return
	}
	if s.last.After(t) {
		t = s.last
	}
	g.stats.ConnEvictedSessions++
	evictStream(s.out, t)
	g.endSession(s, t, false)
}

// connState says what a connection turned out to carry.
type connState uint8

const (
	connUnknown connState = iota // no request parsed yet
	connGateway                  // its first request was a gateway request
	connDropped                  // not gateway traffic, broken, or ended
)

// halfState is where a connection half is in its current message.
type halfState uint8

const (
	hsHead       halfState = iota // collecting a header block
	hsBody                        // a body of known length, remain bytes to go
	hsChunked                     // a chunked body, held in buf after the head
	hsUntilClose                  // a response body that ends with the connection
)

// msgCtx is what a half knows of the message it is in.
type msgCtx struct {
	sess *gwSession // the session the message belongs to, nil for none
	feed bool       // the body is MSNP bytes of sess (a response: status 200)
	seq  int64      // requests: number on the connection, from 1
	n    int64      // body bytes so far, lost ones included
	poll bool       // responses: to an Action=poll request with an empty body
	head bool       // responses: to a HEAD request (no body)
	late bool       // counted in LateBodies
}

// httpHalf is one direction of a connection.
type httpHalf struct {
	state     halfState
	buf       []byte    // the header block so far; a whole chunked message
	start     time.Time // time of the message's first bytes
	scanned   int       // buf bytes already searched for the head's end
	lineOK    bool      // the start line was checked
	remain    int64     // hsBody: body bytes still to come
	bodyStart int       // hsChunked: where the body starts in buf
	skip      bool      // hsChunked: over MaxChunkedBody, not held
	chunk     chunkScanner
	msg       msgCtx
}

// pendingReq is a request awaiting its response.
type pendingReq struct {
	sess    *gwSession // nil for a request that is not a gateway request
	seq     int64
	head    bool // a HEAD request
	poll    bool // Action=poll
	done    bool // its body is complete
	bodyLen int64
}

// gwConn is the Stream of one TCP connection to the gateway.
type gwConn struct {
	g        *HTTPGateway
	info     dissect.ConnInfo
	name     string // "client -> server", made when first noted
	state    connState
	half     [2]httpHalf
	pending  []pendingReq // oldest first
	requests int64
	// cur lists the open sessions whose latest request the connection
	// carried (their lastConn), in no particular order.
	cur []*gwSession
	// noted lists the sessions that noted the connection (see note).
	noted []*gwSession
	// evicted is set when the Engine evicts the connection: its End then
	// ends the sessions it carried.
	evicted bool
	// direct is the plain MSNP session of a connection on a gateway port
	// that carries MSNP itself rather than HTTP (MSNP on port 80).
	direct Stream
	// jump is, per direction, how far the packet of the next Feed lies
	// from the Engine's clock when its time is a lone jump (TimeJump);
	// ahead is that of the Feed or Gap being made, and told the last
	// session told of it.
	jump  [2]time.Duration
	ahead time.Duration
	told  *gwSession
}

// TimeJump implements TimeJumper: the bytes of the next Feed of direction
// d came in a packet whose time is a lone jump. Each session given some of
// them (or the plain MSNP session) is told before its bytes.
func (c *gwConn) TimeJump(d dissect.Dir, t time.Time, ahead time.Duration) {
	if d <= dissect.S2C {
		c.jump[d] = ahead
	}
}

// Feed implements Stream. The gateway's waits go by the Engine's clock:
// bytes whose packet time is a lone jump (TimeJump) do not move it, or one
// damaged record would end every session as idle.
func (c *gwConn) Feed(d dissect.Dir, t time.Time, b []byte) {
	if d > dissect.S2C {
		c.g.tick(t)
		return
	}
	c.ahead, c.told, c.jump[d] = c.jump[d], nil, 0
	defer func() { c.ahead, c.told = 0, nil }()
	c.g.tick(t.Add(-c.ahead))
	if c.direct != nil {
		if c.ahead != 0 {
			timeJump(c.direct, d, t, c.ahead)
		}
		c.direct.Feed(d, t, b)
		return
	}
	h := &c.half[d]
	for len(b) > 0 && c.state != connDropped {
		var n int
		switch h.state {
		case hsHead:
			n = c.feedHead(d, t, b)
		case hsBody:
			n = int(min(int64(len(b)), h.remain))
			c.deliver(d, t, b[:n])
			h.remain -= int64(n)
			if h.remain == 0 {
				c.complete(d, t)
			}
		case hsChunked:
			n = c.feedChunked(d, t, b)
		case hsUntilClose:
			n = len(b)
			c.deliver(d, t, b)
		}
		b = b[n:]
	}
}

// Gap implements Stream. Bytes lost inside a body of known length reach
// the session as lost; lost anywhere else, they break the connection, and
// the session of a message they cut short loses an unknown number of
// bytes. A connection that showed only the start of an MSNP command line
// (heldMSNP) is dissected as MSNP on the gateway port, and the gap goes to
// its session.
func (c *gwConn) Gap(d dissect.Dir, t time.Time, n int) {
	if d <= dissect.S2C {
		// Told of a lone jump before a Gap, its Feed follows (TimeJump).
		c.ahead = c.jump[d]
		defer func() { c.ahead = 0 }()
	}
	c.g.tick(t.Add(-c.ahead))
	if c.direct == nil && c.heldMSNP() {
		c.goDirect()
	}
	if c.direct != nil {
		c.direct.Gap(d, t, n)
		return
	}
	if c.state == connDropped || d > dissect.S2C {
		return
	}
	h := &c.half[d]
	switch {
	case h.state == hsBody && n > 0 && int64(n) <= h.remain:
		c.lose(d, t, int64(n))
		h.remain -= int64(n)
		if h.remain == 0 {
			c.complete(d, t)
		}
	case h.state == hsUntilClose && n > 0:
		c.lose(d, t, int64(n))
	default:
		c.broken(t)
	}
}

// Evict implements Evicter: the Engine is ending the connection early to
// keep within its Options.MaxConnections, and End follows. A connection
// that carries MSNP itself passes the eviction on to its session. Of a
// gateway connection, End then ends every open session it carried: those
// whose latest request it carried, those waiting on it for a response and
// those of a message it was in the middle of. Each is told (Evict) and
// ended with closed=false, as the session of an evicted direct connection
// is, and a later request of it starts a new, partial session.
func (c *gwConn) Evict(t time.Time) {
	c.g.tick(t)
	c.g.stats.EvictedConnections++
	if c.direct != nil {
		evictStream(c.direct, t)
		return
	}
	c.evicted = true
}

// End implements Stream. A response that lasts until the connection closes
// is complete, unless the connection was evicted; any other unfinished
// message was cut short, and requests still waiting are unanswered. The
// sessions an evicted connection carried end (see Evict). A connection
// that showed only the start of an MSNP command line (heldMSNP) is
// dissected as MSNP on the gateway port, so that its session reports the
// cut line.
func (c *gwConn) End(t time.Time, closed bool) {
	g := c.g
	g.tick(t)
	if c.direct == nil && c.heldMSNP() {
		c.goDirect()
		if c.evicted {
			evictStream(c.direct, t)
		}
	}
	if c.direct != nil {
		c.direct.End(t, closed)
		c.direct = nil
		return
	}
	if c.state != connDropped {
		for d := range c.half {
			h := &c.half[d]
			switch h.state {
			case hsUntilClose:
				if !c.evicted {
					c.complete(dissect.Dir(d), t)
					break
				}
				// Where the body ended was not seen.
				g.stats.TruncatedMessages++
				c.lose(dissect.Dir(d), t, 0)
			case hsBody:
				g.stats.TruncatedMessages++
				c.lose(dissect.Dir(d), t, h.remain)
			case hsChunked:
				g.stats.TruncatedMessages++
				c.lose(dissect.Dir(d), t, 0)
			case hsHead:
				if len(h.buf) > 0 {
					g.stats.TruncatedMessages++
				}
			}
		}
		c.requestLost(t)
	}
	var carried []*gwSession
	if c.evicted {
		carried = c.carried()
	}
	c.drop()
	for _, s := range carried {
		g.evictWithConn(s, t)
	}
}

// carried returns the open sessions the connection carries: those whose
// latest request it carried, then those of its current messages and of its
// requests awaiting a response; each once.
func (c *gwConn) carried() []*gwSession {
	out := slices.Clone(c.cur)
	n := len(out)
	add := func(s *gwSession) {
		if s != nil && !s.ended && s.lastConn != c && !slices.Contains(out[n:], s) {
			out = append(out, s)
		}
	}
	for d := range c.half {
		add(c.half[d].msg.sess)
	}
	for i := range c.pending {
		add(c.pending[i].sess)
	}
	return out
}

// maxGapReport is the most bytes reported lost at once, so that the count
// fits an int everywhere (dissect counts anomaly bytes in an int). A
// declared Content-Length can be anything up to 2^63: a larger loss is
// reported as a gap of unknown size, not as a smaller one.
const maxGapReport = 1 << 30

// gapSize is the n of a Gap for n lost bytes: n itself, or 0 (unknown)
// when it is above maxGapReport.
func gapSize(n int64) int {
	if n > maxGapReport {
		return 0
	}
	return int(n)
}

// feedHead takes bytes of a header block from b and returns how many it
// took. When the block is complete it is parsed and the half moves on to
// the body.
func (c *gwConn) feedHead(d dissect.Dir, t time.Time, b []byte) int {
	g := c.g
	h := &c.half[d]
	if len(h.buf) == 0 && d == dissect.C2S {
		// RFC 9112 §2.2: empty lines before a request line are ignored
		// (some clients send CRLF after a POST body).
		skip := 0
		for skip < len(b) && (b[skip] == '\r' || b[skip] == '\n') {
			skip++
		}
		if skip > 0 {
			return skip
		}
	}
	if len(h.buf) == 0 {
		h.start = t
		h.scanned = 0
		h.lineOK = false
	}
	old := len(h.buf)
	take := min(len(b), g.opt.MaxHeaderBytes-old)
	h.buf = append(h.buf, b[:take]...)
	if !h.lineOK {
		ok, done := startLine(h.buf, old, d == dissect.C2S)
		if !ok {
			if c.state == connUnknown {
				if c.passThrough(t) {
					if take < len(b) {
						if c.ahead != 0 {
							timeJump(c.direct, d, t, c.ahead)
						}
						c.direct.Feed(d, t, b[take:])
					}
					return len(b)
				}
				if mayBeMSNP(h.buf) && take == len(b) {
					return len(b) // wait for the line end to tell
				}
			}
			c.broken(t)
			return len(b)
		}
		h.lineOK = done
	}
	end := headEnd(h.buf, h.scanned)
	if end < 0 {
		h.scanned = max(0, len(h.buf)-2)
		if len(h.buf) >= g.opt.MaxHeaderBytes {
			c.broken(t)
			return len(b)
		}
		return take
	}
	h.buf = h.buf[:end]
	if d == dissect.C2S {
		c.request(t)
	} else {
		c.response(t)
	}
	return end - old
}

// startLine checks the first line of a message in b, of which the bytes
// before from were checked already. ok is false when b cannot begin a
// request (req) or a response; done is true when the whole line was
// checked.
func startLine(b []byte, from int, req bool) (ok, done bool) {
	nl := bytes.IndexByte(b[from:], '\n')
	if nl < 0 {
		if len(b) > maxStartLine {
			return false, false
		}
		if req {
			m := b
			if sp := bytes.IndexByte(b, ' '); sp >= 0 {
				m = b[:sp]
			}
			return len(m) <= maxMethodLen && isMethod(m, true), false
		}
		p := "HTTP/1."
		n := min(len(b), len(p))
		return string(b[:n]) == p[:n], false
	}
	line := bytes.TrimSuffix(b[:from+nl], []byte("\r"))
	if len(line) > maxStartLine {
		return false, true
	}
	if !req {
		return bytes.HasPrefix(line, []byte("HTTP/1.")), true
	}
	sp := bytes.IndexByte(line, ' ')
	last := bytes.LastIndexByte(line, ' ')
	if sp <= 0 || sp > maxMethodLen || last == sp || !isMethod(line[:sp], false) {
		return false, true
	}
	return bytes.HasPrefix(line[last+1:], []byte("HTTP/1.")), true
}

// isMethod reports whether m is a request method: uppercase letters and
// '-', at least one unless partial.
func isMethod(m []byte, partial bool) bool {
	if len(m) == 0 {
		return partial
	}
	for _, c := range m {
		if (c < 'A' || c > 'Z') && c != '-' {
			return false
		}
	}
	return true
}

// headEnd returns the length of the header block at the start of b (up to
// and including the empty line), or -1 if b does not hold all of it.
// Searching starts at from, which must not be past a line start that
// could begin the empty line. Lines may end in CRLF or LF, as net/http
// accepts.
func headEnd(b []byte, from int) int {
	for i := from; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		switch {
		case i < len(b) && b[i] == '\n':
			return i + 1
		case i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n':
			return i + 2
		}
	}
}

// request handles a complete request header block in the C2S half.
func (c *gwConn) request(t time.Time) {
	g := c.g
	h := &c.half[dissect.C2S]
	req, err := http.ReadRequest(g.reader(h.buf))
	if err != nil {
		c.broken(t)
		return
	}
	g.stats.Requests++
	c.requests++
	gw, ok := gatewayRequest(req)
	if c.state == connUnknown {
		if !ok {
			g.stats.NotGateway++
			c.drop()
			return
		}
		c.state = connGateway
		g.stats.GatewayConnections++
	}
	p := pendingReq{seq: c.requests, head: req.Method == http.MethodHead, poll: gw.poll}
	if ok {
		p.sess = c.session(gw, h.start)
	} else {
		g.stats.OtherRequests++
	}
	if len(c.pending) >= g.opt.MaxPipelined {
		g.stats.EvictedRequests++
		c.unanswered(&c.pending[0])
		c.pending = append(c.pending[:0], c.pending[1:]...)
	}
	c.pending = append(c.pending, p)
	h.msg = msgCtx{sess: p.sess, feed: true, seq: p.seq}
	c.startBody(dissect.C2S, t, chunked(req.TransferEncoding), req.ContentLength)
}

// gwRequest is what a gateway request's query says.
type gwRequest struct {
	open   bool
	poll   bool
	id     string         // SessionID
	target netip.AddrPort // IP of Action=open, when it is an address
}

// gatewayRequest reads req's target as a gateway request
// (msnp-grammar.md §14): /gateway/gateway.dll with Action=open, or with a
// SessionID (Action=poll or none).
func gatewayRequest(req *http.Request) (gwRequest, bool) {
	var r gwRequest
	if !strings.EqualFold(req.URL.Path, "/gateway/gateway.dll") {
		return r, false
	}
	q := req.URL.Query()
	action := q.Get("Action")
	r.id = q.Get("SessionID")
	switch {
	case strings.EqualFold(action, "open"):
		r.open = true
		r.target = parseTarget(q.Get("IP"))
	case r.id == "":
		return r, false
	default:
		r.poll = strings.EqualFold(action, "poll")
	}
	return r, true
}

// parseTarget reads the IP parameter of Action=open: an address with or
// without a port (1863 then). A host name gives the zero AddrPort.
func parseTarget(s string) netip.AddrPort {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a.Unmap(), msnpDefaultPort)
	}
	return netip.AddrPort{}
}

// session returns the session a gateway request belongs to, opening one
// for Action=open or an unknown SessionID, and notes the connection on it.
func (c *gwConn) session(r gwRequest, start time.Time) *gwSession {
	g := c.g
	var s *gwSession
	switch {
	case r.open:
		s = g.openSession(c, start, r.target, true)
	default:
		s = g.byID[r.id]
		if s == nil {
			g.stats.MidSessions++
			s = g.openSession(c, start, netip.AddrPort{}, false)
			if len(r.id) <= maxSessionIDLen {
				g.name(s, r.id)
			}
		}
	}
	g.touch(s, start)
	if s.lastConn != c {
		s.setConn(c)
		if s.conns != nil && c.note(s) {
			if c.name == "" {
				c.name = c.info.Client.String() + " -> " + c.info.Server.String()
			}
			s.conns.NoteHTTPConnection(c.name)
		}
	}
	return s
}

// note records that the connection carried a request of s, and reports
// whether it is the first: each connection is noted once per session
// (NoteHTTPConnection), even when the session goes back to a connection
// it used before. Ended sessions are let go as the list grows, so it
// holds at most twice the sessions open at once.
func (c *gwConn) note(s *gwSession) bool {
	if slices.Contains(c.noted, s) {
		return false
	}
	if len(c.noted) == cap(c.noted) {
		c.noted = slices.DeleteFunc(c.noted, func(x *gwSession) bool { return x.ended })
	}
	c.noted = append(c.noted, s)
	return true
}

// response handles a complete response header block in the S2C half.
func (c *gwConn) response(t time.Time) {
	g := c.g
	h := &c.half[dissect.S2C]
	var p pendingReq
	matched := len(c.pending) > 0
	if matched {
		p = c.pending[0]
	}
	req := &g.postReq
	if p.head {
		req = &g.headReq
	}
	resp, err := http.ReadResponse(g.reader(h.buf), req)
	if err != nil {
		c.broken(t)
		return
	}
	if resp.StatusCode >= 100 && resp.StatusCode < 200 {
		if resp.StatusCode == http.StatusSwitchingProtocols {
			c.broken(t)
			return
		}
		// An interim response: the final one follows.
		h.buf = h.buf[:0]
		return
	}
	g.stats.Responses++
	if matched {
		c.pending = append(c.pending[:0], c.pending[1:]...)
	} else {
		g.stats.UnmatchedResponses++
	}
	ok := resp.StatusCode == http.StatusOK
	if !ok {
		g.stats.ErrorResponses++
	}
	s := p.sess
	if s != nil && !s.ended {
		g.touch(s, h.start)
		id, closing := sessionHeader(resp.Header.Get("X-MSN-Messenger"))
		if id != "" && len(id) <= maxSessionIDLen {
			g.name(s, id)
		}
		s.closing = s.closing || closing
	}
	h.msg = msgCtx{sess: s, feed: ok, poll: p.poll && p.done && p.bodyLen == 0, head: p.head}
	// RFC 9112 §6.3: no body after HEAD, 204 or 304; then chunked,
	// Content-Length, or the rest of the connection.
	cl, isChunked := resp.ContentLength, chunked(resp.TransferEncoding)
	switch {
	case p.head || resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified:
		cl, isChunked = 0, false
	case !isChunked && cl < 0:
		h.buf = h.buf[:0]
		h.state = hsUntilClose
		return
	}
	c.startBody(dissect.S2C, t, isChunked, cl)
}

// sessionHeader reads an X-MSN-Messenger field value, "SessionID=<id>;
// GW-IP=<ip>" with "; Session=close" when the gateway closes the session.
func sessionHeader(v string) (id string, closing bool) {
	for v != "" {
		var part string
		part, v, _ = strings.Cut(v, ";")
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch {
		case strings.EqualFold(k, "SessionID"):
			id = strings.TrimSpace(val)
		case strings.EqualFold(k, "Session"):
			closing = strings.EqualFold(strings.TrimSpace(val), "close")
		}
	}
	return id, closing
}

// chunked reports whether a message's transfer codings end in chunked
// (net/http accepts no other).
func chunked(te []string) bool { return len(te) > 0 && te[len(te)-1] == "chunked" }

// startBody moves half d from a parsed header block to its body: chunked,
// cl bytes, or none (cl 0).
func (c *gwConn) startBody(d dissect.Dir, t time.Time, isChunked bool, cl int64) {
	h := &c.half[d]
	switch {
	case isChunked:
		h.state = hsChunked
		h.bodyStart = len(h.buf)
		h.skip = false
		h.chunk = chunkScanner{}
	case cl > 0:
		h.buf = h.buf[:0]
		h.state = hsBody
		h.remain = cl
	default:
		h.buf = h.buf[:0]
		c.complete(d, t)
	}
}

// feedChunked frames the chunked body of half d from b, holding it unless
// it is over the limit, and returns how many bytes it took.
func (c *gwConn) feedChunked(d dissect.Dir, t time.Time, b []byte) int {
	g := c.g
	h := &c.half[d]
	n, done, ok := h.chunk.scan(b)
	if !ok {
		c.broken(t)
		return len(b)
	}
	if !h.skip {
		if len(h.buf)-h.bodyStart+n > g.opt.MaxChunkedBody {
			h.skip = true
			h.buf = h.buf[:0]
		} else {
			h.buf = append(h.buf, b[:n]...)
		}
	}
	if !done {
		return n
	}
	if h.skip {
		// Counted once framed to its end: a body that breaks first is
		// counted as broken, however much of it had come in before (in
		// one Feed or many).
		g.stats.SkippedBodies++
		if h.chunk.data > 0 {
			// A body of only size lines and trailer fields loses none.
			c.lose(d, t, h.chunk.data)
		}
		c.complete(d, t)
		return n
	}
	body, err := c.decodeChunked(d)
	if err != nil {
		c.broken(t)
		return n
	}
	c.deliver(d, t, body)
	c.complete(d, t)
	return n
}

// decodeChunked parses the whole chunked message held by half d with
// net/http and returns its body, valid until the next call.
func (c *gwConn) decodeChunked(d dissect.Dir) ([]byte, error) {
	g := c.g
	h := &c.half[d]
	var body io.Reader
	if d == dissect.C2S {
		req, err := http.ReadRequest(g.reader(h.buf))
		if err != nil {
			return nil, err
		}
		body = req.Body
	} else {
		req := &g.postReq
		if h.msg.head {
			req = &g.headReq
		}
		resp, err := http.ReadResponse(g.reader(h.buf), req)
		if err != nil {
			return nil, err
		}
		body = resp.Body
	}
	g.body = g.body[:0]
	for {
		if len(g.body) == cap(g.body) {
			g.body = append(g.body, 0)[:len(g.body)]
		}
		n, err := body.Read(g.body[len(g.body):cap(g.body)])
		g.body = g.body[:len(g.body)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if g.rd.Len()+g.br.Buffered() != 0 {
		// The scanner and net/http disagree on where the body ends.
		return nil, io.ErrUnexpectedEOF
	}
	if cap(g.body) > keepBufCap {
		defer func() { g.body = nil }()
	}
	return g.body, nil
}

// deliver gives body bytes of half d's message to its session.
func (c *gwConn) deliver(d dissect.Dir, t time.Time, b []byte) {
	h := &c.half[d]
	h.msg.n += int64(len(b))
	s := h.msg.sess
	switch {
	case !h.msg.feed || s == nil || len(b) == 0:
	case s.ended:
		c.late(d)
		c.g.stats.LateBytes += int64(len(b))
	default:
		c.g.touch(s, t.Add(-c.ahead))
		if c.ahead != 0 && c.told != s {
			c.told = s
			timeJump(s.out, d, t, c.ahead)
		}
		s.out.Feed(d, t, b)
	}
}

// lose reports n lost body bytes of half d's message to its session (n 0:
// an unknown number, as for n above maxGapReport).
func (c *gwConn) lose(d dissect.Dir, t time.Time, n int64) {
	h := &c.half[d]
	h.msg.n += n
	s := h.msg.sess
	switch {
	case !h.msg.feed || s == nil:
	case s.ended:
		c.late(d)
	default:
		c.g.touch(s, t.Add(-c.ahead))
		s.out.Gap(d, t, gapSize(n))
	}
}

// late counts half d's message in LateBodies, once: its session has
// ended.
func (c *gwConn) late(d dissect.Dir) {
	if h := &c.half[d]; !h.msg.late {
		h.msg.late = true
		c.g.stats.LateBodies++
	}
}

// complete finishes half d's message at time t.
func (c *gwConn) complete(d dissect.Dir, t time.Time) {
	g := c.g
	h := &c.half[d]
	m := h.msg
	if d == dissect.C2S {
		for i := range c.pending {
			if p := &c.pending[i]; p.seq == m.seq {
				p.done, p.bodyLen = true, m.n
			}
		}
	} else if s := m.sess; s != nil && !s.ended {
		if m.feed && m.poll && m.n == 0 {
			g.stats.EmptyPolls++
			if s.polls != nil {
				s.polls.NoteEmptyPoll()
			}
		}
		if s.closing {
			g.stats.ClosedSessions++
			g.endSession(s, t, true)
		}
	}
	h.state = hsHead
	h.msg = msgCtx{}
	h.buf = h.buf[:0]
	if cap(h.buf) > keepBufCap {
		h.buf = nil
	}
}

// unanswered gives up on request p: its session loses the response.
func (c *gwConn) unanswered(p *pendingReq) {
	c.g.stats.UnansweredRequests++
	if s := p.sess; s != nil && !s.ended {
		s.out.Gap(dissect.S2C, c.g.now, 0)
	}
}

// passThrough turns a connection whose first bytes are not HTTP but MSNP
// (dissect.Sniff: MSNP on port 80, say) into a plain MSNP session, fed
// with the bytes held so far. It reports whether it did.
func (c *gwConn) passThrough(t time.Time) bool {
	ok := false
	for d := range c.half {
		if sniffed, _ := dissect.Sniff(c.half[d].buf); sniffed {
			ok = true
		}
	}
	if !ok {
		return false
	}
	c.goDirect()
	return true
}

// goDirect makes the connection a plain MSNP session (DetectedBy
// "content"), fed with the bytes its halves hold, each at the time of its
// first byte.
func (c *gwConn) goDirect() {
	c.g.stats.DirectMSNP++
	info := c.info
	info.DetectedBy = "content"
	c.direct = c.g.out.Open(info)
	if c.direct == nil {
		c.direct = discard{}
	}
	for d := range c.half {
		if buf := c.half[d].buf; len(buf) > 0 {
			c.direct.Feed(dissect.Dir(d), c.half[d].start, buf)
		}
	}
	c.half = [2]httpHalf{}
}

// heldMSNP reports whether a connection not yet known to be HTTP holds,
// in some half, the start of an MSNP command line that no line end has
// completed yet: a known verb followed by a space or the line's CR, then
// what may be its parameters (mayStartLine), and not the start of an
// HTTP request line with the same verb ("PUT /x"). Nothing else it holds
// may be a checked HTTP start line. When the connection ends (or loses
// bytes) holding it, the connection is MSNP on the gateway port whose
// first line was cut, and is dissected as such: the dissector reports the
// cut line (truncated_line), as it does for a connection on an MSNP port.
func (c *gwConn) heldMSNP() bool {
	if c.state != connUnknown {
		return false
	}
	found := false
	for d := range c.half {
		h := &c.half[d]
		switch {
		case len(h.buf) == 0:
		case h.lineOK || h.state != hsHead:
			return false
		case len(h.buf) >= 4 && mayStartLine(h.buf): // no LF: the line has not ended
			if rest := h.buf[4:]; bytes.HasPrefix(rest, []byte("/")) || bytes.HasPrefix(rest, []byte("http://")) {
				return false
			}
			found = true
		default:
			return false
		}
	}
	return found
}

// mayBeMSNP reports whether b may still grow into an MSNP command line:
// no line end yet, short, and the shape of a verb so far ("VER 1 MS").
func mayBeMSNP(b []byte) bool {
	if len(b) > 512 || bytes.IndexByte(b, '\n') >= 0 {
		return false
	}
	for _, c := range b[:min(len(b), 3)] {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return len(b) < 4 || b[3] == ' '
}

// broken gives up the connection after bytes that cannot be parsed or
// were lost where they break the framing.
func (c *gwConn) broken(t time.Time) {
	g := c.g
	if c.state == connUnknown {
		g.stats.NotHTTP++
	} else {
		g.stats.Broken++
		for d := range c.half {
			if h := &c.half[d]; h.state != hsHead {
				c.lose(dissect.Dir(d), t, 0)
			}
		}
		c.requestLost(t)
	}
	c.drop()
}

// requestLost tells the session of a request whose header block the
// connection holds but will not finish (it ended, broke or lost bytes)
// that its body was lost, how much of it unknown: the session is the one
// the request line names, when it names one open (a poll, whose body is
// empty, loses nothing; an Action=open opened nothing yet).
func (c *gwConn) requestLost(t time.Time) {
	h := &c.half[dissect.C2S]
	if h.state != hsHead || len(h.buf) == 0 {
		return
	}
	// Only a whole request line that is one: a line found bad is not a
	// request, and would otherwise be taken for one or not depending on
	// how much of it came before the check (its first byte, or all).
	if ok, done := startLine(h.buf, 0, true); !ok || !done {
		return
	}
	line, _, ok := bytes.Cut(h.buf, []byte("\n"))
	if !ok {
		return
	}
	f := strings.Fields(string(line))
	if len(f) != 3 {
		return
	}
	u, err := url.ParseRequestURI(f[1])
	if err != nil {
		return
	}
	r, ok := gatewayRequest(&http.Request{URL: u})
	if !ok || r.open || r.poll {
		return
	}
	if s := c.g.byID[r.id]; s != nil && !s.ended {
		s.out.Gap(dissect.C2S, t, 0)
	}
}

// drop stops the analysis of the connection and lets its memory go.
// Requests still waiting are unanswered.
func (c *gwConn) drop() {
	if c.state == connDropped {
		return
	}
	for i := range c.pending {
		c.unanswered(&c.pending[i])
	}
	c.state = connDropped
	c.pending = nil
	c.noted = nil
	c.half = [2]httpHalf{}
}

// chunkScanner finds where a chunked body ends (RFC 9112 §7.1) as its
// bytes arrive, keeping only counters; net/http decodes the body once it
// is complete. It accepts what net/http does: hex sizes of up to 16
// digits, extensions after the size, lines ending in CRLF or LF, and
// trailer fields.
type chunkScanner struct {
	state  uint8
	size   uint64 // the size being read, then the data still to skip
	digits int
	line   int   // bytes of the current size or trailer line
	data   int64 // data bytes framed so far
}

const (
	csSize        = iota // reading the hex digits of a size
	csSizeRest           // skipping an extension up to LF
	csData               // skipping data
	csDataCR             // expecting the CR or LF after the data
	csDataLF             // expecting the LF after the data's CR
	csTrailer            // at the start of a trailer line
	csTrailerLine        // inside a trailer line
	csTrailerLF          // expecting the LF of the empty line
	csDone
)

// scan frames the next bytes of the body from b. It returns how many it
// took (up to the end of the body when done), and ok false on a framing
// error.
func (s *chunkScanner) scan(b []byte) (n int, done, ok bool) {
	for n < len(b) {
		if s.state == csData {
			k := int(min(uint64(len(b)-n), s.size))
			n += k
			s.size -= uint64(k)
			if s.size == 0 {
				s.state = csDataCR
			}
			continue
		}
		c := b[n]
		n++
		switch s.state {
		case csSize:
			if v, isHex := hexVal(c); isHex {
				if s.digits == maxChunkDigits {
					return n, false, false
				}
				s.size = s.size<<4 | uint64(v)
				s.digits++
				s.line++
				continue
			}
			if s.digits == 0 {
				return n, false, false
			}
			if c == '\n' {
				s.endSize()
				continue
			}
			s.state = csSizeRest
			s.line++
		case csSizeRest:
			if c == '\n' {
				s.endSize()
				continue
			}
			if s.line++; s.line > maxChunkLine {
				return n, false, false
			}
		case csDataCR:
			switch c {
			case '\r':
				s.state = csDataLF
			case '\n':
				s.state = csSize
			default:
				return n, false, false
			}
		case csDataLF:
			if c != '\n' {
				return n, false, false
			}
			s.state = csSize
		case csTrailer:
			switch c {
			case '\r':
				s.state = csTrailerLF
			case '\n':
				s.state = csDone
				return n, true, true
			default:
				s.state = csTrailerLine
				s.line = 1
			}
		case csTrailerLine:
			if c == '\n' {
				s.state = csTrailer
				continue
			}
			if s.line++; s.line > maxChunkLine {
				return n, false, false
			}
		case csTrailerLF:
			if c != '\n' {
				return n, false, false
			}
			s.state = csDone
			return n, true, true
		}
	}
	return n, false, true
}

// endSize acts on the end of a size line.
func (s *chunkScanner) endSize() {
	s.digits, s.line = 0, 0
	if s.size == 0 {
		s.state = csTrailer
		return
	}
	s.data += int64(min(s.size, 1<<62))
	s.state = csData
}

// hexVal returns the value of hex digit c.
func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
