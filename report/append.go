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
// (model.go) and the NDJSON records (ndjson.go). Each appendX(in, dst, v)
// appends to dst exactly the bytes json.Encoder with SetEscapeHTML(false)
// writes for *v, less the Encoder's trailing newline, and returns the
// extended slice: compact when in is nil (NDJSON), and as with
// SetIndent(prefix, indent) when in is newIndenter(prefix, indent) (the
// -T json document). The NDJSON records' appenders, appendXRecord(dst,
// v), write the compact form only. append_test.go checks all this
// against encoding/json on every shipped transcript, on random values of
// every type and by fuzzing. They use no reflection and allocate only to
// grow dst, so a writer can reuse one buffer for every line.
//
// When a field is added to a model type, its appender here must be
// extended in the same change (TestAppendRandomValues fails until it is).
//
// appendIndent indents compact JSON as json.Indent does, which is what an
// Encoder with SetIndent writes (it marshals compactly, then indents); the
// JSON report uses it for the few pieces it splices together from the
// spool (the users).

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
		// Most of a report's strings need no escaping: skip them eight
		// bytes at a time, to be copied at once.
		if i+8 <= len(src) {
			w := src[i : i+8]
			// The compiler turns these eight loads into one.
			if jsonSafeWord(uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
				uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56) {
				i += 8
				continue
			}
		}
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

