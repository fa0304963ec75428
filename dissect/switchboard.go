package dissect

import (
	"cmp"
	"iter"
	"time"
)

// Chat is what a switchboard session carried: who was there and what was
// said (commands/msg.md, cal.md, ans.md, iro.md, joi.md, bye.md).
type Chat struct {
	// SessionID is the switchboard's session id (CAL's RINGING reply, or
	// ANS and RNG on the invited side), empty when not seen.
	SessionID    string
	Participants []*Participant
	// Invited lists the handles the client called (CAL), in order.
	Invited []string
	// UnlistedMessages counts messages beyond maxChatMessages.
	UnlistedMessages int

	// log holds the messages listed (see Messages).
	log msgLog
	// byTrID has the offset in log of each message the client sent and
	// that awaits an ACK or NAK, or -1 for one beyond maxChatMessages.
	byTrID  acks
	invites map[string]*Invite // INVITEs by Invitation-Cookie
	// last is the participant participant returned last: most MSGs come
	// from the same one or two users. lastKey holds a copy of its User
	// when it fits (lastLen, else -1), so that checking an incoming
	// handle against it reads this struct rather than the bytes of
	// last.User, another allocation, seldom in the cache.
	last    *Participant
	lastLen int8
	lastKey [47]byte
	// typing holds the TypingUser value kept last in each direction: a
	// user sends the same one again and again, and a typing notification
	// that repeats it allocates no string for it.
	typing [2]string
}

// Participant is one user present in a switchboard.
type Participant struct {
	User     string
	Friendly string
	// Joined is when the user was seen to be present: JOI, IRO (already
	// there), or the session's own login.
	Joined time.Time
	// Left is when the user left (zero while present); How says how:
	// "bye", "timeout" (BYE handle 1), "out" (the client's own OUT) or
	// "closed" (the connection ended without OUT).
	Left time.Time
	How  string
	// Self marks the session's own user.
	Self bool
}

// Message is one MSG in a switchboard.
type Message struct {
	Time time.Time
	Dir  Dir
	From string
	// TrID and Ack are set for messages the client sent (MSG t ack len).
	TrID int64
	Ack  string
	// Acked is nil until an ACK (true) or NAK (false) answers the message.
	// It points to a value shared by all messages: never write through it.
	Acked *bool
	// Type is text, typing, invite, nudge, wink, emoticon, ink, p2p or
	// other.
	Type        string
	ContentType string
	// Text is the body of a text/plain message.
	Text string
	// Format is the X-MMS-IM-Format header (font, effects, colour).
	Format string
	// TypingUser is the user of a typing notification.
	TypingUser string
	Invite     *Invite
	P2P        *P2PHeader
	// Size is the payload length.
	Size int
}

// delivered and notDelivered are what Message.Acked points to: one bool
// each for all messages, not one allocation per ACK.
var delivered, notDelivered = true, false

// Invite is a text/x-msmsgsinvite message: an invitation to a file
// transfer or another application, or the answer to one.
type Invite struct {
	Command     string // INVITE, ACCEPT, CANCEL
	Cookie      string
	Application string
	AppGUID     string
	File        string
	FileSize    string
	CancelCode  string
}

// maxChatMessages bounds the messages a switchboard session lists; a busy
// chat of a day has a few thousand.
const maxChatMessages = 20000

// maxParticipants bounds the participants of one switchboard; the service
// allowed a handful in a multi-party chat.
const maxParticipants = 256

func (s *Session) chat() *Chat {
	if s.Chat == nil {
		s.Chat = &Chat{}
	}
	return s.Chat
}

// participant returns the participant entry for user, adding it. A user
// has at most one entry still present (Left zero): one is added only when
// none is found, and leave and closeChat end every present one of a user.
func (ch *Chat) participant(user string) *Participant {
	if p := ch.last; p != nil && ch.isLast(user) && p.Left.IsZero() {
		return p
	}
	for i := len(ch.Participants) - 1; i >= 0; i-- {
		if p := ch.Participants[i]; p.User == user && p.Left.IsZero() {
			ch.setLast(p)
			return p
		}
	}
	if len(ch.Participants) >= maxParticipants {
		return &Participant{User: user}
	}
	p := &Participant{User: user}
	ch.Participants = append(ch.Participants, p)
	ch.setLast(p)
	return p
}

