package report

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/msnsniff/msnsniff/dissect"
)

// This file holds hand-written JSON appenders for the report model
// (model.go) and the NDJSON records (ndjson.go). Each appendX(dst, v)
// appends to dst exactly the bytes json.Encoder with SetEscapeHTML(false)
// writes for *v, less the Encoder's trailing newline, and returns the
// extended slice; append_test.go checks this against encoding/json on
// every shipped transcript, on random values of every type and by
// fuzzing. They use no reflection and allocate only to grow dst, so the
// NDJSON writer can reuse one buffer for every line.
//
// When a field is added to a model type, its appender here must be
// extended in the same change (TestAppendRandomValues fails until it is).
//
// The indented document (-T json) is these bytes put through appendIndent,
// which writes what json.Indent writes and so what an Encoder with
// SetIndent(prefix, "  ") writes: the Encoder marshals compactly, then
// indents.

// jsonSafe says which ASCII bytes encoding/json writes unescaped inside a
// string when HTML escaping is off: printable ASCII and DEL, less the
// quote and the backslash.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendString appends src as a JSON string the way encoding/json does
// with HTML escaping off: control bytes as \b, \f, \n, \r, \t or \u00XX,
// each byte of an invalid UTF-8 sequence as \ufffd, and U+2028 and U+2029
// as \u2028 and \u2029 (encoding/json escapes those two unconditionally).
func appendString[S []byte | string](dst []byte, src S) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(src); {
		b := src[i]
		if b < utf8.RuneSelf {
			if jsonSafe[b] {
				i++
				continue
			}
			dst = append(dst, src[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		// Converting at most utf8.UTFMax bytes to a string does not
		// allocate (the same trick as encoding/json's).
		n := min(len(src)-i, utf8.UTFMax)
		c, size := utf8.DecodeRuneInString(string(src[i : i+n]))
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, src[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, src[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, src[start:]...)
	return append(dst, '"')
}

// appendTime appends t as Time.MarshalJSON writes it (TimeFormat in UTC:
// fraction truncated to microseconds, zone "Z"), without allocating. Years
// 0 to 9999 are written digit by digit, a few times faster than
// AppendFormat; others go through AppendFormat.
func appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		dst = append(dst, '"')
		dst = t.AppendFormat(dst, TimeFormat)
		return append(dst, '"')
	}
	hour, minute, sec := t.Clock()
	us := t.Nanosecond() / 1000
	return append(dst, '"',
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.',
		byte('0'+us/100000), byte('0'+us/10000%10), byte('0'+us/1000%10),
		byte('0'+us/100%10), byte('0'+us/10%10), byte('0'+us%10), 'Z', '"')
}

func appendTimePtr(dst []byte, t *Time) []byte {
	if t == nil {
		return append(dst, "null"...)
	}
	return appendTime(dst, t.Time)
}

func appendInt(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }

func appendUint(dst []byte, n uint64) []byte { return strconv.AppendUint(dst, n, 10) }

func appendBool(dst []byte, v bool) []byte { return strconv.AppendBool(dst, v) }

func appendIntPtr(dst []byte, n *int) []byte {
	if n == nil {
		return append(dst, "null"...)
	}
	return appendInt(dst, int64(*n))
}

func appendInt64Ptr(dst []byte, n *int64) []byte {
	if n == nil {
		return append(dst, "null"...)
	}
	return appendInt(dst, *n)
}

func appendBoolPtr(dst []byte, v *bool) []byte {
	if v == nil {
		return append(dst, "null"...)
	}
	return appendBool(dst, *v)
}

func appendStringPtr(dst []byte, s *string) []byte {
	if s == nil {
		return append(dst, "null"...)
	}
	return appendString(dst, *s)
}

// appendStrings appends a []string: null when nil, [] when empty.
func appendStrings(dst []byte, ss []string) []byte {
	if ss == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, s)
	}
	return append(dst, ']')
}

func appendInts(dst []byte, ns []int) []byte {
	if ns == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i, n := range ns {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendInt(dst, int64(n))
	}
	return append(dst, ']')
}

// appendSlice appends a slice of structs with f: null when nil, [] when
// empty.
func appendSlice[T any](dst []byte, s []T, f func([]byte, *T) []byte) []byte {
	if s == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i := range s {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = f(dst, &s[i])
	}
	return append(dst, ']')
}

// appendPtr appends *v with f, or null.
func appendPtr[T any](dst []byte, v *T, f func([]byte, *T) []byte) []byte {
	if v == nil {
		return append(dst, "null"...)
	}
	return f(dst, v)
}

// appendReport appends a whole Report (the -T json document, compact).
func appendReport(dst []byte, r *Report) []byte {
	dst = append(dst, `{"schema_version":`...)
	dst = appendInt(dst, int64(r.SchemaVersion))
	dst = append(dst, `,"capture":`...)
	dst = appendCapture(dst, &r.Capture)
	dst = append(dst, `,"sessions":`...)
	dst = appendSlice(dst, r.Sessions, appendSession)
	dst = append(dst, `,"conversations":`...)
	dst = appendSlice(dst, r.Conversations, appendConversation)
	dst = append(dst, `,"users":`...)
	dst = appendSlice(dst, r.Users, appendUser)
	return append(dst, '}')
}

// appendCapture appends a Capture.
func appendCapture(dst []byte, c *Capture) []byte {
	dst = append(dst, '{')
	dst = appendCaptureFields(dst, c)
	return append(dst, '}')
}

