package dissect

import (
	"net/netip"
	"strconv"
	"time"
)

// Handler receives the dissector's results as they are produced. The
// dissector calls it synchronously from Feed, Gap and End.
type Handler interface {
	// Command is called for each complete command, in wire order per
	// session. c and its Payload are valid only during the call: the
	// Analyzer reuses them afterwards, so a receiver that keeps the
	// command keeps c.Clone().
	Command(s *Session, c *Command)
	// Anomaly is called for each anomaly; a is owned by the receiver.
	Anomaly(s *Session, a *Anomaly)
	// SessionEnd is called once per session, after its last command.
	SessionEnd(s *Session)
}

// maxAnomalies bounds the anomalies a session lists; AnomalyCounts stays
// exact beyond it. A damaged stream can produce one per line.
const maxAnomalies = 1000

// maxRedirectMemory bounds how many recent NS referrals the analyzer
// remembers to link a dispatch session to the notification session that
// follows it.
const maxRedirectMemory = 4096

// Analyzer dissects the MSNP connections of one capture. It assigns
// session IDs in the order connections are opened. It is not safe for
// concurrent use.
type Analyzer struct {
	h       Handler
	lim     Limits
	nextID  int
	pending []pendingRedirect
	grants  cookieGrants

	// params holds the views of the line being parsed: lines are parsed
	// one at a time, so all sessions share it.
	params   [][]byte
	freeCmds []*Command // for reuse; see newCommand
	freePay  [][]byte   // payload buffers for reuse
	formats  internCache
	settled  uint64 // see Session.LinksSettled
	// msg is the message being classified, before the chat's log keeps
	// it encoded: one at a time, so all sessions share it.
	msg Message
}

type pendingRedirect struct {
	to      netip.AddrPort
	client  netip.Addr
	from    *Session
	t       time.Time // packet time of the referral
	index   int       // into from.Redirects
	claimed bool
}

// Command reuse. A command is handed to the Handler and is then done with
// (the Handler keeps a Clone if it needs one), so the Analyzer reuses the
// Command and its payload buffer for a later line instead of leaving both
// to the collector: one Command per line was about a fifth of all the
// bytes a -T json run allocated. The free lists are bounded: they hold
// what a burst of lines gives back, not the commands still waiting for
// their payload (at most one per direction of each session).

// maxFreeCommands bounds the Commands kept for reuse.
const maxFreeCommands = 64

// maxReusedPayload is the largest payload buffer kept for reuse; larger
// ones (rare: file transfers, big contact lists) are left to the collector
// so that reuse never pins much memory.
const maxReusedPayload = 4 << 10

// newCommand returns a Command for a new line; the caller sets every field.
func (a *Analyzer) newCommand() *Command {
	if n := len(a.freeCmds); n > 0 {
		c := a.freeCmds[n-1]
		a.freeCmds = a.freeCmds[:n-1]
		return c
	}
	return new(Command)
}

// payloadBuf returns an empty buffer with room for n bytes.
func (a *Analyzer) payloadBuf(n int) []byte {
	if n <= maxReusedPayload {
		for i := len(a.freePay) - 1; i >= 0; i-- {
			if b := a.freePay[i]; cap(b) >= n {
				a.freePay[i] = a.freePay[len(a.freePay)-1]
				a.freePay = a.freePay[:len(a.freePay)-1]
				return b
			}
		}
		// Rounded up so that a buffer fits most later payloads too.
		return make([]byte, 0, max(n, 512))
	}
	return make([]byte, 0, n)
}

// recycle takes back a command the Handler is done with.
func (a *Analyzer) recycle(c *Command) {
	if b := c.Payload; cap(b) > 0 && cap(b) <= maxReusedPayload && len(a.freePay) < maxFreeCommands {
		a.freePay = append(a.freePay, b[:0])
	}
	if len(a.freeCmds) < maxFreeCommands {
		*c = Command{}
		a.freeCmds = append(a.freeCmds, c)
	}
}

// NewAnalyzer returns an Analyzer reporting to h under the given limits
// (zero fields take their defaults).
func NewAnalyzer(h Handler, lim Limits) *Analyzer {
	return &Analyzer{h: h, lim: lim.withDefaults()}
}