// isLast reports whether user is ch.last's User; ch.last is not nil.
func (ch *Chat) isLast(user string) bool {
	if ch.lastLen < 0 {
		return ch.last.User == user
	}
	return len(user) == int(ch.lastLen) && string(ch.lastKey[:len(user)]) == user
}

func (ch *Chat) setLast(p *Participant) {
	ch.last = p
	ch.lastLen = -1
	if len(p.User) <= len(ch.lastKey) {
		ch.lastLen = int8(copy(ch.lastKey[:], p.User))
	}
}

// join records user as present, and returns the participant's own copy
// of user ("" for "").
func (s *Session) join(user, friendly string, t time.Time, self bool) string {
	if user == "" {
		return ""
	}
	p := s.chat().participant(user)
	if p.Joined.IsZero() {
		p.Joined = t
	}
	if friendly != "" {
		p.Friendly = friendly
	}
	p.Self = p.Self || self
	return p.User
}

func (s *Session) leave(user string, t time.Time, how string) {
	if s.Chat == nil {
		return
	}
	for _, p := range s.Chat.Participants {
		if p.User == user && p.Left.IsZero() {
			p.Left, p.How = t, how
		}
	}
}

// closeChat marks everyone still present as gone when the connection ends.
func (s *Session) closeChat(t time.Time) {
	if s.Chat == nil {
		return
	}
	for _, p := range s.Chat.Participants {
		if p.Left.IsZero() {
			p.Left, p.How = t, "closed"
		}
	}
}

// sbRequest handles the client's switchboard commands.
func (s *Session) sbRequest(c *Command) {
	switch c.Verb {
	case "USR":
		s.useCookie(arg(c, 1))
	case "ANS":
		s.chat().SessionID = arg(c, 2)
		s.useCookie(arg(c, 1))
	case "CAL":
		ch := s.chat()
		ch.Invited = append(ch.Invited, arg(c, 0))
	case "MSG":
		s.message(c, s.user(), "")
	case "OUT":
		s.leave(s.user(), c.Time, "out")
	}
}

// sbServer handles the server's switchboard lines.
func (s *Session) sbServer(c *Command, tx *Transaction) {
	switch c.Verb {
	case "USR":
		if arg(c, 0) == "OK" && s.Auth != nil && s.Auth.Method == "cookie" {
			s.join(arg(c, 1), Unescape(arg(c, 2)), c.Time, true)
		}
	case "ANS":
		if arg(c, 0) == "OK" && s.Auth != nil {
			s.join(s.Auth.User, "", c.Time, true)
		}
	case "CAL":
		// CAL t RINGING sessid (commands/cal.md).
		if arg(c, 0) == "RINGING" {
			s.chat().SessionID = arg(c, 1)
		}
	case "IRO":
		// IRO t idx total handle friendly {caps} (commands/iro.md).
		s.join(arg(c, 2), Unescape(arg(c, 3)), c.Time, false)
	case "JOI":
		s.join(arg(c, 0), Unescape(arg(c, 1)), c.Time, false)
	case "BYE":
		how := "bye"
		if arg(c, 1) == "1" {
			how = "timeout"
		}
		s.leave(arg(c, 0), c.Time, how)
	case "MSG":
		s.message(c, arg(c, 0), Unescape(arg(c, 1)))
	case "ACK", "NAK":
		ch := s.chat()
		if !c.HasTrID {
			break
		}
		if off, ok := ch.byTrID.take(c.TrID); ok {
			ch.setAcked(off, c.Verb == "ACK")
		}
	}
	if c.ErrorCode > 0 && s.Chat != nil {
		if off, ok := s.Chat.byTrID.take(c.TrID); ok {
			s.Chat.setAcked(off, false)
		}
	}
}

// user returns the session's own user, as far as known.
func (s *Session) user() string {
	if s.Auth != nil {
		return s.Auth.User
	}
	return ""
}

// ackTypes are the acknowledgement types of a client's MSG
// (commands/msg.md).
var ackTypes = [...]string{"A", "D", "N", "S", "U"}