// jsonSafeWord reports whether the eight bytes of x are all jsonSafe,
// testing them at once: x-lo*n&^x&hi has a byte's top bit set if and
// only if some byte of x is less than n (for n up to 0x80), so bytes
// below 0x20, and zero bytes of x^(lo*'"') and x^(lo*'\\'), show as top
// bits, as do the bytes of x from 0x80 up.
func jsonSafeWord(x uint64) bool {
	const (
		lo = 0x0101010101010101
		hi = 0x8080808080808080
	)
	q := x ^ lo*'"'
	bs := x ^ lo*'\\'
	return (x|(x-lo*0x20)&^x|(q-lo)&^q|(bs-lo)&^bs)&hi == 0
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
func appendStrings(in *indenter, dst []byte, ss []string) []byte {
	if ss == nil {
		return append(dst, "null"...)
	}
	if len(ss) == 0 {
		return append(dst, "[]"...)
	}
	dst = in.open(dst, '[')
	for i, s := range ss {
		dst = in.elem(dst, i)
		dst = appendString(dst, s)
	}
	return in.close(dst, ']')
}

func appendInts(in *indenter, dst []byte, ns []int) []byte {
	if ns == nil {
		return append(dst, "null"...)
	}
	if len(ns) == 0 {
		return append(dst, "[]"...)
	}
	dst = in.open(dst, '[')
	for i, n := range ns {
		dst = in.elem(dst, i)
		dst = appendInt(dst, int64(n))
	}
	return in.close(dst, ']')
}

// appendSlice appends a slice of structs with f: null when nil, [] when
// empty.
func appendSlice[T any](in *indenter, dst []byte, s []T, f func(*indenter, []byte, *T) []byte) []byte {
	if s == nil {
		return append(dst, "null"...)
	}
	if len(s) == 0 {
		return append(dst, "[]"...)
	}
	dst = in.open(dst, '[')
	for i := range s {
		dst = in.elem(dst, i)
		dst = f(in, dst, &s[i])
	}
	return in.close(dst, ']')
}

// appendPtr appends *v with f, or null.
func appendPtr[T any](in *indenter, dst []byte, v *T, f func(*indenter, []byte, *T) []byte) []byte {
	if v == nil {
		return append(dst, "null"...)
	}
	return f(in, dst, v)
}

// An indenter makes the model appenders write the indented form
// directly, byte for byte what appendIndent (and so json.Indent, and an
// Encoder with SetIndent) makes of their compact output: each member and
// element on a line of its own, starting with the prefix and one indent
// per level of nesting, ": " after each key, and empty arrays kept as [].
// Writing it directly spares the -T json report a second pass over every
// byte. A nil *indenter writes the compact form, as json.Encoder does
// without SetIndent.
//
// The appenders call key for each member, open before the first element
// of a non-empty array (or an object whose first key comes from
// elsewhere), elem before each element and close after the last member
// or element: every object in the model has members, so none is empty.
// An indenter keeps the depth of the value being written, so it serves
// one appender at a time and is not safe for concurrent use.
type indenter struct {
	// lead[:n] ends a line and starts the next at the current depth:
	// "\n", the prefix, then the indent once per level; lead grows as
	// deep as the values go.
	lead   []byte
	n      int
	indent string
}

func newIndenter(prefix, indent string) *indenter {
	lead := append([]byte{'\n'}, prefix...)
	return &indenter{lead: lead, n: len(lead), indent: indent}
}

// key appends a member's key, k: `"name":` after a '{' or ',' already
// written, or `{"name":` (the first member) or `,"name":` (a later one).
// It is small enough to be inlined, so the compact form costs what a
// plain append does.
func (in *indenter) key(dst []byte, k string) []byte {
	if in == nil {
		return append(dst, k...)
	}
	return in.indentKey(dst, k)
}

func (in *indenter) indentKey(dst []byte, k string) []byte {
	switch k[0] {
	case '{':
		dst = append(dst, '{')
		in.deeper()
		k = k[1:]
	case ',':
		dst = append(dst, ',')
		k = k[1:]
	}
	dst = append(dst, in.lead[:in.n]...)
	dst = append(dst, k...)
	return append(dst, ' ')
}

// open appends c, '{' or '[', starting a non-empty object or array.
func (in *indenter) open(dst []byte, c byte) []byte {
	if in != nil {
		in.deeper()
	}
	return append(dst, c)
}

// elem starts element i of an array.
func (in *indenter) elem(dst []byte, i int) []byte {
	if i > 0 {
		dst = append(dst, ',')
	}
	if in != nil {
		dst = append(dst, in.lead[:in.n]...)
	}
	return dst
}

// close appends c, '}' or ']', ending what open or a `{"name":` key
// started.
func (in *indenter) close(dst []byte, c byte) []byte {
	if in != nil {
		in.n -= len(in.indent)
		dst = append(dst, in.lead[:in.n]...)
	}
	return append(dst, c)
}

func (in *indenter) deeper() {
	in.n += len(in.indent)
	if in.n > len(in.lead) {
		in.lead = append(in.lead, in.indent...)
	}
}

// appendReport appends a whole Report (the -T json document, compact).
func appendReport(in *indenter, dst []byte, r *Report) []byte {
	dst = in.key(dst, `{"schema_version":`)
	dst = appendInt(dst, int64(r.SchemaVersion))
	dst = in.key(dst, `,"capture":`)
	dst = appendCapture(in, dst, &r.Capture)
	dst = in.key(dst, `,"sessions":`)
	dst = appendSlice(in, dst, r.Sessions, appendSession)
	dst = in.key(dst, `,"conversations":`)
	dst = appendSlice(in, dst, r.Conversations, appendConversation)
	dst = in.key(dst, `,"users":`)
	dst = appendSlice(in, dst, r.Users, appendUser)
	return in.close(dst, '}')
}

// appendCapture appends a Capture.
func appendCapture(in *indenter, dst []byte, c *Capture) []byte {
	dst = in.open(dst, '{')
	dst = appendCaptureFields(in, dst, c)
	return in.close(dst, '}')
}

// appendCaptureFields appends the members of a Capture without braces,
// for SummaryRecord, which embeds it.
func appendCaptureFields(in *indenter, dst []byte, c *Capture) []byte {
	dst = in.key(dst, `"files":`)
	dst = appendSlice(in, dst, c.Files, appendFile)
	dst = in.key(dst, `,"packets":`)
	dst = appendInt(dst, c.Packets)
	dst = in.key(dst, `,"bytes":`)
	dst = appendInt(dst, c.Bytes)
	dst = in.key(dst, `,"first":`)
	dst = appendTimePtr(dst, c.First)
	dst = in.key(dst, `,"last":`)
	dst = appendTimePtr(dst, c.Last)
	dst = in.key(dst, `,"connections":`)
	dst = appendInt(dst, int64(c.Connections))
	dst = in.key(dst, `,"skipped":`)
	dst = appendSlice(in, dst, c.Skipped, appendCount)
	dst = in.key(dst, `,"anomalies":`)
	dst = appendSlice(in, dst, c.Anomalies, appendCount)
	dst = in.key(dst, `,"errors":`)
	dst = appendStrings(in, dst, c.Errors)
	dst = in.key(dst, `,"live":`)
	dst = appendPtr(in, dst, c.Live, appendLive)
	dst = in.key(dst, `,"gateway":`)
	return appendSlice(in, dst, c.Gateway, appendCount)
}

func appendLive(in *indenter, dst []byte, l *Live) []byte {
	dst = in.key(dst, `{"interface":`)
	dst = appendString(dst, l.Interface)
	dst = in.key(dst, `,"received":`)
	dst = appendInt(dst, l.Received)
	dst = in.key(dst, `,"dropped":`)
	dst = appendInt(dst, l.Dropped)
	return in.close(dst, '}')
}

func appendCount(in *indenter, dst []byte, c *Count) []byte {
	dst = in.key(dst, `{"name":`)
	dst = appendString(dst, c.Name)
	dst = in.key(dst, `,"count":`)
	dst = appendInt(dst, c.Count)
	return in.close(dst, '}')
}

func appendFile(in *indenter, dst []byte, f *File) []byte {
	dst = in.key(dst, `{"name":`)
	dst = appendString(dst, f.Name)
	dst = in.key(dst, `,"format":`)
	dst = appendString(dst, f.Format)
	dst = in.key(dst, `,"link_type":`)
	dst = appendString(dst, f.LinkType)
	dst = in.key(dst, `,"packets":`)
	dst = appendInt(dst, f.Packets)
	dst = in.key(dst, `,"bytes":`)
	dst = appendInt(dst, f.Bytes)
	dst = in.key(dst, `,"complete":`)
	dst = appendBool(dst, f.Complete)
	return in.close(dst, '}')
}

func appendDirCount(in *indenter, dst []byte, d *DirCount) []byte {
	dst = in.key(dst, `{"c2s":`)
	dst = appendInt(dst, d.C2S)
	dst = in.key(dst, `,"s2c":`)
	dst = appendInt(dst, d.S2C)
	return in.close(dst, '}')
}

// appendSession appends a Session.
func appendSession(in *indenter, dst []byte, s *Session) []byte {
	dst = in.open(dst, '{')
	dst = appendSessionFields(in, dst, s)
	return in.close(dst, '}')
}

// appendSessionFields appends the members of a Session without braces,
// for SessionRecord, which embeds it.
func appendSessionFields(in *indenter, dst []byte, s *Session) []byte {
	dst = in.key(dst, `"id":`)
	dst = appendInt(dst, int64(s.ID))
	dst = in.key(dst, `,"kind":`)
	dst = appendString(dst, s.Kind)
	dst = in.key(dst, `,"kind_evidence":`)
	dst = appendString(dst, s.KindEvidence)
	dst = in.key(dst, `,"client":`)
	dst = appendString(dst, s.Client)
	dst = in.key(dst, `,"server":`)
	dst = appendString(dst, s.Server)
	dst = in.key(dst, `,"start":`)
	dst = appendTime(dst, s.Start.Time)
	dst = in.key(dst, `,"end":`)
	dst = appendTime(dst, s.End.Time)
	dst = in.key(dst, `,"closed":`)
	dst = appendBool(dst, s.Closed)
	dst = in.key(dst, `,"partial":`)
	dst = appendBool(dst, s.Partial)
	dst = in.key(dst, `,"detected_by":`)
	dst = appendString(dst, s.DetectedBy)
	dst = in.key(dst, `,"transport":`)
	dst = appendString(dst, s.Transport)
	dst = in.key(dst, `,"http_connections":`)
	dst = appendStrings(in, dst, s.HTTPConnections)
	dst = in.key(dst, `,"unlisted_http_connections":`)
	dst = appendInt(dst, int64(s.UnlistedHTTPConnections))
	dst = in.key(dst, `,"empty_polls":`)
	dst = appendInt(dst, int64(s.EmptyPolls))
	dst = in.key(dst, `,"user":`)
	dst = appendString(dst, s.User)
	dst = in.key(dst, `,"parent":`)
	dst = appendIntPtr(dst, s.Parent)
	dst = in.key(dst, `,"link_note":`)
	dst = appendString(dst, s.LinkNote)
	dst = in.key(dst, `,"cookie_ref":`)
	dst = appendStringPtr(dst, s.CookieRef)
	dst = in.key(dst, `,"version":`)
	dst = appendVersion(in, dst, &s.Version)
	dst = in.key(dst, `,"auth":`)
	dst = appendPtr(in, dst, s.Auth, appendAuth)
	dst = in.key(dst, `,"redirects":`)
	dst = appendSlice(in, dst, s.Redirects, appendRedirect)
	dst = in.key(dst, `,"transactions":`)
	dst = appendSlice(in, dst, s.Transactions, appendTransaction)
	dst = in.key(dst, `,"group_ops":`)
	dst = appendSlice(in, dst, s.GroupOps, appendGroupOp)
	dst = in.key(dst, `,"groups":`)
	dst = appendSlice(in, dst, s.Groups, appendGroup)
	dst = in.key(dst, `,"errors":`)
	dst = appendSlice(in, dst, s.Errors, appendError)
	dst = in.key(dst, `,"anomalies":`)
	dst = appendSlice(in, dst, s.Anomalies, appendAnomaly)
	dst = in.key(dst, `,"out":`)
	dst = appendPtr(in, dst, s.Out, appendOut)
	dst = in.key(dst, `,"invitations":`)
	dst = appendSlice(in, dst, s.Invitations, appendInvitation)
	dst = in.key(dst, `,"chat":`)
	dst = appendPtr(in, dst, s.Chat, appendChat)
	dst = in.key(dst, `,"contacts":`)
	dst = appendPtr(in, dst, s.Contacts, appendContacts)
	dst = in.key(dst, `,"presence":`)
	dst = appendPtr(in, dst, s.Presence, appendPresence)
	dst = in.key(dst, `,"commands":`)
	dst = appendDirCount(in, dst, &s.Commands)
	dst = in.key(dst, `,"bytes":`)
	dst = appendDirCount(in, dst, &s.Bytes)
	dst = in.key(dst, `,"lost_bytes":`)
	dst = appendInt(dst, s.LostBytes)
	dst = in.key(dst, `,"unknown_size_gaps":`)
	dst = appendInt(dst, int64(s.UnknownSizeGaps))
	dst = in.key(dst, `,"unmatched_replies":`)
	dst = appendInt(dst, int64(s.UnmatchedReplies))
	dst = in.key(dst, `,"evicted_pending":`)
	dst = appendInt(dst, int64(s.EvictedPending))
	dst = in.key(dst, `,"unlisted_transactions":`)
	return appendInt(dst, int64(s.UnlistedTransactions))
}

func appendVersion(in *indenter, dst []byte, v *Version) []byte {
	dst = in.key(dst, `{"offered":`)
	dst = appendStrings(in, dst, v.Offered)
	dst = in.key(dst, `,"selected":`)
	dst = appendStringPtr(dst, v.Selected)
	dst = in.key(dst, `,"refused":`)
	dst = appendBool(dst, v.Refused)
	dst = in.key(dst, `,"rules":`)
	dst = appendStringPtr(dst, v.Rules)
	dst = in.key(dst, `,"rules_source":`)
	dst = appendString(dst, v.RulesSource)
	return in.close(dst, '}')
}

func appendAuth(in *indenter, dst []byte, a *Auth) []byte {
	dst = in.key(dst, `{"method":`)
	dst = appendString(dst, a.Method)
	dst = in.key(dst, `,"user":`)
	dst = appendString(dst, a.User)
	dst = in.key(dst, `,"result":`)
	dst = appendString(dst, a.Result)
	dst = in.key(dst, `,"error_code":`)
	dst = appendIntPtr(dst, a.ErrorCode)
	dst = in.key(dst, `,"offered":`)
	dst = appendStrings(in, dst, a.Offered)
	dst = in.key(dst, `,"policy":`)
	dst = appendString(dst, a.Policy)
	dst = in.key(dst, `,"challenge_seen":`)
	dst = appendBool(dst, a.ChallengeSeen)
	dst = in.key(dst, `,"response_seen":`)
	dst = appendBool(dst, a.ResponseSeen)
	return in.close(dst, '}')
}

func appendRedirect(in *indenter, dst []byte, r *Redirect) []byte {
	dst = in.key(dst, `{"trid":`)
	dst = appendInt(dst, r.TrID)
	dst = in.key(dst, `,"type":`)
	dst = appendString(dst, r.Type)
	dst = in.key(dst, `,"to":`)
	dst = appendString(dst, r.To)
	dst = in.key(dst, `,"from":`)
	dst = appendStringPtr(dst, r.From)
	dst = in.key(dst, `,"session":`)
	dst = appendIntPtr(dst, r.Session)
	return in.close(dst, '}')
}

func appendTransaction(in *indenter, dst []byte, t *Transaction) []byte {
	dst = in.key(dst, `{"trid":`)
	dst = appendInt(dst, t.TrID)
	dst = in.key(dst, `,"verb":`)
	dst = appendString(dst, t.Verb)
	dst = in.key(dst, `,"time":`)
	dst = appendTime(dst, t.Time.Time)
	dst = in.key(dst, `,"status":`)
	dst = appendString(dst, t.Status)
	dst = in.key(dst, `,"error_code":`)
	dst = appendIntPtr(dst, t.ErrorCode)
	dst = in.key(dst, `,"replies":`)
	dst = appendInt(dst, int64(t.Replies))
	dst = in.key(dst, `,"reply_verbs":`)
	dst = appendStrings(in, dst, t.ReplyVerbs)
	dst = in.key(dst, `,"latency_us":`)
	dst = appendInt64Ptr(dst, t.LatencyUS)
	return in.close(dst, '}')
}

func appendGroupOp(in *indenter, dst []byte, g *GroupOp) []byte {
	dst = in.key(dst, `{"trid":`)
	dst = appendInt(dst, g.TrID)
	dst = in.key(dst, `,"op":`)
	dst = appendString(dst, g.Op)
	dst = in.key(dst, `,"group_id":`)
	dst = appendStringPtr(dst, g.GroupID)
	dst = in.key(dst, `,"name":`)
	dst = appendStringPtr(dst, g.Name)
	dst = in.key(dst, `,"contact":`)
	dst = appendStringPtr(dst, g.Contact)
	dst = in.key(dst, `,"status":`)
	dst = appendString(dst, g.Status)
	dst = in.key(dst, `,"error_code":`)
	dst = appendIntPtr(dst, g.ErrorCode)
	return in.close(dst, '}')
}

func appendGroup(in *indenter, dst []byte, g *Group) []byte {
	dst = in.key(dst, `{"id":`)
	dst = appendString(dst, g.ID)
	dst = in.key(dst, `,"name":`)
	dst = appendString(dst, g.Name)
	return in.close(dst, '}')
}

func appendError(in *indenter, dst []byte, e *Error) []byte {
	dst = in.key(dst, `{"trid":`)
	dst = appendInt(dst, e.TrID)
	dst = in.key(dst, `,"code":`)
	dst = appendInt(dst, int64(e.Code))
	dst = in.key(dst, `,"name":`)
	dst = appendString(dst, e.Name)
	dst = in.key(dst, `,"verb":`)
	dst = appendString(dst, e.Verb)
	dst = in.key(dst, `,"time":`)
	dst = appendTime(dst, e.Time.Time)
	return in.close(dst, '}')
}

// appendAnomaly appends an Anomaly.
func appendAnomaly(in *indenter, dst []byte, a *Anomaly) []byte {
	dst = in.open(dst, '{')
	dst = appendAnomalyFields(in, dst, a)
	return in.close(dst, '}')
}

// appendAnomalyFields appends the members of an Anomaly without braces,
// for AnomalyRecord, which embeds it.
func appendAnomalyFields(in *indenter, dst []byte, a *Anomaly) []byte {
	dst = in.key(dst, `"kind":`)
	dst = appendString(dst, a.Kind)
	dst = in.key(dst, `,"time":`)
	dst = appendTime(dst, a.Time.Time)
	dst = in.key(dst, `,"dir":`)
	dst = appendString(dst, a.Dir)
	dst = in.key(dst, `,"offset":`)
	dst = appendInt(dst, a.Offset)
	dst = in.key(dst, `,"bytes":`)
	dst = appendInt(dst, int64(a.Bytes))
	dst = in.key(dst, `,"line":`)
	dst = appendString(dst, a.Line)
	if a.LineBase64 != nil {
		dst = in.key(dst, `,"line_base64":`)
		dst = appendString(dst, *a.LineBase64)
	}
	dst = in.key(dst, `,"detail":`)
	return appendString(dst, a.Detail)
}

func appendOut(in *indenter, dst []byte, o *Out) []byte {
	dst = in.key(dst, `{"dir":`)
	dst = appendString(dst, o.Dir)
	dst = in.key(dst, `,"time":`)
	dst = appendTime(dst, o.Time.Time)
	dst = in.key(dst, `,"reason":`)
	dst = appendString(dst, o.Reason)
	return in.close(dst, '}')
}

func appendInvitation(in *indenter, dst []byte, v *Invitation) []byte {
	dst = in.key(dst, `{"time":`)
	dst = appendTime(dst, v.Time.Time)
	dst = in.key(dst, `,"session_id":`)
	dst = appendString(dst, v.SessionID)
	dst = in.key(dst, `,"to":`)
	dst = appendString(dst, v.To)
	dst = in.key(dst, `,"inviter":`)
	dst = appendString(dst, v.Inviter)
	dst = in.key(dst, `,"friendly":`)
	dst = appendString(dst, v.Friendly)
	dst = in.key(dst, `,"cookie_ref":`)
	dst = appendString(dst, v.CookieRef)
	dst = in.key(dst, `,"session":`)
	dst = appendIntPtr(dst, v.Session)
	return in.close(dst, '}')
}

func appendChat(in *indenter, dst []byte, c *Chat) []byte {
	dst = in.key(dst, `{"session_id":`)
	dst = appendString(dst, c.SessionID)
	dst = in.key(dst, `,"invited":`)
	dst = appendStrings(in, dst, c.Invited)
	dst = in.key(dst, `,"participants":`)
	dst = appendSlice(in, dst, c.Participants, appendParticipant)
	dst = in.key(dst, `,"messages":`)
	dst = appendSlice(in, dst, c.Messages, appendCount)
	return in.close(dst, '}')
}

func appendParticipant(in *indenter, dst []byte, p *Participant) []byte {
	dst = in.key(dst, `{"user":`)
	dst = appendString(dst, p.User)
	dst = in.key(dst, `,"friendly":`)
	dst = appendString(dst, p.Friendly)
	dst = in.key(dst, `,"joined":`)
	dst = appendTimePtr(dst, p.Joined)
	dst = in.key(dst, `,"left":`)
	dst = appendTimePtr(dst, p.Left)
	dst = in.key(dst, `,"how":`)
	dst = appendString(dst, p.How)
	return in.close(dst, '}')
}

func appendContacts(in *indenter, dst []byte, c *Contacts) []byte {
	dst = in.key(dst, `{"list_version":`)
	dst = appendString(dst, c.ListVersion)
	dst = in.key(dst, `,"note":`)
	dst = appendString(dst, c.Note)
	dst = in.key(dst, `,"at_login":`)
	dst = appendSlice(in, dst, c.AtLogin, appendContactEntry)
	dst = in.key(dst, `,"at_end":`)
	dst = appendSlice(in, dst, c.AtEnd, appendContactEntry)
	dst = in.key(dst, `,"changes":`)
	dst = appendSlice(in, dst, c.Changes, appendContactChange)
	dst = in.key(dst, `,"unlisted_changes":`)
	dst = appendInt(dst, int64(c.Unlisted))
	dst = in.key(dst, `,"dropped_contacts":`)
	dst = appendInt(dst, int64(c.Dropped))
	return in.close(dst, '}')
}

func appendContactEntry(in *indenter, dst []byte, c *ContactEntry) []byte {
	dst = in.key(dst, `{"user":`)
	dst = appendString(dst, c.User)
	dst = in.key(dst, `,"friendly":`)
	dst = appendString(dst, c.Friendly)
	dst = in.key(dst, `,"id":`)
	dst = appendString(dst, c.ID)
	dst = in.key(dst, `,"lists":`)
	dst = appendStrings(in, dst, c.Lists)
	dst = in.key(dst, `,"groups":`)
	dst = appendStrings(in, dst, c.Groups)
	return in.close(dst, '}')
}

func appendContactChange(in *indenter, dst []byte, c *ContactChange) []byte {
	dst = in.key(dst, `{"time":`)
	dst = appendTime(dst, c.Time.Time)
	dst = in.key(dst, `,"trid":`)
	dst = appendInt(dst, c.TrID)
	dst = in.key(dst, `,"op":`)
	dst = appendString(dst, c.Op)
	dst = in.key(dst, `,"list":`)
	dst = appendString(dst, c.List)
	dst = in.key(dst, `,"contact":`)
	dst = appendString(dst, c.Contact)
	dst = in.key(dst, `,"group":`)
	dst = appendString(dst, c.Group)
	dst = in.key(dst, `,"server":`)
	dst = appendBool(dst, c.Server)
	return in.close(dst, '}')
}

func appendPresence(in *indenter, dst []byte, p *Presence) []byte {
	dst = in.key(dst, `{"own":`)
	dst = appendSlice(in, dst, p.Own, appendPresenceEvent)
	dst = in.key(dst, `,"contacts":`)
	dst = appendSlice(in, dst, p.Contacts, appendContactPresence)
	return in.close(dst, '}')
}

func appendPresenceEvent(in *indenter, dst []byte, e *PresenceEvent) []byte {
	dst = in.key(dst, `{"time":`)
	dst = appendTime(dst, e.Time.Time)
	dst = in.key(dst, `,"verb":`)
	dst = appendString(dst, e.Verb)
	dst = in.key(dst, `,"status":`)
	dst = appendString(dst, e.Status)
	dst = in.key(dst, `,"friendly":`)
	dst = appendString(dst, e.Friendly)
	return in.close(dst, '}')
}

func appendContactPresence(in *indenter, dst []byte, c *ContactPresence) []byte {
	dst = in.key(dst, `{"user":`)
	dst = appendString(dst, c.User)
	dst = in.key(dst, `,"psm":`)
	dst = appendString(dst, c.PSM)
	dst = in.key(dst, `,"media":`)
	dst = appendString(dst, c.Media)
	dst = in.key(dst, `,"events":`)
	dst = appendSlice(in, dst, c.Events, appendPresenceEvent)
	dst = in.key(dst, `,"unlisted_events":`)
	dst = appendInt(dst, int64(c.UnlistedEvents))
	return in.close(dst, '}')
}

// appendConversation appends a Conversation.
func appendConversation(in *indenter, dst []byte, c *Conversation) []byte {
	dst = in.key(dst, `{"id":`)
	dst = appendInt(dst, int64(c.ID))
	dst = in.key(dst, `,"server":`)
	dst = appendString(dst, c.Server)
	dst = in.key(dst, `,"session_id":`)
	dst = appendString(dst, c.SessionID)
	dst = in.key(dst, `,"sessions":`)
	dst = appendInts(in, dst, c.Sessions)
	dst = in.key(dst, `,"participants":`)
	dst = appendSlice(in, dst, c.Participants, appendParticipant)
	dst = in.key(dst, `,"messages":`)
	dst = appendSlice(in, dst, c.Messages, appendMessage)
	dst = in.key(dst, `,"unlisted_messages":`)
	dst = appendInt(dst, int64(c.UnlistedMessages))
	return in.close(dst, '}')
}

func appendMessage(in *indenter, dst []byte, m *Message) []byte {
	dst = in.key(dst, `{"time":`)
	dst = appendTime(dst, m.Time.Time)
	dst = in.key(dst, `,"from":`)
	dst = appendString(dst, m.From)
	dst = in.key(dst, `,"type":`)
	dst = appendString(dst, m.Type)
	dst = in.key(dst, `,"content_type":`)
	dst = appendString(dst, m.ContentType)
	dst = in.key(dst, `,"text":`)
	dst = appendString(dst, m.Text)
	if m.TextBase64 != nil {
		dst = in.key(dst, `,"text_base64":`)
		dst = appendString(dst, *m.TextBase64)
	}
	dst = in.key(dst, `,"format":`)
	dst = appendString(dst, m.Format)
	dst = in.key(dst, `,"ack":`)
	dst = appendString(dst, m.Ack)
	dst = in.key(dst, `,"acked":`)
	dst = appendBoolPtr(dst, m.Acked)
	dst = in.key(dst, `,"session":`)
	dst = appendInt(dst, int64(m.Session))
	dst = in.key(dst, `,"size":`)
	dst = appendInt(dst, int64(m.Size))
	if m.Invite != nil {
		dst = in.key(dst, `,"invite":`)
		dst = appendInvite(in, dst, m.Invite)
	}
	if m.P2P != nil {
		dst = in.key(dst, `,"p2p":`)
		dst = appendP2P(in, dst, m.P2P)
	}
	return in.close(dst, '}')
}

func appendInvite(in *indenter, dst []byte, v *Invite) []byte {
	dst = in.key(dst, `{"command":`)
	dst = appendString(dst, v.Command)
	dst = in.key(dst, `,"cookie":`)
	dst = appendString(dst, v.Cookie)
	dst = in.key(dst, `,"application":`)
	dst = appendString(dst, v.Application)
	dst = in.key(dst, `,"app_guid":`)
	dst = appendString(dst, v.AppGUID)
	dst = in.key(dst, `,"file":`)
	dst = appendString(dst, v.File)
	dst = in.key(dst, `,"file_size":`)
	dst = appendString(dst, v.FileSize)
	dst = in.key(dst, `,"cancel_code":`)
	dst = appendString(dst, v.CancelCode)
	return in.close(dst, '}')
}

func appendP2P(in *indenter, dst []byte, p *P2P) []byte {
	dst = in.key(dst, `{"session_id":`)
	dst = appendUint(dst, uint64(p.SessionID))
	dst = in.key(dst, `,"identifier":`)
	dst = appendUint(dst, uint64(p.Identifier))
	dst = in.key(dst, `,"offset":`)
	dst = appendUint(dst, p.Offset)
	dst = in.key(dst, `,"total_size":`)
	dst = appendUint(dst, p.TotalSize)
	dst = in.key(dst, `,"length":`)
	dst = appendUint(dst, uint64(p.Length))
	dst = in.key(dst, `,"flags":`)
	dst = appendUint(dst, uint64(p.Flags))
	dst = in.key(dst, `,"app_id":`)
	dst = appendUint(dst, uint64(p.AppID))
	dst = in.key(dst, `,"slp":`)
	dst = appendString(dst, p.SLP)
	dst = in.key(dst, `,"slp_content_type":`)
	dst = appendString(dst, p.SLPContentType)
	return in.close(dst, '}')
}

// appendUser appends a User.
func appendUser(in *indenter, dst []byte, u *User) []byte {
	dst = in.key(dst, `{"user":`)
	dst = appendString(dst, u.User)
	dst = in.key(dst, `,"sessions":`)
	dst = appendInts(in, dst, u.Sessions)
	dst = in.key(dst, `,"conversations":`)
	dst = appendInts(in, dst, u.Conversations)
	dst = in.key(dst, `,"peers":`)
	dst = appendStrings(in, dst, u.Peers)
	dst = in.key(dst, `,"contacts_at_login":`)
	dst = appendSlice(in, dst, u.ContactsAtLogin, appendContactEntry)
	dst = in.key(dst, `,"contacts_at_end":`)
	dst = appendSlice(in, dst, u.ContactsAtEnd, appendContactEntry)
	return in.close(dst, '}')
}

// appendAnomalyRecord appends an AnomalyRecord.
func appendAnomalyRecord(dst []byte, r *AnomalyRecord) []byte {
	dst = append(dst, `{"type":`...)
	dst = appendString(dst, r.Type)
	dst = append(dst, `,"session":`...)
	dst = appendInt(dst, int64(r.Session))
	dst = append(dst, ',')
	dst = appendAnomalyFields(nil, dst, &r.Anomaly)
	return append(dst, '}')
}

// appendSessionRecord appends a SessionRecord.
func appendSessionRecord(dst []byte, r *SessionRecord) []byte {
	dst = append(dst, `{"type":`...)
	dst = appendString(dst, r.Type)
	dst = append(dst, ',')
	dst = appendSessionFields(nil, dst, &r.Session)
	return append(dst, '}')
}

// appendSummaryRecord appends a SummaryRecord.
func appendSummaryRecord(dst []byte, r *SummaryRecord) []byte {
	dst = append(dst, `{"type":`...)
	dst = appendString(dst, r.Type)
	dst = append(dst, `,"schema_version":`...)
	dst = appendInt(dst, int64(r.SchemaVersion))
	dst = append(dst, ',')
	dst = appendCaptureFields(nil, dst, &r.Capture)
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
	dst = appendStrings(nil, dst, r.Args)
	if r.LineBase64 != nil {
		dst = append(dst, `,"line_base64":`...)
		dst = appendString(dst, *r.LineBase64)
	}
	if len(r.Decoded) > 0 {
		dst = append(dst, `,"decoded":`...)
		dst = appendStrings(nil, dst, r.Decoded)
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
	dst = appendPtr(nil, dst, r.Payload, appendPayloadRecord)
	return append(dst, '}')
}

func appendPayloadRecord(in *indenter, dst []byte, p *Payload) []byte {
	dst = in.key(dst, `{"retained":`)
	dst = appendInt(dst, int64(p.Retained))
	dst = in.key(dst, `,"lost_bytes":`)
	dst = appendInt(dst, int64(p.LostBytes))
	if p.ContentType != "" {
		dst = in.key(dst, `,"content_type":`)
		dst = appendString(dst, p.ContentType)
	}
	if len(p.Headers) > 0 {
		dst = in.key(dst, `,"headers":`)
		dst = appendSlice(in, dst, p.Headers, appendHeader)
	}
	if len(p.Blocks) > 0 {
		dst = in.key(dst, `,"blocks":`)
		dst = in.open(dst, '[')
		for i, b := range p.Blocks {
			dst = in.elem(dst, i)
			dst = appendSlice(in, dst, b, appendHeader)
		}
		dst = in.close(dst, ']')
	}
	if p.Body != nil {
		dst = in.key(dst, `,"body":`)
		dst = appendString(dst, *p.Body)
	}
	if p.BodyBase64 != nil {
		dst = in.key(dst, `,"body_base64":`)
		dst = appendString(dst, *p.BodyBase64)
	}
	return in.close(dst, '}')
}

func appendHeader(in *indenter, dst []byte, h *Header) []byte {
	dst = in.key(dst, `{"name":`)
	dst = appendString(dst, h.Name)
	dst = in.key(dst, `,"value":`)
	dst = appendString(dst, h.Value)
	return in.close(dst, '}')
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
		dst = appendStrings(nil, dst, c.Args)
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
