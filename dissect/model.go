package dissect

import (
	"slices"
	"time"
)

// Kind is what an MSNP connection is used for.
type Kind string

// The session kinds (their spelling is the JSON's).
const (
	KindUnknown      Kind = "unknown"
	KindDispatch     Kind = "dispatch"
	KindNotification Kind = "notification"
	KindSwitchboard  Kind = "switchboard"
)

// Role is the part a command plays in the exchange.
type Role string

// The command roles.
const (
	// RoleRequest is a client command (with or without a TrID).
	RoleRequest Role = "request"
	// RoleReply is a server line carrying the TrID of a client command.
	RoleReply Role = "reply"
	// RoleError is an error reply ("911 7").
	RoleError Role = "error"
	// RoleServer is a server-initiated line: no TrID, TrID 0, or a TrID no
	// client command used.
	RoleServer Role = "server"
)

// Command is one MSNP command as parsed from the wire. A Command handed to
// a Handler is owned by the receiver: nothing in it is reused.
type Command struct {
	// Session is the ID of the session the command belongs to.
	Session int
	// Seq numbers the session's commands from 0 in wire order.
	Seq int
	// Time is the packet time of the command line's first byte.
	Time time.Time
	// Offset is the stream offset of the line's first byte in its
	// direction.
	Offset int64
	// Verb is spelled as on the wire: three letters, or the three digits of
	// an error code.
	Verb string
	// Dir is the direction the command was sent in. It sits next to
	// HasTrID so that the two share a word: a Command is 240 bytes, not
	// 248 (which the allocator rounds up to 256); see TestCommandSize.
	Dir Dir
	// HasTrID says whether TrID is set: the verb carries one in this
	// direction and version (msnp-grammar.md §1.1).
	HasTrID bool
	TrID    int64
	// Args are the raw parameters after the verb and the TrID, the payload
	// length included.
	Args []string
	// ErrorCode is the code of an error reply, else 0.
	ErrorCode int
	// Role says whether the command is a request, reply, error or
	// server-initiated.
	Role Role
	// PayloadLen is the announced payload length, -1 when the command has
	// no payload.
	PayloadLen int
	// Payload holds the first Limits.RetainPayload bytes of the payload.
	Payload []byte
	// PayloadLost counts payload bytes that were never captured.
	PayloadLost int
	// BareLF is set when the line ended in LF without CR.
	BareLF bool

	argBuf [4]string // Args' storage when there are at most four
}

// Clone returns a copy of c that shares nothing mutable with it: the
// Analyzer reuses a Command and its payload buffer once the Handler's
// Command call returns, so a receiver that keeps a command keeps a clone.
func (c *Command) Clone() *Command {
	x := new(Command)
	c.CloneInto(x)
	return x
}

// CloneInto makes dst what Clone returns, reusing dst's payload buffer: a
// receiver that copies every command (the NDJSON writer, on its own
// goroutine) recycles its copies instead of allocating one per line.
func (c *Command) CloneInto(dst *Command) {
	pay := dst.Payload[:0]
	*dst = *c
	switch {
	case c.Args == nil:
		dst.Args = nil
	case len(c.Args) <= len(dst.argBuf):
		dst.Args = dst.argBuf[:len(c.Args):len(c.Args)]
		copy(dst.Args, c.Args)
	default:
		dst.Args = slices.Clone(c.Args)
	}
	if c.Payload != nil {
		if pay == nil {
			pay = make([]byte, 0, len(c.Payload))
		}
		dst.Payload = append(pay, c.Payload...)
	}
}

// Line returns the command line as it was on the wire, without its line
// end.
func (c *Command) Line() string {
	n := len(c.Verb)
	for _, a := range c.Args {
		n += 1 + len(a)
	}
	if c.HasTrID {
		n += 11
	}
	b := make([]byte, 0, n)
	b = append(b, c.Verb...)
	if c.HasTrID {
		b = append(b, ' ')
		b = appendInt(b, c.TrID)
	}
	for _, a := range c.Args {
		b = append(b, ' ')
		b = append(b, a...)
	}
	return string(b)
}

