package report

import (
	"bytes"
	"encoding/json"
	"io"
)

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

// head writes the document's start, up to the sessions' array.
func (j *jsonWriter) head(c Capture) {
	j.raw("{\n  \"schema_version\": ")
	j.value(SchemaVersion, "  ")
	j.raw(",\n  \"capture\": ")
	j.value(c, "  ")
	j.raw(",\n  \"sessions\": ")
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