// Session is the dissection of one TCP connection carrying MSNP. Its
// exported fields are the session's report; they are final once the
// Handler's SessionEnd has been called, except Redirects[i].Session, which
// is set when a later connection follows a referral.
type Session struct {
	ID   int
	Conn ConnInfo
	Kind Kind
	// KindEvidence names what decided Kind.
	KindEvidence       string
	StartTime, EndTime time.Time
	// Closed is set when the connection was seen to close (FIN or RST).
	Closed bool
	// Done is set once End was called.
	Done bool
	// Parent is the ID of the session whose referral led to this one, 0
	// when none.
	Parent int

	Version      Negotiation
	Auth         *Auth
	Redirects    []Redirect
	Transactions []*Transaction
	GroupOps     []*GroupOp
	Errors       []ErrorReply
	Anomalies    []Anomaly
	// AnomalyCounts counts anomalies by kind, including those beyond the
	// listing limit.
	AnomalyCounts map[string]int
	// Out is the first OUT seen, nil when none.
	Out *Out
	// Chat is what a switchboard session carried, nil for other kinds.
	Chat *Chat
	// Cookie is the switchboard authentication cookie the session logged
	// in with (a credential).
	Cookie string
	// Invitations lists the RNG invitations a notification session
	// received.
	Invitations []Invitation
	// ListVersion is the contact list version of the SYN reply; ListNotSent
	// is set when it equalled the client's, so the server sent no list
	// (versions/msnp9.md: SYN 8 15 answered by SYN 8 15).
	ListVersion string
	ListNotSent bool
	// ContactChanges lists the changes to the contact lists after login.
	ContactChanges []ContactChange
	// UnlistedContactChanges counts changes beyond the listing limit.
	UnlistedContactChanges int
	// OwnStatus lists the session user's own status changes (CHG).
	OwnStatus []PresenceEvent
	// HTTPConnections lists the TCP connections of an HTTP-gateway
	// session, up to a limit; UnlistedHTTPConnections counts those beyond
	// it, and EmptyPolls its polls without data.
	HTTPConnections         []string
	UnlistedHTTPConnections int
	EmptyPolls              int
	// LinkNote says why a switchboard session has no Parent, when it
	// should have one.
	LinkNote string

	// Commands counts commands per direction (index C2S, S2C).
	Commands [2]int
	// Bytes counts stream bytes per direction, lost bytes included.
	Bytes [2]int64
	// Lost counts bytes never captured per direction.
	Lost [2]int64
	// UnknownGaps counts, per direction, the gaps whose size the
	// reassembly could not tell (Gap with n 0): their bytes are in neither
	// Lost nor Bytes, so both are then lower bounds, and the offsets after
	// such a gap count only the bytes seen.
	UnknownGaps [2]int
	// UnmatchedReplies counts server lines whose TrID no client command
	// used.
	UnmatchedReplies int
	// EvictedPending counts transactions dropped from matching while still
	// unanswered (Limits.MaxPending).
	EvictedPending int
	// UnlistedTransactions counts transactions matched but not listed
	// (Limits.MaxTransactions).
	UnlistedTransactions int

	a         *Analyzer
	half      [2]half
	seq       int
	groups    map[string]string
	open      trids
	opByTrID  map[int64]*GroupOp
	evidence  [3]string // first evidence for switchboard, notification, dispatch
	contacts  contactList
	syncDone  bool
	presence  presence
	mlPending map[int64][]byte // ADL/RML payloads awaiting OK
	awaiting  int              // see AwaitingLinks
	orphans   []*Command       // replies waiting for their request
}

// Out records an OUT command (commands/out.md).
type Out struct {
	Dir    Dir
	Time   time.Time
	Reason string
}

// Open starts a session for a new connection.
func (a *Analyzer) Open(c ConnInfo) *Session {
	a.nextID++
	s := &Session{
		ID:        a.nextID,
		Conn:      c,
		Kind:      KindUnknown,
		StartTime: c.Start,
		EndTime:   c.Start,
		a:         a,
	}
	for d := C2S; d <= S2C; d++ {
		s.half[d] = half{s: s, d: d, fr: newFramer(a.lim.MaxLine, c.SYN)}
	}
	a.link(s)
	return s
}

// link sets s.Parent when s follows a referral seen earlier.
func (a *Analyzer) link(s *Session) {
	server := s.Conn.Server
	if s.Conn.Target.IsValid() {
		server = s.Conn.Target
	}
	for i := len(a.pending) - 1; i >= 0; i-- {
		p := &a.pending[i]
		if p.claimed || p.to != server || p.client != s.Conn.Client.Addr() {
			continue
		}
		if p.from.StartTime.After(s.StartTime) || s.StartTime.Sub(p.t) > LinkWindow {
			continue
		}
		p.claimed = true
		p.from.linkSettled()
		s.Parent = p.from.ID
		p.from.Redirects[p.index].Session = s.ID
		return
	}
}