// appendCaptureFields appends the members of a Capture without braces,
// for SummaryRecord, which embeds it.
func appendCaptureFields(dst []byte, c *Capture) []byte {
	dst = append(dst, `"files":`...)
	dst = appendSlice(dst, c.Files, appendFile)
	dst = append(dst, `,"packets":`...)
	dst = appendInt(dst, c.Packets)
	dst = append(dst, `,"bytes":`...)
	dst = appendInt(dst, c.Bytes)
	dst = append(dst, `,"first":`...)
	dst = appendTimePtr(dst, c.First)
	dst = append(dst, `,"last":`...)
	dst = appendTimePtr(dst, c.Last)
	dst = append(dst, `,"connections":`...)
	dst = appendInt(dst, int64(c.Connections))
	dst = append(dst, `,"skipped":`...)
	dst = appendSlice(dst, c.Skipped, appendCount)
	dst = append(dst, `,"anomalies":`...)
	dst = appendSlice(dst, c.Anomalies, appendCount)
	dst = append(dst, `,"errors":`...)
	dst = appendStrings(dst, c.Errors)
	dst = append(dst, `,"live":`...)
	dst = appendPtr(dst, c.Live, appendLive)
	dst = append(dst, `,"gateway":`...)
	return appendSlice(dst, c.Gateway, appendCount)
}

func appendLive(dst []byte, l *Live) []byte {
	dst = append(dst, `{"interface":`...)
	dst = appendString(dst, l.Interface)
	dst = append(dst, `,"received":`...)
	dst = appendInt(dst, l.Received)
	dst = append(dst, `,"dropped":`...)
	dst = appendInt(dst, l.Dropped)
	return append(dst, '}')
}

func appendCount(dst []byte, c *Count) []byte {
	dst = append(dst, `{"name":`...)
	dst = appendString(dst, c.Name)
	dst = append(dst, `,"count":`...)
	dst = appendInt(dst, c.Count)
	return append(dst, '}')
}

func appendFile(dst []byte, f *File) []byte {
	dst = append(dst, `{"name":`...)
	dst = appendString(dst, f.Name)
	dst = append(dst, `,"format":`...)
	dst = appendString(dst, f.Format)
	dst = append(dst, `,"link_type":`...)
	dst = appendString(dst, f.LinkType)
	dst = append(dst, `,"packets":`...)
	dst = appendInt(dst, f.Packets)
	dst = append(dst, `,"bytes":`...)
	dst = appendInt(dst, f.Bytes)
	dst = append(dst, `,"complete":`...)
	dst = appendBool(dst, f.Complete)
	return append(dst, '}')
}

func appendDirCount(dst []byte, d *DirCount) []byte {
	dst = append(dst, `{"c2s":`...)
	dst = appendInt(dst, d.C2S)
	dst = append(dst, `,"s2c":`...)
	dst = appendInt(dst, d.S2C)
	return append(dst, '}')
}

// appendSession appends a Session.
func appendSession(dst []byte, s *Session) []byte {
	dst = append(dst, '{')
	dst = appendSessionFields(dst, s)
	return append(dst, '}')
}

// appendSessionFields appends the members of a Session without braces,
// for SessionRecord, which embeds it.
func appendSessionFields(dst []byte, s *Session) []byte {
	dst = append(dst, `"id":`...)
	dst = appendInt(dst, int64(s.ID))
	dst = append(dst, `,"kind":`...)
	dst = appendString(dst, s.Kind)
	dst = append(dst, `,"kind_evidence":`...)
	dst = appendString(dst, s.KindEvidence)
	dst = append(dst, `,"client":`...)
	dst = appendString(dst, s.Client)
	dst = append(dst, `,"server":`...)
	dst = appendString(dst, s.Server)
	dst = append(dst, `,"start":`...)
	dst = appendTime(dst, s.Start.Time)
	dst = append(dst, `,"end":`...)
	dst = appendTime(dst, s.End.Time)
	dst = append(dst, `,"closed":`...)
	dst = appendBool(dst, s.Closed)
	dst = append(dst, `,"partial":`...)
	dst = appendBool(dst, s.Partial)
	dst = append(dst, `,"detected_by":`...)
	dst = appendString(dst, s.DetectedBy)
	dst = append(dst, `,"transport":`...)
	dst = appendString(dst, s.Transport)
	dst = append(dst, `,"http_connections":`...)
	dst = appendStrings(dst, s.HTTPConnections)
	dst = append(dst, `,"empty_polls":`...)
	dst = appendInt(dst, int64(s.EmptyPolls))
	dst = append(dst, `,"user":`...)
	dst = appendString(dst, s.User)
	dst = append(dst, `,"parent":`...)
	dst = appendIntPtr(dst, s.Parent)
	dst = append(dst, `,"link_note":`...)
	dst = appendString(dst, s.LinkNote)
	dst = append(dst, `,"cookie_ref":`...)
	dst = appendStringPtr(dst, s.CookieRef)
	dst = append(dst, `,"version":`...)
	dst = appendVersion(dst, &s.Version)
	dst = append(dst, `,"auth":`...)
	dst = appendPtr(dst, s.Auth, appendAuth)
	dst = append(dst, `,"redirects":`...)
	dst = appendSlice(dst, s.Redirects, appendRedirect)
	dst = append(dst, `,"transactions":`...)
	dst = appendSlice(dst, s.Transactions, appendTransaction)
	dst = append(dst, `,"group_ops":`...)
	dst = appendSlice(dst, s.GroupOps, appendGroupOp)
	dst = append(dst, `,"groups":`...)
	dst = appendSlice(dst, s.Groups, appendGroup)
	dst = append(dst, `,"errors":`...)
	dst = appendSlice(dst, s.Errors, appendError)
	dst = append(dst, `,"anomalies":`...)
	dst = appendSlice(dst, s.Anomalies, appendAnomaly)
	dst = append(dst, `,"out":`...)
	dst = appendPtr(dst, s.Out, appendOut)
	dst = append(dst, `,"invitations":`...)
	dst = appendSlice(dst, s.Invitations, appendInvitation)
	dst = append(dst, `,"chat":`...)
	dst = appendPtr(dst, s.Chat, appendChat)
	dst = append(dst, `,"contacts":`...)
	dst = appendPtr(dst, s.Contacts, appendContacts)
	dst = append(dst, `,"presence":`...)
	dst = appendPtr(dst, s.Presence, appendPresence)
	dst = append(dst, `,"commands":`...)
	dst = appendDirCount(dst, &s.Commands)
	dst = append(dst, `,"bytes":`...)
	dst = appendDirCount(dst, &s.Bytes)
	dst = append(dst, `,"lost_bytes":`...)
	dst = appendInt(dst, s.LostBytes)
	dst = append(dst, `,"unmatched_replies":`...)
	dst = appendInt(dst, int64(s.UnmatchedReplies))
	dst = append(dst, `,"evicted_pending":`...)
	dst = appendInt(dst, int64(s.EvictedPending))
	dst = append(dst, `,"unlisted_transactions":`...)
	return appendInt(dst, int64(s.UnlistedTransactions))
}

