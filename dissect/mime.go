package dissect

import "bytes"

// Header is one MIME header of a MSG payload.
type Header struct {
	Name  string
	Value string
}

// maxHeaders bounds the MIME headers parsed from one payload; real MSG
// payloads have fewer than 10.
const maxHeaders = 64

// ParseMIME splits a MSG payload into its MIME headers and body
// (commands/msg.md): "Name: value" lines ending in CRLF, then an empty
// line. ok is false when b does not start with a complete header block;
// then body is b. Header strings are copies; body is a view of b.
func ParseMIME(b []byte) (hs []Header, body []byte, ok bool) {
	rest := b
	for len(hs) < maxHeaders {
		i := bytes.Index(rest, []byte("\r\n"))
		if i < 0 {
			return nil, b, false
		}
		line := rest[:i]
		rest = rest[i+2:]
		if len(line) == 0 {
			return hs, rest, len(hs) > 0
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found || len(name) == 0 || bytes.IndexByte(name, ' ') >= 0 {
			return nil, b, false
		}
		hs = append(hs, Header{Name: string(name), Value: string(bytes.TrimLeft(value, " "))})
	}
	return hs, rest, true
}

// HeaderValue returns the value of the first header named name (case
// insensitive), or "".
func HeaderValue(hs []Header, name string) string {
	for _, h := range hs {
		if len(h.Name) == len(name) && bytes.EqualFold([]byte(h.Name), []byte(name)) {
			return h.Value
		}
	}
	return ""
}

// mediaType returns the content type without its parameters, lower-cased.
func mediaType(ct string) string {
	if i := bytes.IndexByte([]byte(ct), ';'); i >= 0 {
		ct = ct[:i]
	}
	return string(bytes.ToLower(bytes.TrimSpace([]byte(ct))))
}