func (a *Analyzer) remember(p pendingRedirect) {
	if len(a.pending) >= 64 {
		// Forget the referrals followed already or too old to be followed
		// (LinkWindow), which would otherwise keep their sessions alive.
		kept := a.pending[:0]
		for _, q := range a.pending {
			switch {
			case q.claimed:
			case p.t.Sub(q.t) <= LinkWindow:
				kept = append(kept, q)
			default:
				q.from.linkSettled()
			}
		}
		clear(a.pending[len(kept):])
		a.pending = kept
	}
	if len(a.pending) >= maxRedirectMemory {
		for _, q := range a.pending[:len(a.pending)/2] {
			if !q.claimed {
				q.from.linkSettled()
			}
		}
		n := copy(a.pending, a.pending[len(a.pending)/2:])
		clear(a.pending[n:])
		a.pending = a.pending[:n]
	}
	p.from.awaiting++
	a.pending = append(a.pending, p)
}

// AwaitingLinks counts the referrals (XFR NS) and switchboard cookies (XFR
// SB, RNG) of s that no later connection has followed yet and that are
// still remembered for linking (see LinkWindow): while it is above zero, a
// connection opened later may still set Redirects[i].Session or
// Invitations[i].Session of s, even after s has ended.
func (s *Session) AwaitingLinks() int { return s.awaiting }

// LinksSettled counts, over all the sessions of s's Analyzer, the times
// one's AwaitingLinks went down. A receiver that holds ended sessions until
// their AwaitingLinks is 0 need look at them again only when it changed
// (or when LinkWindow has passed), not at every command.
func (s *Session) LinksSettled() uint64 { return s.a.settled }

// linkSettled records that a referral or cookie of s was followed or
// forgotten.
func (s *Session) linkSettled() {
	s.awaiting--
	s.a.settled++
}

// Feed gives the session the next bytes of direction d, which arrived at
// packet time t. b is only read during the call.
func (s *Session) Feed(d Dir, t time.Time, b []byte) {
	if s.Done || d > S2C {
		return
	}
	s.touch(t)
	s.Bytes[d] += int64(len(b))
	h := &s.half[d]
	h.fr.feed(h, t, b)
}

// Gap tells the session that n bytes of direction d were never captured;
// n 0 (or less) means an unknown number of them (reassembly.Stream.Gap).
// A gap of known size is a "gap" anomaly with its size and counts in Lost
// and Bytes; one of unknown size is a "gap_unknown_size" anomaly (its
// Bytes 0, as for anomalies without a byte count) and counts in
// UnknownGaps. Framing treats both alike: a gap of known size inside a
// payload is skipped by length, any other gap loses sync (see
// framer.gap).
func (s *Session) Gap(d Dir, t time.Time, n int) {
	if s.Done || d > S2C {
		return
	}
	s.touch(t)
	h := &s.half[d]
	if n <= 0 {
		n = 0
		s.UnknownGaps[d]++
		s.anomaly(Anomaly{Kind: "gap_unknown_size", Time: t, Dir: d, Offset: h.fr.off,
			Detail: "bytes never captured, how many is unknown; later offsets in this direction count only the bytes seen"})
	} else {
		s.Bytes[d] += int64(n)
		s.Lost[d] += int64(n)
		s.anomaly(Anomaly{Kind: "gap", Time: t, Dir: d, Offset: h.fr.off, Bytes: n, Detail: "bytes never captured"})
	}
	h.fr.gap(h, t, n)
}

// TimeJump records that the bytes of direction d fed next came in a packet
// whose time t lies ahead of the capture's clock by ahead (behind it, when
// negative), alone: a damaged timestamp, which the capture as a whole
// counts as timestamp_jump. The commands in those bytes keep the packet's
// time, as does the session's end when they are its last, so the anomaly
// says why a time looks wrong.
func (s *Session) TimeJump(d Dir, t time.Time, ahead time.Duration) {
	if s.Done || d > S2C {
		return
	}
	side := "after"
	if ahead < 0 {
		side, ahead = "before", -ahead
	}
	detail := "packet time lies " + longDuration(ahead) + " " + side + " the capture's clock, alone (taken for a damaged timestamp); the commands it carried keep it"
	s.anomaly(Anomaly{Kind: "jumped_timestamp", Time: t, Dir: d, Offset: s.half[d].fr.off, Detail: detail})
}