func appendVersion(dst []byte, v *Version) []byte {
	dst = append(dst, `{"offered":`...)
	dst = appendStrings(dst, v.Offered)
	dst = append(dst, `,"selected":`...)
	dst = appendStringPtr(dst, v.Selected)
	dst = append(dst, `,"refused":`...)
	dst = appendBool(dst, v.Refused)
	dst = append(dst, `,"rules":`...)
	dst = appendStringPtr(dst, v.Rules)
	dst = append(dst, `,"rules_source":`...)
	dst = appendString(dst, v.RulesSource)
	return append(dst, '}')
}

func appendAuth(dst []byte, a *Auth) []byte {
	dst = append(dst, `{"method":`...)
	dst = appendString(dst, a.Method)
	dst = append(dst, `,"user":`...)
	dst = appendString(dst, a.User)
	dst = append(dst, `,"result":`...)
	dst = appendString(dst, a.Result)
	dst = append(dst, `,"error_code":`...)
	dst = appendIntPtr(dst, a.ErrorCode)
	dst = append(dst, `,"offered":`...)
	dst = appendStrings(dst, a.Offered)
	dst = append(dst, `,"policy":`...)
	dst = appendString(dst, a.Policy)
	dst = append(dst, `,"challenge_seen":`...)
	dst = appendBool(dst, a.ChallengeSeen)
	dst = append(dst, `,"response_seen":`...)
	dst = appendBool(dst, a.ResponseSeen)
	return append(dst, '}')
}

func appendRedirect(dst []byte, r *Redirect) []byte {
	dst = append(dst, `{"trid":`...)
	dst = appendInt(dst, r.TrID)
	dst = append(dst, `,"type":`...)
	dst = appendString(dst, r.Type)
	dst = append(dst, `,"to":`...)
	dst = appendString(dst, r.To)
	dst = append(dst, `,"from":`...)
	dst = appendStringPtr(dst, r.From)
	dst = append(dst, `,"session":`...)
	dst = appendIntPtr(dst, r.Session)
	return append(dst, '}')
}

func appendTransaction(dst []byte, t *Transaction) []byte {
	dst = append(dst, `{"trid":`...)
	dst = appendInt(dst, t.TrID)
	dst = append(dst, `,"verb":`...)
	dst = appendString(dst, t.Verb)
	dst = append(dst, `,"time":`...)
	dst = appendTime(dst, t.Time.Time)
	dst = append(dst, `,"status":`...)
	dst = appendString(dst, t.Status)
	dst = append(dst, `,"error_code":`...)
	dst = appendIntPtr(dst, t.ErrorCode)
	dst = append(dst, `,"replies":`...)
	dst = appendInt(dst, int64(t.Replies))
	dst = append(dst, `,"reply_verbs":`...)
	dst = appendStrings(dst, t.ReplyVerbs)
	dst = append(dst, `,"latency_us":`...)
	dst = appendInt64Ptr(dst, t.LatencyUS)
	return append(dst, '}')
}

func appendGroupOp(dst []byte, g *GroupOp) []byte {
	dst = append(dst, `{"trid":`...)
	dst = appendInt(dst, g.TrID)
	dst = append(dst, `,"op":`...)
	dst = appendString(dst, g.Op)
	dst = append(dst, `,"group_id":`...)
	dst = appendStringPtr(dst, g.GroupID)
	dst = append(dst, `,"name":`...)
	dst = appendStringPtr(dst, g.Name)
	dst = append(dst, `,"contact":`...)
	dst = appendStringPtr(dst, g.Contact)
	dst = append(dst, `,"status":`...)
	dst = appendString(dst, g.Status)
	dst = append(dst, `,"error_code":`...)
	dst = appendIntPtr(dst, g.ErrorCode)
	return append(dst, '}')
}

