package report

import (
	"encoding/base64"
	"io"
	"unicode/utf8"

	"github.com/msnsniff/msnsniff/dissect"
)

// CommandRecord is one NDJSON line per MSNP command.
type CommandRecord struct {
	// Type is "command".
	Type    string `json:"type"`
	Session int    `json:"session"`
	// Seq numbers the session's commands from 0.
	Seq  int    `json:"seq"`
	Time Time   `json:"time"`
	Dir  string `json:"dir"`
	Verb string `json:"verb"`
	// TrID is null when the verb carries none in this direction and
	// version.
	TrID *int64 `json:"trid"`
	// Args are the raw parameters after the verb and TrID.
	Args []string `json:"args"`
	// LineBase64 holds the exact bytes of the command line when it is not
	// valid UTF-8 (JSON would otherwise replace the bad bytes).
	LineBase64 *string `json:"line_base64,omitempty"`
	// Decoded holds the URL-decoded parameters, present only when one
	// differs from its raw form.
	Decoded []string `json:"decoded,omitempty"`
	// Role is request, reply, error or server.
	Role      string `json:"role"`
	ErrorCode *int   `json:"error_code"`
	// Offset is the line's byte offset in its direction of the stream.
	Offset int64 `json:"offset"`
	// PayloadLen is the announced payload length, 0 without a payload.
	PayloadLen int      `json:"payload_len"`
	Payload    *Payload `json:"payload"`
}

// Payload is a command's payload as far as it was kept.
type Payload struct {
	// Retained is how many bytes were kept; LostBytes how many were
	// never captured.
	Retained  int `json:"retained"`
	LostBytes int `json:"lost_bytes"`
	// ContentType and Headers are the MIME headers of a MSG payload.
	ContentType string   `json:"content_type,omitempty"`
	Headers     []Header `json:"headers,omitempty"`
	// Blocks are the header blocks of an MSNP21 payload (SDG, PUT, DEL,
	// NFY): Routing, Reliability, then Messaging, Publication or
	// Notification.
	Blocks [][]Header `json:"blocks,omitempty"`
	// Body is the payload (after the MIME headers for MSG) when it is
	// valid UTF-8; otherwise BodyBase64 holds its exact bytes.
	Body       *string `json:"body,omitempty"`
	BodyBase64 *string `json:"body_base64,omitempty"`
}

// Header is one MIME header.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// NewCommandRecord converts a command.
func NewCommandRecord(c *dissect.Command) CommandRecord {
	r := CommandRecord{Type: "command", Session: c.Session, Seq: c.Seq, Time: Time{c.Time}, Dir: c.Dir.String(),
		Verb: c.Verb, Args: nonNil(c.Args), Role: string(c.Role), ErrorCode: code(c.ErrorCode), Offset: c.Offset}
	if c.HasTrID {
		r.TrID = ptr(c.TrID)
	}
	if line := c.Line(); !utf8.ValidString(line) {
		r.LineBase64 = ptr(base64.StdEncoding.EncodeToString([]byte(line)))
	}
	for i, a := range c.Args {
		if d := dissect.Unescape(a); d != a {
			if r.Decoded == nil {
				r.Decoded = append([]string(nil), c.Args...)
			}
			r.Decoded[i] = d
		}
	}
	if c.PayloadLen >= 0 {
		r.PayloadLen = c.PayloadLen
		r.Payload = newPayload(c)
	}
	return r
}

func newPayload(c *dissect.Command) *Payload {
	p := &Payload{Retained: len(c.Payload), LostBytes: c.PayloadLost}
	body := c.Payload
	switch c.Verb {
	case "SDG", "PUT", "DEL", "NFY":
		if bs, rest, ok := dissect.ParseBlocks(body); ok {
			for _, b := range bs {
				var hs []Header
				for _, h := range b.Headers {
					hs = append(hs, Header{Name: h.Name, Value: h.Value})
				}
				p.Blocks = append(p.Blocks, hs)
			}
			p.ContentType = dissect.HeaderValue(bs[len(bs)-1].Headers, "Content-Type")
			body = rest
		}
	}
	if c.Verb == "MSG" {
		hs, rest, ok := dissect.ParseMIME(body)
		if ok {
			for _, h := range hs {
				p.Headers = append(p.Headers, Header{Name: h.Name, Value: h.Value})
			}
			p.ContentType = dissect.HeaderValue(hs, "Content-Type")
			body = rest
		}
	}
	if utf8.Valid(body) {
		p.Body = ptr(string(body))
	} else {
		p.BodyBase64 = ptr(base64.StdEncoding.EncodeToString(body))
	}
	return p
}

// AnomalyRecord is one NDJSON line per anomaly.
type AnomalyRecord struct {
	// Type is "anomaly".
	Type    string `json:"type"`
	Session int    `json:"session"`
	Anomaly
}

// SessionRecord is the NDJSON line written when a session ends.
type SessionRecord struct {
	// Type is "session".
	Type string `json:"type"`
	Session
}

// SummaryRecord is the last NDJSON line.
type SummaryRecord struct {
	// Type is "summary".
	Type          string `json:"type"`
	SchemaVersion int    `json:"schema_version"`
	Capture
}

// ndjsonWriter writes the NDJSON records with the appenders of append.go
// into one reused buffer, a Write to w per line: the bytes json.Encoder
// (SetEscapeHTML(false)) would write, without its reflection.
type ndjsonWriter struct {
	w   io.Writer
	buf []byte
	cmd commandEncoder
}

// maxLineBuffer bounds the line buffer kept between records; a line
// longer than that (a large payload full of escapes) gets its own buffer,
// dropped after the write. Most lines are under 1 KiB.
const maxLineBuffer = 256 << 10

func newNDJSONWriter(w io.Writer) *ndjsonWriter {
	return &ndjsonWriter{w: w, buf: make([]byte, 0, 4<<10)}
}

// write writes the line b, built in n.buf, with its newline.
func (n *ndjsonWriter) write(b []byte) error {
	b = append(b, '\n')
	_, err := n.w.Write(b)
	if cap(b) <= maxLineBuffer {
		n.buf = b[:0]
	}
	return err
}

func (n *ndjsonWriter) command(c *dissect.Command) error {
	return n.write(n.cmd.appendCommand(n.buf[:0], c))
}

func (n *ndjsonWriter) anomaly(session int, a *dissect.Anomaly) error {
	r := AnomalyRecord{Type: "anomaly", Session: session, Anomaly: NewAnomaly(a)}
	return n.write(appendAnomalyRecord(n.buf[:0], &r))
}

func (n *ndjsonWriter) session(s *dissect.Session) error {
	r := SessionRecord{Type: "session", Session: NewSession(s)}
	return n.write(appendSessionRecord(n.buf[:0], &r))
}

func (n *ndjsonWriter) summary(c Capture) error {
	r := SummaryRecord{Type: "summary", SchemaVersion: SchemaVersion, Capture: c}
	return n.write(appendSummaryRecord(n.buf[:0], &r))
}