// longDuration writes d, at least an idle timeout long, in days or years
// first when it is that long: "75.3 years (660033h59m50s)".
func longDuration(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d >= 365*day:
		return strconv.FormatFloat(float64(d)/float64(365*day), 'f', 1, 64) + " years (" + d.String() + ")"
	case d >= 2*day:
		return strconv.FormatFloat(float64(d)/float64(day), 'f', 1, 64) + " days (" + d.String() + ")"
	}
	return d.String()
}

// Evict records that the session's connection is being ended early, at
// packet time t, to keep the number of open connections within the
// reassembly limit; End follows. For a session through the HTTP gateway
// (Conn.Transport "http-gateway") the connection is the TCP connection
// the session was using.
func (s *Session) Evict(t time.Time) {
	if s.Done {
		return
	}
	detail := "connection ended early: more connections open than the limit (--max-connections)"
	if s.Conn.Transport == "http-gateway" {
		detail = "HTTP connection of the gateway session ended early: more connections open than the limit (--max-connections)"
	}
	s.anomaly(Anomaly{Kind: "evicted_connection", Time: t, Detail: detail})
}

// EvictGatewaySession records that the session, carried through the HTTP
// gateway, is being ended early at packet time t to keep the number of
// gateway sessions open at once within the gateway's limit; End follows.
func (s *Session) EvictGatewaySession(t time.Time) {
	if s.Done {
		return
	}
	s.anomaly(Anomaly{Kind: "evicted_gateway_session", Time: t,
		Detail: "gateway session ended early: more HTTP-gateway sessions open than the limit"})
}

// End finishes the session at time t; closed says whether the connection
// was seen to close. Later calls do nothing.
func (s *Session) End(t time.Time, closed bool) {
	if s.Done {
		return
	}
	s.touch(t)
	for d := C2S; d <= S2C; d++ {
		h := &s.half[d]
		h.fr.end(h, t)
		if h.cur != nil {
			s.finish(h.cur)
			h.cur = nil
		}
	}
	s.endOrphans()
	s.closeChat(t)
	s.settleUnanswered()
	s.Closed = closed
	s.Done = true
	s.decideKind()
	s.release()
	s.a.h.SessionEnd(s)
}

// release drops the state only a live session needs (framing buffers,
// TrID matching, the requests' parameters), so that a report that keeps
// every ended session (-T json) holds only what it shows.
func (s *Session) release() {
	for d := range s.half {
		s.half[d].fr.partial = nil
		s.half[d].cur = nil
	}
	s.open = trids{}
	s.opByTrID = nil
	s.mlPending = nil
	for _, tx := range s.Transactions {
		tx.Args = nil
		tx.buf[0], tx.buf[1] = "", ""
	}
	if s.Chat != nil {
		s.Chat.byTrID = acks{}
		s.Chat.invites = nil
	}
}

func (s *Session) touch(t time.Time) {
	if t.After(s.EndTime) {
		s.EndTime = t
	}
	if s.StartTime.IsZero() || t.Before(s.StartTime) {
		s.StartTime = t
	}
}

// Groups returns the session's contact groups, in no particular order.
func (s *Session) Groups() []Group {
	out := make([]Group, 0, len(s.groups))
	for id, name := range s.groups {
		out = append(out, Group{ID: id, Name: name})
	}
	return out
}

func (s *Session) anomaly(a Anomaly) {
	if s.AnomalyCounts == nil {
		s.AnomalyCounts = map[string]int{}
	}
	s.AnomalyCounts[a.Kind]++
	if len(s.Anomalies) < maxAnomalies {
		s.Anomalies = append(s.Anomalies, a)
	}
	s.a.h.Anomaly(s, &a)
}

// quote returns at most maxQuote bytes of b as a string.
func quote(b []byte) string {
	if len(b) > maxQuote {
		b = b[:maxQuote]
	}
	return string(b)
}

// half is one direction of a session: its framer and the command waiting
// for its payload.
type half struct {
	s   *Session
	d   Dir
	fr  framer
	cur *Command
}

func (h *half) event(kind string, t time.Time, off int64, n int, detail string, q []byte) {
	h.s.anomaly(Anomaly{Kind: kind, Time: t, Dir: h.d, Offset: off, Bytes: n, Detail: detail, Line: quote(q)})
}

func (h *half) payload(b []byte) {
	c := h.cur
	if c == nil {
		return
	}
	if room := h.s.a.lim.RetainPayload - len(c.Payload); room > 0 {
		c.Payload = append(c.Payload, b[:min(room, len(b))]...)
	}
}