func appendGroup(dst []byte, g *Group) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, g.ID)
	dst = append(dst, `,"name":`...)
	dst = appendString(dst, g.Name)
	return append(dst, '}')
}

func appendError(dst []byte, e *Error) []byte {
	dst = append(dst, `{"trid":`...)
	dst = appendInt(dst, e.TrID)
	dst = append(dst, `,"code":`...)
	dst = appendInt(dst, int64(e.Code))
	dst = append(dst, `,"name":`...)
	dst = appendString(dst, e.Name)
	dst = append(dst, `,"verb":`...)
	dst = appendString(dst, e.Verb)
	dst = append(dst, `,"time":`...)
	dst = appendTime(dst, e.Time.Time)
	return append(dst, '}')
}

// appendAnomaly appends an Anomaly.
func appendAnomaly(dst []byte, a *Anomaly) []byte {
	dst = append(dst, '{')
	dst = appendAnomalyFields(dst, a)
	return append(dst, '}')
}

// appendAnomalyFields appends the members of an Anomaly without braces,
// for AnomalyRecord, which embeds it.
func appendAnomalyFields(dst []byte, a *Anomaly) []byte {
	dst = append(dst, `"kind":`...)
	dst = appendString(dst, a.Kind)
	dst = append(dst, `,"time":`...)
	dst = appendTime(dst, a.Time.Time)
	dst = append(dst, `,"dir":`...)
	dst = appendString(dst, a.Dir)
	dst = append(dst, `,"offset":`...)
	dst = appendInt(dst, a.Offset)
	dst = append(dst, `,"bytes":`...)
	dst = appendInt(dst, int64(a.Bytes))
	dst = append(dst, `,"line":`...)
	dst = appendString(dst, a.Line)
	if a.LineBase64 != nil {
		dst = append(dst, `,"line_base64":`...)
		dst = appendString(dst, *a.LineBase64)
	}
	dst = append(dst, `,"detail":`...)
	return appendString(dst, a.Detail)
}

func appendOut(dst []byte, o *Out) []byte {
	dst = append(dst, `{"dir":`...)
	dst = appendString(dst, o.Dir)
	dst = append(dst, `,"time":`...)
	dst = appendTime(dst, o.Time.Time)
	dst = append(dst, `,"reason":`...)
	dst = appendString(dst, o.Reason)
	return append(dst, '}')
}

func appendInvitation(dst []byte, in *Invitation) []byte {
	dst = append(dst, `{"time":`...)
	dst = appendTime(dst, in.Time.Time)
	dst = append(dst, `,"session_id":`...)
	dst = appendString(dst, in.SessionID)
	dst = append(dst, `,"to":`...)
	dst = appendString(dst, in.To)
	dst = append(dst, `,"inviter":`...)
	dst = appendString(dst, in.Inviter)
	dst = append(dst, `,"friendly":`...)
	dst = appendString(dst, in.Friendly)
	dst = append(dst, `,"cookie_ref":`...)
	dst = appendString(dst, in.CookieRef)
	dst = append(dst, `,"session":`...)
	dst = appendIntPtr(dst, in.Session)
	return append(dst, '}')
}

func appendChat(dst []byte, c *Chat) []byte {
	dst = append(dst, `{"session_id":`...)
	dst = appendString(dst, c.SessionID)
	dst = append(dst, `,"invited":`...)
	dst = appendStrings(dst, c.Invited)
	dst = append(dst, `,"participants":`...)
	dst = appendSlice(dst, c.Participants, appendParticipant)
	dst = append(dst, `,"messages":`...)
	dst = appendSlice(dst, c.Messages, appendCount)
	return append(dst, '}')
}

func appendParticipant(dst []byte, p *Participant) []byte {
	dst = append(dst, `{"user":`...)
	dst = appendString(dst, p.User)
	dst = append(dst, `,"friendly":`...)
	dst = appendString(dst, p.Friendly)
	dst = append(dst, `,"joined":`...)
	dst = appendTimePtr(dst, p.Joined)
	dst = append(dst, `,"left":`...)
	dst = appendTimePtr(dst, p.Left)
	dst = append(dst, `,"how":`...)
	dst = appendString(dst, p.How)
	return append(dst, '}')
}

func appendContacts(dst []byte, c *Contacts) []byte {
	dst = append(dst, `{"list_version":`...)
	dst = appendString(dst, c.ListVersion)
	dst = append(dst, `,"note":`...)
	dst = appendString(dst, c.Note)
	dst = append(dst, `,"at_login":`...)
	dst = appendSlice(dst, c.AtLogin, appendContactEntry)
	dst = append(dst, `,"at_end":`...)
	dst = appendSlice(dst, c.AtEnd, appendContactEntry)
	dst = append(dst, `,"changes":`...)
	dst = appendSlice(dst, c.Changes, appendContactChange)
	dst = append(dst, `,"unlisted_changes":`...)
	dst = appendInt(dst, int64(c.Unlisted))
	dst = append(dst, `,"dropped_contacts":`...)
	dst = appendInt(dst, int64(c.Dropped))
	return append(dst, '}')
}

func appendContactEntry(dst []byte, c *ContactEntry) []byte {
	dst = append(dst, `{"user":`...)
	dst = appendString(dst, c.User)
	dst = append(dst, `,"friendly":`...)
	dst = appendString(dst, c.Friendly)
	dst = append(dst, `,"id":`...)
	dst = appendString(dst, c.ID)
	dst = append(dst, `,"lists":`...)
	dst = appendStrings(dst, c.Lists)
	dst = append(dst, `,"groups":`...)
	dst = appendStrings(dst, c.Groups)
	return append(dst, '}')
}

