package dissect

import (
	"bytes"
	"strings"
)

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
	var buf [maxHeaders]HeaderView
	vs, body, ok := ParseMIMEViews(b, buf[:0])
	if !ok {
		return nil, b, false
	}
	// One string for the header block, names and values substrings of it.
	block := string(b[:len(b)-len(body)])
	hs = make([]Header, len(vs))
	for i, v := range vs {
		hs[i] = Header{Name: substring(block, b, v.Name), Value: substring(block, b, v.Value)}
	}
	return hs, body, true
}

// substring returns view v of b as the same bytes of s, a copy of b's
// start: v's offset in b is what its capacity lacks of b's.
func substring(s string, b, v []byte) string {
	if len(v) == 0 {
		return ""
	}
	off := cap(b) - cap(v)
	return s[off : off+len(v)]
}

// mimeSlice reads b's header block as ParseMIME does, without allocating.
// For each of names it sets values[i] to the value of the first header
// so named (case insensitive), a view of b; values[i] stays nil when there
// is none. body and ok are ParseMIME's.
func mimeSlice(b []byte, names []string, values [][]byte) (body []byte, ok bool) {
	var buf [maxHeaders]HeaderView
	vs, body, ok := ParseMIMEViews(b, buf[:0])
	for k, w := range names {
		for _, v := range vs {
			if len(v.Name) == len(w) && bytes.EqualFold(v.Name, []byte(w)) {
				values[k] = v.Value
				break
			}
		}
	}
	return body, ok
}

// HeaderView is a MIME header as views of the payload it was read from.
type HeaderView struct {
	Name, Value []byte
}

// ParseMIMEViews reads b's header block as ParseMIME does, but appends the
// headers to hs[:0] as views of b instead of copying them: with hs reused,
// it does not allocate. The views are valid as long as b. It is the one
// reader of the header block; ParseMIME and classify are built on it.
func ParseMIMEViews(b []byte, hs []HeaderView) ([]HeaderView, []byte, bool) {
	hs = hs[:0]
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return hs, b, false
	}
	block := b[:end+2]
	rest := block
	for len(hs) < maxHeaders {
		i := bytes.Index(rest, []byte("\r\n"))
		if i < 0 {
			return hs, b[end+4:], len(hs) > 0
		}
		line := rest[:i]
		rest = rest[i+2:]
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found || len(name) == 0 || bytes.IndexByte(name, ' ') >= 0 {
			return hs[:0], b, false
		}
		hs = append(hs, HeaderView{Name: name, Value: bytes.TrimLeft(value, " ")})
	}
	// More than maxHeaders headers: the body starts after the last read.
	return hs, b[len(block)-len(rest):], true
}

// ParseHeaders reads "Name: value" lines up to an empty line or the end
// of b, whichever comes first: the form of the bodies nested in a MSG
// payload (an invitation's fields, a datacast's ID), whose last line may
// end the payload without an empty line after it.
func ParseHeaders(b []byte) []Header {
	var hs []Header
	for len(b) > 0 && len(hs) < maxHeaders {
		line := b
		if i := bytes.Index(b, []byte("\r\n")); i >= 0 {
			line, b = b[:i], b[i+2:]
		} else {
			b = nil
		}
		if len(line) == 0 {
			break
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found || len(name) == 0 {
			continue
		}
		hs = append(hs, Header{Name: string(name), Value: string(bytes.TrimLeft(value, " "))})
	}
	return hs
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
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	for _, t := range knownMediaTypes {
		if strings.EqualFold(ct, t) {
			return t
		}
	}
	return strings.ToLower(ct)
}

// knownMediaTypes are the MSG content types classify tells apart, which
// mediaType returns without allocating.
var knownMediaTypes = []string{
	"text/plain", "text/x-msmsgscontrol", "text/x-msmsgsinvite", "text/x-msnmsgr-datacast",
	"text/x-mms-emoticon", "text/x-mms-animemoticon", "application/x-ms-ink", "image/gif",
	"application/x-msnmsgrp2p",
}

// Block is one header block of an MSNP21 payload (SDG, PUT, DEL, NFY):
// "Routing: 1.0", "Reliability: 1.0", "Messaging: 2.0", "Publication: 1.0"
// or "Notification: 1.0" with the headers that follow it
// (msnp-grammar.md §2, [KB21]).
type Block struct {
	Headers []Header
}

// maxBlocks bounds the header blocks read from one payload; MSNP21 uses
// three.
const maxBlocks = 8

// ParseBlocks splits an MSNP21 payload into its header blocks, each ended
// by an empty line, and the body after the last one (the block whose
// first header is Messaging, Publication or Notification is the last).
// ok is false when b does not start with a header block.
func ParseBlocks(b []byte) (blocks []Block, body []byte, ok bool) {
	rest := b
	for len(blocks) < maxBlocks {
		hs, after, ok := ParseMIME(rest)
		if !ok {
			break
		}
		blocks = append(blocks, Block{Headers: hs})
		rest = after
		switch hs[0].Name {
		case "Messaging", "Publication", "Notification":
			return blocks, rest, true
		}
	}
	return blocks, rest, len(blocks) > 0
}
