package report

import (
	"bufio"
	"bytes"
	"strconv"

	"github.com/msnsniff/msnsniff/dissect"
)

// transcriptWriter writes commands in the spec's transcript form, which
// dissect.ParseTranscript reads back: "@conn CLIENT SERVER" whenever the
// session changes, "C: line" / "S: line", each payload as text lines
// (CRLF shown as a line end). Wire bytes are escaped as dissect.EscapeText
// does unless raw is set.
type transcriptWriter struct {
	w       *bufio.Writer
	raw     bool
	verbose bool
	cur     int
	buf     []byte
}

// command writes c; complete says whether its payload was wholly captured
// (a redacted payload is shorter than announced, but complete).
func (t *transcriptWriter) command(s *dissect.Session, c *dissect.Command, complete bool) error {
	b := t.buf[:0]
	if s.ID != t.cur {
		t.cur = s.ID
		b = append(b, "@conn "...)
		b = append(b, s.Conn.Client.String()...)
		b = append(b, ' ')
		b = append(b, s.Conn.Server.String()...)
		b = append(b, '\n')
	}
	if t.verbose {
		b = append(b, "# "...)
		b = append(b, Time{c.Time}.String()...)
		b = append(b, " session "...)
		b = strconv.AppendInt(b, int64(s.ID), 10)
		b = append(b, ' ')
		b = append(b, c.Role...)
		b = append(b, '\n')
	}
	b = append(b, c.Dir.Prefix()...)
	b = append(b, ": "...)
	b = t.text(b, []byte(c.Line()))
	b = append(b, '\n')
	if c.PayloadLen > 0 {
		p := c.Payload
		for len(p) > 0 {
			i := bytes.Index(p, []byte("\r\n"))
			if i < 0 {
				b = t.text(b, p)
				b = append(b, '\n')
				break
			}
			b = t.text(b, p[:i])
			b = append(b, '\n')
			p = p[i+2:]
		}
		if shown := len(c.Payload); !complete {
			b = append(b, "# payload incomplete: "...)
			b = strconv.AppendInt(b, int64(shown), 10)
			b = append(b, " of "...)
			b = strconv.AppendInt(b, int64(c.PayloadLen), 10)
			b = append(b, " bytes shown\n"...)
		}
	}
	t.buf = b
	_, err := t.w.Write(b)
	return err
}

func (t *transcriptWriter) text(dst, b []byte) []byte {
	if t.raw {
		return append(dst, b...)
	}
	return dissect.EscapeText(dst, b)
}