func appendContactChange(dst []byte, c *ContactChange) []byte {
	dst = append(dst, `{"time":`...)
	dst = appendTime(dst, c.Time.Time)
	dst = append(dst, `,"trid":`...)
	dst = appendInt(dst, c.TrID)
	dst = append(dst, `,"op":`...)
	dst = appendString(dst, c.Op)
	dst = append(dst, `,"list":`...)
	dst = appendString(dst, c.List)
	dst = append(dst, `,"contact":`...)
	dst = appendString(dst, c.Contact)
	dst = append(dst, `,"group":`...)
	dst = appendString(dst, c.Group)
	dst = append(dst, `,"server":`...)
	dst = appendBool(dst, c.Server)
	return append(dst, '}')
}

func appendPresence(dst []byte, p *Presence) []byte {
	dst = append(dst, `{"own":`...)
	dst = appendSlice(dst, p.Own, appendPresenceEvent)
	dst = append(dst, `,"contacts":`...)
	dst = appendSlice(dst, p.Contacts, appendContactPresence)
	return append(dst, '}')
}

func appendPresenceEvent(dst []byte, e *PresenceEvent) []byte {
	dst = append(dst, `{"time":`...)
	dst = appendTime(dst, e.Time.Time)
	dst = append(dst, `,"verb":`...)
	dst = appendString(dst, e.Verb)
	dst = append(dst, `,"status":`...)
	dst = appendString(dst, e.Status)
	dst = append(dst, `,"friendly":`...)
	dst = appendString(dst, e.Friendly)
	return append(dst, '}')
}

func appendContactPresence(dst []byte, c *ContactPresence) []byte {
	dst = append(dst, `{"user":`...)
	dst = appendString(dst, c.User)
	dst = append(dst, `,"psm":`...)
	dst = appendString(dst, c.PSM)
	dst = append(dst, `,"media":`...)
	dst = appendString(dst, c.Media)
	dst = append(dst, `,"events":`...)
	dst = appendSlice(dst, c.Events, appendPresenceEvent)
	dst = append(dst, `,"unlisted_events":`...)
	dst = appendInt(dst, int64(c.UnlistedEvents))
	return append(dst, '}')
}

// appendConversation appends a Conversation.
func appendConversation(dst []byte, c *Conversation) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendInt(dst, int64(c.ID))
	dst = append(dst, `,"server":`...)
	dst = appendString(dst, c.Server)
	dst = append(dst, `,"session_id":`...)
	dst = appendString(dst, c.SessionID)
	dst = append(dst, `,"sessions":`...)
	dst = appendInts(dst, c.Sessions)
	dst = append(dst, `,"participants":`...)
	dst = appendSlice(dst, c.Participants, appendParticipant)
	dst = append(dst, `,"messages":`...)
	dst = appendSlice(dst, c.Messages, appendMessage)
	dst = append(dst, `,"unlisted_messages":`...)
	dst = appendInt(dst, int64(c.UnlistedMessages))
	return append(dst, '}')
}

func appendMessage(dst []byte, m *Message) []byte {
	dst = append(dst, `{"time":`...)
	dst = appendTime(dst, m.Time.Time)
	dst = append(dst, `,"from":`...)
	dst = appendString(dst, m.From)
	dst = append(dst, `,"type":`...)
	dst = appendString(dst, m.Type)
	dst = append(dst, `,"content_type":`...)
	dst = appendString(dst, m.ContentType)
	dst = append(dst, `,"text":`...)
	dst = appendString(dst, m.Text)
	if m.TextBase64 != nil {
		dst = append(dst, `,"text_base64":`...)
		dst = appendString(dst, *m.TextBase64)
	}
	dst = append(dst, `,"format":`...)
	dst = appendString(dst, m.Format)
	dst = append(dst, `,"ack":`...)
	dst = appendString(dst, m.Ack)
	dst = append(dst, `,"acked":`...)
	dst = appendBoolPtr(dst, m.Acked)
	dst = append(dst, `,"session":`...)
	dst = appendInt(dst, int64(m.Session))
	dst = append(dst, `,"size":`...)
	dst = appendInt(dst, int64(m.Size))
	if m.Invite != nil {
		dst = append(dst, `,"invite":`...)
		dst = appendInvite(dst, m.Invite)
	}
	if m.P2P != nil {
		dst = append(dst, `,"p2p":`...)
		dst = appendP2P(dst, m.P2P)
	}
	return append(dst, '}')
}

func appendInvite(dst []byte, in *Invite) []byte {
	dst = append(dst, `{"command":`...)
	dst = appendString(dst, in.Command)
	dst = append(dst, `,"cookie":`...)
	dst = appendString(dst, in.Cookie)
	dst = append(dst, `,"application":`...)
	dst = appendString(dst, in.Application)
	dst = append(dst, `,"app_guid":`...)
	dst = appendString(dst, in.AppGUID)
	dst = append(dst, `,"file":`...)
	dst = appendString(dst, in.File)
	dst = append(dst, `,"file_size":`...)
	dst = appendString(dst, in.FileSize)
	dst = append(dst, `,"cancel_code":`...)
	dst = appendString(dst, in.CancelCode)
	return append(dst, '}')
}