// message records a MSG of a switchboard.
func (s *Session) message(c *Command, from, friendly string) {
	ch := s.chat()
	if from != "" && c.Dir == S2C {
		// The participant's copy, the same string at each message, which
		// the chat's log then finds by its pointer (appendRef).
		from = s.join(from, friendly, c.Time, false)
	}
	m := &s.a.msg
	*m = Message{Time: c.Time, Dir: c.Dir, From: from, Size: max(c.PayloadLen, 0), Type: "other"}
	awaitsAck := false
	if c.Dir == C2S {
		m.TrID, m.Ack = c.TrID, arg(c, 0)
		// A known acknowledgement type is taken as a constant, for the
		// same reason.
		for _, a := range ackTypes {
			if m.Ack == a {
				m.Ack = a
				break
			}
		}
		switch m.Ack {
		case "A", "D", "N", "S":
			awaitsAck = c.HasTrID
		}
	}
	text := classify(m, c.Payload, ch, &s.a.formats)
	if in := m.Invite; in != nil && in.Cookie != "" {
		// An ACCEPT or CANCEL names only the cookie: take the application
		// and file from the INVITE it answers.
		if in.Command == "INVITE" {
			if ch.invites == nil {
				ch.invites = map[string]*Invite{}
			}
			if len(ch.invites) < maxParticipants*16 {
				ch.invites[in.Cookie] = in
			}
		} else if orig := ch.invites[in.Cookie]; orig != nil {
			in.Application = cmp.Or(in.Application, orig.Application)
			in.AppGUID = cmp.Or(in.AppGUID, orig.AppGUID)
			in.File = cmp.Or(in.File, orig.File)
			in.FileSize = cmp.Or(in.FileSize, orig.FileSize)
		}
	}
	off := -1
	if ch.log.n < maxChatMessages {
		off = logAdd(&ch.log, m, text)
	} else {
		ch.UnlistedMessages++
	}
	if awaitsAck {
		ch.byTrID.put(c.TrID, off)
	}
}

// Messages returns the messages listed, in the order seen, decoded one at
// a time into the same Message: the loop body must copy what it keeps
// (*m). The decoded Invite and P2P are the body's own.
func (ch *Chat) Messages() iter.Seq[*Message] { return ch.log.all(true) }

// MessageHeads is Messages without the text, invitation and P2P header of
// each message, and allocates nothing.
func (ch *Chat) MessageHeads() iter.Seq[*Message] { return ch.log.all(false) }

// MessageTypes counts the messages listed by Type, in the order each type
// was first listed. The slice is the chat's own: read it, do not keep it.
func (ch *Chat) MessageTypes() []TypeCount { return ch.log.counts() }

// NumMessages returns the number of messages listed.
func (ch *Chat) NumMessages() int { return ch.log.n }

// AddMessage lists m, a copy of it, after the messages already listed.
// The dissector lists a switchboard's messages itself; AddMessage is for
// building chats by hand.
func (ch *Chat) AddMessage(m *Message) { logAdd(&ch.log, m, m.Text) }

// setAcked records an ACK (ok) or NAK for the message at off in the log;
// off is -1 for a message not listed.
func (ch *Chat) setAcked(off int, ok bool) {
	if off >= 0 {
		ch.log.setAcked(off, ok)
	}
}

// maxText bounds the message text kept.
const maxText = 4096

// classifyHeaders are the MIME headers classify reads; see classify.
var classifyHeaders = [...]string{"Content-Type", "X-MMS-IM-Format", "TypingUser"}