func appendInt(b []byte, n int64) []byte {
	var tmp [20]byte
	i := len(tmp)
	if n == 0 {
		return append(b, '0')
	}
	for n > 0 {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, tmp[i:]...)
}

// Status is the outcome of a transaction or operation.
type Status string

// The statuses.
const (
	StatusOK      Status = "ok"
	StatusError   Status = "error"
	StatusPending Status = "pending"
	// StatusRedirected is an authentication answered by an XFR to another
	// server (a dispatch server's referral).
	StatusRedirected Status = "redirected"
)

// Transaction is a client command with a TrID and the server lines that
// carried that TrID back.
type Transaction struct {
	TrID int64
	Verb string
	Time time.Time
	// Args are the request's parameters.
	Args    []string
	Status  Status
	Replies int
	// ErrorCode is set when the reply was an error.
	ErrorCode int
	// Latency is from the request to its first reply; valid when
	// Replies > 0.
	Latency time.Duration
	// ReplyVerbs lists the distinct verbs of the replies in order.
	ReplyVerbs []string

	// buf holds Args when there are at most two (a MSG's "A 120"), then
	// the first of ReplyVerbs: one allocation per transaction.
	buf [3]string
}

// Negotiation is the version negotiation of a DS or NS connection
// (commands/ver.md).
type Negotiation struct {
	// Offered lists the dialects the client offered, CVR0 included.
	Offered []string
	// Selected is the dialect the server chose; empty when it refused or
	// when no reply was seen.
	Selected string
	// Refused is set when the server answered "VER t 0".
	Refused bool
	// Number is the protocol version the session's rules follow (2 to
	// 21), 0 when unknown.
	Number int
	// Source says where Number came from: "negotiated", or an inference.
	Source string
}

// Auth is the authentication of a session (commands/usr.md).
type Auth struct {
	// Method is the security package: MD5, CTP, TWN, SSO, SHA, or
	// "cookie" for a switchboard login.
	Method string
	User   string
	// Offered lists the packages the server offered with INF (MSNP2-7).
	Offered   []string
	Result    Status
	ErrorCode int
	TrID      int64
	// Policy is the SSO policy the server named (MBI_KEY_OLD, ...;
	// authschemes/sso.md).
	Policy string
	// ChallengeSeen and ResponseSeen say whether the server's challenge
	// (USR t pkg S ...) and the client's answer were captured; their values
	// are credentials and are not kept here.
	ChallengeSeen, ResponseSeen bool
}

// Redirect is an XFR reply sending the client to another server
// (commands/xfr.md).
type Redirect struct {
	TrID int64
	// Type is "NS" or "SB".
	Type string
	To   string
	// From is the server the referral was sent from (NS referrals since
	// MSNP7), empty when absent.
	From string
	// Cookie is the SB authentication cookie (a credential).
	Cookie string
	// Session is the ID of the session that followed the redirect, 0 when
	// none was captured.
	Session int
}

// GroupOp is a contact-group operation: ADG, REG, RMG, or ADD/REM with a
// group id (commands/adg.md, reg.md, rmg.md, add.md, rem.md).
type GroupOp struct {
	TrID    int64
	Op      string
	GroupID string
	Name    string
	Contact string
	List    string
	Status  Status
	// ErrorCode is set when Status is StatusError.
	ErrorCode int
}

// Group is one contact group.
type Group struct {
	ID   string
	Name string
}

// ErrorReply is an error line and the command it answered.
type ErrorReply struct {
	TrID int64
	Code int
	Name string
	// Verb is the verb of the command with that TrID, empty when unknown.
	Verb string
	Time time.Time
}

// Anomaly is something in the traffic that breaks the protocol's rules
// or the capture's integrity. It is reported, never fatal.
type Anomaly struct {
	Kind   string
	Time   time.Time
	Dir    Dir
	Offset int64
	// Bytes is the number of bytes concerned (lost, skipped), 0 if none.
	Bytes  int
	Detail string
	// Line quotes at most 80 bytes of the offending input.
	Line string
}

// maxQuote bounds the input quoted in an anomaly (conventions.md).
const maxQuote = 80