func appendP2P(dst []byte, p *P2P) []byte {
	dst = append(dst, `{"session_id":`...)
	dst = appendUint(dst, uint64(p.SessionID))
	dst = append(dst, `,"identifier":`...)
	dst = appendUint(dst, uint64(p.Identifier))
	dst = append(dst, `,"offset":`...)
	dst = appendUint(dst, p.Offset)
	dst = append(dst, `,"total_size":`...)
	dst = appendUint(dst, p.TotalSize)
	dst = append(dst, `,"length":`...)
	dst = appendUint(dst, uint64(p.Length))
	dst = append(dst, `,"flags":`...)
	dst = appendUint(dst, uint64(p.Flags))
	dst = append(dst, `,"app_id":`...)
	dst = appendUint(dst, uint64(p.AppID))
	dst = append(dst, `,"slp":`...)
	dst = appendString(dst, p.SLP)
	dst = append(dst, `,"slp_content_type":`...)
	dst = appendString(dst, p.SLPContentType)
	return append(dst, '}')
}

// appendUser appends a User.
func appendUser(dst []byte, u *User) []byte {
	dst = append(dst, `{"user":`...)
	dst = appendString(dst, u.User)
	dst = append(dst, `,"sessions":`...)
	dst = appendInts(dst, u.Sessions)
	dst = append(dst, `,"conversations":`...)
	dst = appendInts(dst, u.Conversations)
	dst = append(dst, `,"peers":`...)
	dst = appendStrings(dst, u.Peers)
	dst = append(dst, `,"contacts_at_login":`...)
	dst = appendSlice(dst, u.ContactsAtLogin, appendContactEntry)
	dst = append(dst, `,"contacts_at_end":`...)
	dst = appendSlice(dst, u.ContactsAtEnd, appendContactEntry)
	return append(dst, '}')
}

// appendAnomalyRecord appends an AnomalyRecord.
func appendAnomalyRecord(dst []byte, r *AnomalyRecord) []byte {
	dst = append(dst, `{"type":`...)
	dst = appendString(dst, r.Type)
	dst = append(dst, `,"session":`...)
	dst = appendInt(dst, int64(r.Session))
	dst = append(dst, ',')
	dst = appendAnomalyFields(dst, &r.Anomaly)
	return append(dst, '}')
}

// appendSessionRecord appends a SessionRecord.
func appendSessionRecord(dst []byte, r *SessionRecord) []byte {
	dst = append(dst, `{"type":`...)
	dst = appendString(dst, r.Type)
	dst = append(dst, ',')
	dst = appendSessionFields(dst, &r.Session)
	return append(dst, '}')
}

// appendSummaryRecord appends a SummaryRecord.
func appendSummaryRecord(dst []byte, r *SummaryRecord) []byte {
	dst = append(dst, `{"type":`...)
	dst = appendString(dst, r.Type)
	dst = append(dst, `,"schema_version":`...)
	dst = appendInt(dst, int64(r.SchemaVersion))
	dst = append(dst, ',')
	dst = appendCaptureFields(dst, &r.Capture)
	return append(dst, '}')
}

// appendCommandRecord appends a CommandRecord. The NDJSON writer does not
// build one: it uses commandEncoder.appendCommand, which writes the same
// bytes straight from the dissect.Command.
func appendCommandRecord(dst []byte, r *CommandRecord) []byte {
	dst = append(dst, `{"type":`...)
	dst = appendString(dst, r.Type)
	dst = append(dst, `,"session":`...)
	dst = appendInt(dst, int64(r.Session))
	dst = append(dst, `,"seq":`...)
	dst = appendInt(dst, int64(r.Seq))
	dst = append(dst, `,"time":`...)
	dst = appendTime(dst, r.Time.Time)
	dst = append(dst, `,"dir":`...)
	dst = appendString(dst, r.Dir)
	dst = append(dst, `,"verb":`...)
	dst = appendString(dst, r.Verb)
	dst = append(dst, `,"trid":`...)
	dst = appendInt64Ptr(dst, r.TrID)
	dst = append(dst, `,"args":`...)
	dst = appendStrings(dst, r.Args)
	if r.LineBase64 != nil {
		dst = append(dst, `,"line_base64":`...)
		dst = appendString(dst, *r.LineBase64)
	}
	if len(r.Decoded) > 0 {
		dst = append(dst, `,"decoded":`...)
		dst = appendStrings(dst, r.Decoded)
	}
	dst = append(dst, `,"role":`...)
	dst = appendString(dst, r.Role)
	dst = append(dst, `,"error_code":`...)
	dst = appendIntPtr(dst, r.ErrorCode)
	dst = append(dst, `,"offset":`...)
	dst = appendInt(dst, r.Offset)
	dst = append(dst, `,"payload_len":`...)
	dst = appendInt(dst, int64(r.PayloadLen))
	dst = append(dst, `,"payload":`...)
	dst = appendPtr(dst, r.Payload, appendPayloadRecord)
	return append(dst, '}')
}

