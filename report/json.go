package report

import (
	"bytes"
	"cmp"
	"encoding/json"
	"io"
	"slices"

	"github.com/msnsniff/msnsniff/dissect"
)

// writeJSON writes the report of all sessions as one indented JSON
// document, exactly as json.Encoder with a two-space indent would write a
// Report, one session at a time. Output streams the same document with
// jsonReport instead, without keeping the sessions; writeJSON is the
// reference it is tested against.
func writeJSON(w io.Writer, c Capture, sessions []*dissect.Session) error {
	ss := slices.Clone(sessions)
	slices.SortStableFunc(ss, func(a, b *dissect.Session) int {
		if x := a.StartTime.Compare(b.StartTime); x != 0 {
			return x
		}
		return cmp.Compare(a.ID, b.ID)
	})
	jw := &jsonWriter{w: w}
	jw.raw("{\n  \"schema_version\": ")
	jw.value(SchemaVersion, "  ")
	jw.raw(",\n  \"capture\": ")
	jw.value(c, "  ")
	jw.raw(",\n  \"sessions\": ")
	jw.array(len(ss), func(i int) { r := NewSession(ss[i]); jw.value(&r, "    ") })
	convs := BuildConversations(sessions)
	jw.raw(",\n  \"conversations\": ")
	jw.array(len(convs), func(i int) { jw.value(&convs[i], "    ") })
	users := BuildUsers(sessions, convs)
	jw.raw(",\n  \"users\": ")
	jw.array(len(users), func(i int) { jw.value(&users[i], "    ") })
	jw.raw("\n}\n")
	return jw.err
}

// jsonWriter writes pieces of an indented JSON document.
type jsonWriter struct {
	w   io.Writer
	buf bytes.Buffer
	err error
}

func (j *jsonWriter) raw(s string) {
	if j.err == nil {
		_, j.err = io.WriteString(j.w, s)
	}
}

// value writes v indented as an element nested under prefix.
func (j *jsonWriter) value(v any, prefix string) {
	if j.err != nil {
		return
	}
	j.buf.Reset()
	enc := json.NewEncoder(&j.buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent(prefix, "  ")
	if j.err = enc.Encode(v); j.err != nil {
		return
	}
	_, j.err = j.w.Write(bytes.TrimSuffix(j.buf.Bytes(), []byte("\n")))
}

func (j *jsonWriter) bytes(b []byte) {
	if j.err == nil {
		_, j.err = j.w.Write(b)
	}
}

// array writes a top-level member's array of n elements, element i
// written by put.
func (j *jsonWriter) array(n int, put func(i int)) {
	if n == 0 {
		j.raw("[]")
		return
	}
	j.raw("[")
	for i := 0; i < n; i++ {
		if i > 0 {
			j.raw(",")
		}
		j.raw("\n    ")
		if j.err == nil {
			put(i)
		}
	}
	j.raw("\n  ]")
}