// classify reads a MSG payload's MIME headers to decide the message type.
// ch, when not nil, is the chat of the message, whose last header values
// are reused when equal; formats, when not nil, shares the formats. The
// text of a text/plain message is returned, a view of the payload, rather
// than set in m.Text: the chat's log copies it.
func classify(m *Message, payload []byte, ch *Chat, formats *internCache) (text []byte) {
	// The header values are views of the payload; what the message keeps
	// is copied, so that the payload is not kept with it.
	var hv [len(classifyHeaders)][]byte
	body, ok := mimeSlice(payload, classifyHeaders[:], hv[:])
	if !ok {
		return
	}
	m.ContentType = internContentType(hv[0])
	var lastTyping *string
	if ch != nil && m.Dir <= S2C {
		lastTyping = &ch.typing[m.Dir]
	}
	switch mediaType(m.ContentType) {
	case "text/plain":
		m.Type = "text"
		text = body[:min(len(body), maxText)]
		m.Format = formats.get(hv[1])
	case "text/x-msmsgscontrol":
		m.Type = "typing"
		if m.From != "" && m.From == string(hv[2]) {
			// The usual case, compared with a string in cache rather
			// than with the chat's last value, which seldom is.
			m.TypingUser = m.From
		} else {
			m.TypingUser = reuse(lastTyping, hv[2])
		}
	case "text/x-msmsgsinvite":
		m.Type = "invite"
		bh := ParseHeaders(body)
		m.Invite = &Invite{
			Command:     HeaderValue(bh, "Invitation-Command"),
			Cookie:      HeaderValue(bh, "Invitation-Cookie"),
			Application: HeaderValue(bh, "Application-Name"),
			AppGUID:     HeaderValue(bh, "Application-GUID"),
			File:        HeaderValue(bh, "Application-File"),
			FileSize:    HeaderValue(bh, "Application-FileSize"),
			CancelCode:  HeaderValue(bh, "Cancel-Code"),
		}
	case "text/x-msnmsgr-datacast":
		// ID: 1 nudge, 2 wink, 3 voice clip, 4 action message.
		bh := ParseHeaders(body)
		switch HeaderValue(bh, "ID") {
		case "1":
			m.Type = "nudge"
		case "2":
			m.Type = "wink"
		}
	case "text/x-mms-emoticon", "text/x-mms-animemoticon":
		m.Type = "emoticon"
	case "application/x-ms-ink", "image/gif":
		m.Type = "ink"
	case "application/x-msnmsgrp2p":
		m.Type = "p2p"
		if h, ok := ParseP2P(body); ok {
			m.P2P = &h
		}
	}
	return text
}

// internCache keeps recent header values that many messages of every
// chat repeat (X-MMS-IM-Format: clients send one of a few fonts), so that
// the messages share one string, compared against memory that stays in
// cache. It is a small direct-mapped table; a value that loses its slot is
// merely copied again. The zero value is ready; a nil one copies.
type internCache [64]string

func (c *internCache) get(b []byte) string {
	if c == nil {
		return string(b)
	}
	if len(b) == 0 {
		return ""
	}
	h := (uint(len(b))*31 + uint(b[len(b)/2])*7 + uint(b[len(b)-1])) % uint(len(c))
	if c[h] != string(b) {
		c[h] = string(b)
	}
	return c[h]
}

// reuse returns *last when it equals b, else a copy of b, which it keeps
// in *last. last may be nil; then it returns a copy.
func reuse(last *string, b []byte) string {
	if last == nil {
		return string(b)
	}
	if *last != string(b) {
		*last = string(b)
	}
	return *last
}

// commonContentTypes are the Content-Type values of nearly every MSG,
// kept once rather than per message.
var commonContentTypes = []string{
	"text/plain; charset=UTF-8",
	"text/x-msmsgscontrol",
	"text/x-msmsgsinvite; charset=UTF-8",
	"application/x-msnmsgrp2p",
	"text/x-msnmsgr-datacast",
	"text/x-mms-emoticon",
	"text/x-mms-animemoticon",
	"text/x-msmsgsprofile; charset=UTF-8",
	"text/x-msmsgsinitialemailnotification; charset=UTF-8",
	"text/x-msmsgsemailnotification; charset=UTF-8",
	"text/x-msmsgsactivemailnotification; charset=UTF-8",
	"text/x-msmsgssystemmessage; charset=UTF-8",
	"text/x-msmsgsinitialmdatanotification; charset=UTF-8",
}

// internContentType returns ct as one of commonContentTypes when it is
// one, else a copy of it.
func internContentType(ct []byte) string {
	for _, c := range commonContentTypes {
		if c == string(ct) {
			return c
		}
	}
	return string(ct)
}