func (h *half) payloadEnd(t time.Time, lost int) {
	c := h.cur
	if c == nil {
		return
	}
	h.cur = nil
	c.PayloadLost = lost
	if lost > 0 {
		h.s.anomaly(Anomaly{Kind: "truncated_payload", Time: t, Dir: h.d, Offset: c.Offset, Bytes: lost,
			Detail: "payload bytes never captured", Line: quote([]byte(c.Verb))})
	}
	h.s.finish(c)
}

// line handles one complete line; see lineSink.
func (h *half) line(t time.Time, off int64, raw []byte, inSync bool) int {
	s := h.s
	body := raw[:len(raw)-1]
	bareLF := true
	if n := len(body); n > 0 && body[n-1] == '\r' {
		body, bareLF = body[:n-1], false
	}
	verb, params := splitLine(body, s.a.params)
	s.a.params = params[:0]
	if !inSync && !plausible(verb, params, h.d, bareLF) {
		return -2
	}
	if len(body) == 0 {
		s.anomaly(Anomaly{Kind: "empty_line", Time: t, Dir: h.d, Offset: off, Bytes: len(raw),
			Detail: "stray line end where a command should start (a payload length may be wrong)"})
		return -1
	}
	if !isVerbShape(verb) {
		s.anomaly(Anomaly{Kind: "unknown_verb", Time: t, Dir: h.d, Offset: off, Bytes: len(raw),
			Detail: "line does not start with a command", Line: quote(body)})
		return -1
	}
	sh := shapeOf(verb, params, h.d, s.Version.Number)
	c := s.a.newCommand()
	*c = Command{
		Session:    s.ID,
		Time:       t,
		Dir:        h.d,
		Offset:     off,
		Verb:       internVerb(verb, sh.spec),
		HasTrID:    sh.hasTrID,
		TrID:       sh.trid,
		ErrorCode:  sh.errCode,
		PayloadLen: -1,
		BareLF:     bareLF,
	}
	first := 0
	if sh.hasTrID {
		first = 1
	}
	if len(params) > first {
		// One string for all the arguments, each a substring of it:
		// splitLine cut body at single spaces, so argument k starts one
		// byte after the end of argument k-1.
		pos := len(verb) + 1
		for _, p := range params[:first] {
			pos += len(p) + 1
		}
		all := string(body[pos:])
		n := len(params) - first
		if n <= len(c.argBuf) {
			c.Args = c.argBuf[:n:n]
		} else {
			c.Args = make([]string, n)
		}
		at := 0
		for i, p := range params[first:] {
			c.Args[i] = all[at : at+len(p)]
			at += len(p) + 1
		}
	}
	if bareLF {
		s.anomaly(Anomaly{Kind: "bare_lf", Time: t, Dir: h.d, Offset: off, Detail: "line ends in LF without CR", Line: quote(body)})
	}
	switch {
	case sh.badLength:
		s.anomaly(Anomaly{Kind: "bad_length", Time: t, Dir: h.d, Offset: off,
			Detail: "payload length missing or not a decimal number", Line: quote(body)})
	case sh.payload > s.a.lim.MaxPayload:
		s.anomaly(Anomaly{Kind: "bad_length", Time: t, Dir: h.d, Offset: off, Bytes: sh.payload,
			Detail: "payload length above the limit; not honoured, resynchronising", Line: quote(body)})
		s.finish(c)
		return -3
	case sh.payload >= 0:
		c.PayloadLen = sh.payload
		// One allocation for the kept part of the payload, not one per
		// segment it arrives in.
		c.Payload = s.a.payloadBuf(min(sh.payload, s.a.lim.RetainPayload))
		h.cur = c
		return sh.payload
	}
	s.finish(c)
	return -1
}

// plausible reports whether a line read while resynchronising looks like a
// real command of direction d, so that framing can restart there.
func plausible(verb []byte, params [][]byte, d Dir, bareLF bool) bool {
	if bareLF || len(verb) != 3 {
		return false
	}
	if isDigits(verb) {
		return d == S2C && len(params) == 1 && isDigits(params[0])
	}
	v := lookupVerb(verb)
	if v == nil || !v.form(d).ok {
		return false
	}
	for _, p := range params {
		if len(p) == 0 {
			return false
		}
		for _, c := range p {
			if c < 0x21 || c == 0x7f {
				return false
			}
		}
	}
	return true
}

// internVerb returns the verb as a string without allocating for known
// verbs.
func internVerb(b []byte, spec *VerbSpec) string {
	if spec != nil {
		return spec.Verb
	}
	return string(b)
}