func appendPayloadRecord(dst []byte, p *Payload) []byte {
	dst = append(dst, `{"retained":`...)
	dst = appendInt(dst, int64(p.Retained))
	dst = append(dst, `,"lost_bytes":`...)
	dst = appendInt(dst, int64(p.LostBytes))
	if p.ContentType != "" {
		dst = append(dst, `,"content_type":`...)
		dst = appendString(dst, p.ContentType)
	}
	if len(p.Headers) > 0 {
		dst = append(dst, `,"headers":`...)
		dst = appendSlice(dst, p.Headers, appendHeader)
	}
	if len(p.Blocks) > 0 {
		dst = append(dst, `,"blocks":[`...)
		for i, b := range p.Blocks {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendSlice(dst, b, appendHeader)
		}
		dst = append(dst, ']')
	}
	if p.Body != nil {
		dst = append(dst, `,"body":`...)
		dst = appendString(dst, *p.Body)
	}
	if p.BodyBase64 != nil {
		dst = append(dst, `,"body_base64":`...)
		dst = appendString(dst, *p.BodyBase64)
	}
	return append(dst, '}')
}

func appendHeader(dst []byte, h *Header) []byte {
	dst = append(dst, `{"name":`...)
	dst = appendString(dst, h.Name)
	dst = append(dst, `,"value":`...)
	dst = appendString(dst, h.Value)
	return append(dst, '}')
}

// commandEncoder writes NDJSON command records straight from
// dissect.Commands. Its scratch buffer is reused from call to call, so it
// is not safe for concurrent use.
type commandEncoder struct {
	// tmp holds a URL-decoded argument until it is escaped into the
	// output.
	tmp []byte
	// hs holds a MSG payload's MIME headers, as views of the payload.
	hs []dissect.HeaderView
}

// maxScratch bounds the scratch buffer kept between calls; a larger one
// (a long decoded argument) is dropped after use.
const maxScratch = 64 << 10

// appendCommand appends the record of c: the bytes
// json.Encoder.Encode(NewCommandRecord(c)) writes, less the newline, but
// without building the record. It allocates only when a line or payload
// is not valid UTF-8 (for its base64 copy) and for the MIME headers of a
// payload (dissect.ParseMIME copies them).
func (e *commandEncoder) appendCommand(dst []byte, c *dissect.Command) []byte {
	dst = append(dst, `{"type":"command","session":`...)
	dst = appendInt(dst, int64(c.Session))
	dst = append(dst, `,"seq":`...)
	dst = appendInt(dst, int64(c.Seq))
	dst = append(dst, `,"time":`...)
	dst = appendTime(dst, c.Time)
	dst = append(dst, `,"dir":`...)
	dst = appendString(dst, c.Dir.String())
	dst = append(dst, `,"verb":`...)
	dst = appendString(dst, c.Verb)
	dst = append(dst, `,"trid":`...)
	if c.HasTrID {
		dst = appendInt(dst, c.TrID)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"args":`...)
	if c.Args == nil {
		dst = append(dst, "[]"...) // NewCommandRecord's nonNil
	} else {
		dst = appendStrings(dst, c.Args)
	}
	if !lineValid(c) {
		dst = append(dst, `,"line_base64":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, []byte(c.Line()))
		dst = append(dst, '"')
	}
	if anyDecodes(c.Args) {
		dst = append(dst, `,"decoded":[`...)
		for i, a := range c.Args {
			if i > 0 {
				dst = append(dst, ',')
			}
			if !decodes(a) {
				dst = appendString(dst, a)
				continue
			}
			// The decoded bytes are escaped as a whole: a multibyte
			// character may span several %XX escapes.
			e.tmp = appendUnescape(e.tmp[:0], a)
			dst = appendString(dst, e.tmp)
		}
		dst = append(dst, ']')
		if cap(e.tmp) > maxScratch {
			e.tmp = nil
		}
	}
	dst = append(dst, `,"role":`...)
	dst = appendString(dst, string(c.Role))
	dst = append(dst, `,"error_code":`...)
	if c.ErrorCode != 0 {
		dst = appendInt(dst, int64(c.ErrorCode))
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"offset":`...)
	dst = appendInt(dst, c.Offset)
	dst = append(dst, `,"payload_len":`...)
	if c.PayloadLen < 0 {
		return append(dst, `0,"payload":null}`...)
	}
	dst = appendInt(dst, int64(c.PayloadLen))
	dst = append(dst, `,"payload":`...)
	dst = e.appendPayload(dst, c)
	return append(dst, '}')
}

// appendPayload appends the Payload newPayload builds for c.
func (e *commandEncoder) appendPayload(dst []byte, c *dissect.Command) []byte {
	dst = append(dst, `{"retained":`...)
	dst = appendInt(dst, int64(len(c.Payload)))
	dst = append(dst, `,"lost_bytes":`...)
	dst = appendInt(dst, int64(c.PayloadLost))
	body := c.Payload
	var (
		contentType []byte
		blocks      []dissect.Block
		headers     []dissect.HeaderView
	)
	switch c.Verb {
	case "SDG", "PUT", "DEL", "NFY":
		if bs, rest, ok := dissect.ParseBlocks(body); ok {
			blocks = bs
			contentType = []byte(dissect.HeaderValue(bs[len(bs)-1].Headers, "Content-Type"))
			body = rest
		}
	case "MSG":
		// Views of the payload: nothing is copied but into dst.
		hs, rest, ok := dissect.ParseMIMEViews(body, e.hs)
		e.hs = hs[:0]
		if ok {
			headers = hs
			for _, h := range hs {
				if bytes.EqualFold(h.Name, []byte("Content-Type")) {
					contentType = h.Value
					break
				}
			}
			body = rest
		}
	}
	if len(contentType) > 0 {
		dst = append(dst, `,"content_type":`...)
		dst = appendString(dst, contentType)
	}
	if len(headers) > 0 {
		dst = append(dst, `,"headers":`...)
		dst = appendHeaderViews(dst, headers)
	}
	if len(blocks) > 0 {
		dst = append(dst, `,"blocks":[`...)
		for i := range blocks {
			if i > 0 {
				dst = append(dst, ',')
			}
			if len(blocks[i].Headers) == 0 {
				dst = append(dst, "null"...) // newPayload's nil []Header
			} else {
				dst = appendHeaders(dst, blocks[i].Headers)
			}
		}
		dst = append(dst, ']')
	}
	if utf8.Valid(body) {
		dst = append(dst, `,"body":`...)
		dst = appendString(dst, body)
	} else {
		dst = append(dst, `,"body_base64":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, body)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

func appendHeaderViews(dst []byte, hs []dissect.HeaderView) []byte {
	dst = append(dst, '[')
	for i := range hs {
		dst = appendHeaderPair(dst, i > 0, hs[i].Name, hs[i].Value)
	}
	return append(dst, ']')
}

func appendHeaders(dst []byte, hs []dissect.Header) []byte {
	dst = append(dst, '[')
	for i := range hs {
		dst = appendHeaderPair(dst, i > 0, hs[i].Name, hs[i].Value)
	}
	return append(dst, ']')
}

// appendHeaderPair appends one header object, after a comma unless first.
func appendHeaderPair[S []byte | string](dst []byte, comma bool, name, value S) []byte {
	if comma {
		dst = append(dst, ',')
	}
	dst = append(dst, `{"name":`...)
	dst = appendString(dst, name)
	dst = append(dst, `,"value":`...)
	dst = appendString(dst, value)
	return append(dst, '}')
}

// lineValid reports whether c.Line() is valid UTF-8 without building it:
// the line joins the verb, the TrID's digits and the arguments with
// spaces, and an ASCII byte neither completes nor breaks a multibyte
// sequence, so the line is valid exactly when each part is.
func lineValid(c *dissect.Command) bool {
	if !utf8.ValidString(c.Verb) {
		return false
	}
	for _, a := range c.Args {
		if !utf8.ValidString(a) {
			return false
		}
	}
	return true
}

// anyDecodes reports whether dissect.Unescape changes any of args: then
// the record carries them all decoded.
func anyDecodes(args []string) bool {
	for _, a := range args {
		if decodes(a) {
			return true
		}
	}
	return false
}

// decodes reports whether dissect.Unescape(s) != s: whether s holds a
// well-formed %XX escape. Unescape decodes the first one it meets, and
// each shortens the string by two bytes.
func decodes(s string) bool {
	for i := 0; i+2 < len(s); i++ {
		if s[i] == '%' && isHex(s[i+1]) && isHex(s[i+2]) {
			return true
		}
	}
	return false
}

// appendUnescape appends dissect.Unescape(s) to dst without the string
// allocation; TestAppendUnescape holds the two together.
func appendUnescape(dst []byte, s string) []byte {
	for j := 0; j < len(s); j++ {
		if s[j] == '%' && j+2 < len(s) && isHex(s[j+1]) && isHex(s[j+2]) {
			dst = append(dst, unhex(s[j+1])<<4|unhex(s[j+2]))
			j += 2
			continue
		}
		dst = append(dst, s[j])
	}
	return dst
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// appendIndent appends compact JSON (an appender's output) indented as
// json.Indent(dst, compact, prefix, indent) would, which is what an
// Encoder with SetIndent(prefix, indent) writes for the same value (it
// marshals compactly, then indents): members and elements on their own
// lines, each line after the first starting with prefix and one indent
// per level, ": " after keys, and empty objects and arrays kept as {} and
// []. compact must be valid JSON without insignificant space, as the
// appenders write it.
func appendIndent(dst, compact []byte, prefix, indent string) []byte {
	// lead[:1+len(prefix)+d*len(indent)] is a line end and the start of a
	// line at depth d; strings, the bulk of a document, are copied whole.
	lead := make([]byte, 0, 64)
	lead = append(append(lead, '\n'), prefix...)
	line := func(dst []byte, depth int) []byte {
		n := 1 + len(prefix) + depth*len(indent)
		for len(lead) < n {
			lead = append(lead, indent...)
		}
		return append(dst, lead[:n]...)
	}
	depth := 0
	for i := 0; i < len(compact); i++ {
		switch c := compact[i]; c {
		case '"':
			// The closing quote is the first one not escaped, that is not
			// preceded by an odd run of backslashes.
			j := i + 1
			for {
				k := bytes.IndexByte(compact[j:], '"')
				if k < 0 {
					return append(dst, compact[i:]...)
				}
				j += k
				bs := 0
				for bs < j-i-1 && compact[j-1-bs] == '\\' {
					bs++
				}
				if bs%2 == 0 {
					break
				}
				j++
			}
			dst = append(dst, compact[i:j+1]...)
			i = j
		case '{', '[':
			dst = append(dst, c)
			if i+1 < len(compact) && (compact[i+1] == '}' || compact[i+1] == ']') {
				// {} and [] stay as they are.
				dst = append(dst, compact[i+1])
				i++
				continue
			}
			depth++
			dst = line(dst, depth)
		case ',':
			dst = append(dst, c)
			dst = line(dst, depth)
		case ':':
			dst = append(dst, c, ' ')
		case '}', ']':
			depth = max(depth-1, 0)
			dst = line(dst, depth)
			dst = append(dst, c)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
