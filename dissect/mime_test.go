package dissect

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// referenceParseMIME is ParseMIME as first written, line by line with a
// string per name and value: the independent reference the parsers built
// on ParseMIMEViews are held to.
func referenceParseMIME(b []byte) (hs []Header, body []byte, ok bool) {
	rest := b
	for len(hs) < maxHeaders {
		i := bytes.Index(rest, []byte("\r\n"))
		if i < 0 {
			return nil, b, false
		}
		line := rest[:i]
		rest = rest[i+2:]
		if len(line) == 0 {
			if len(hs) == 0 {
				return nil, b, false
			}
			return hs, rest, true
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found || len(name) == 0 || bytes.IndexByte(name, ' ') >= 0 {
			return nil, b, false
		}
		hs = append(hs, Header{Name: string(name), Value: string(bytes.TrimLeft(value, " "))})
	}
	if !bytes.Contains(b, []byte("\r\n\r\n")) {
		return nil, b, false
	}
	return hs, rest, true
}

// sameAsParseMIME returns "" when ParseMIME, mimeSlice and ParseMIMEViews
// read b as referenceParseMIME and HeaderValue do, else what differs.
func sameAsParseMIME(b []byte, names []string) string {
	hs, wantBody, wantOK := referenceParseMIME(b)
	ps, pbody, pok := ParseMIME(b)
	if pok != wantOK || !bytes.Equal(pbody, wantBody) || len(pbody) != len(wantBody) || fmt.Sprint(ps) != fmt.Sprint(hs) {
		return fmt.Sprintf("ParseMIME(%q) = %q, body %q, %v, want %q, %q, %v", b, ps, pbody, pok, hs, wantBody, wantOK)
	}
	vs, vbody, vok := ParseMIMEViews(b, nil)
	if vok != wantOK || !bytes.Equal(vbody, wantBody) || len(vbody) != len(wantBody) || len(vs) != len(hs) {
		return fmt.Sprintf("ParseMIMEViews(%q) = %d headers, body %q, %v, want %d, %q, %v", b, len(vs), vbody, vok, len(hs), wantBody, wantOK)
	}
	for i := range vs {
		if string(vs[i].Name) != hs[i].Name || string(vs[i].Value) != hs[i].Value {
			return fmt.Sprintf("ParseMIMEViews(%q) header %d = %q: %q, want %q: %q", b, i, vs[i].Name, vs[i].Value, hs[i].Name, hs[i].Value)
		}
	}
	values := make([][]byte, len(names))
	body, ok := mimeSlice(b, names, values)
	if ok != wantOK || !bytes.Equal(body, wantBody) || len(body) != len(wantBody) {
		return fmt.Sprintf("mimeSlice(%q) = body %q, %v, want %q, %v", b, body, ok, wantBody, wantOK)
	}
	if !ok {
		return ""
	}
	for i, n := range names {
		if got, want := string(values[i]), HeaderValue(hs, n); got != want {
			return fmt.Sprintf("mimeSlice(%q) %s = %q, want %q", b, n, got, want)
		}
	}
	return ""
}

func TestMIMESlice(t *testing.T) {
	many := strings.Repeat("X-A: 1\r\n", maxHeaders) + "Content-Type: text/plain\r\nbad line\r\n\r\nbody"
	tests := []struct {
		name string
		in   string
	}{
		{name: "text", in: "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Arial; EF=; CO=0\r\n\r\nhello"},
		{name: "typing", in: "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: a@b.c\r\n\r\n\r\n"},
		{name: "case", in: "content-type: text/plain\r\nx-mms-im-format:FN=A\r\nTYPINGUSER:   x\r\n\r\n"},
		{name: "first wins", in: "Content-Type: a\r\nContent-Type: b\r\n\r\n"},
		{name: "first wins when empty", in: "Content-Type:  \r\nContent-Type: b\r\n\r\n"},
		{name: "empty value", in: "Content-Type:\r\nTypingUser: \r\n\r\nx"},
		{name: "no header", in: "Content-Type: text/plain\r\nhello"},
		{name: "empty", in: ""},
		{name: "empty block", in: "\r\n\r\nbody"},
		{name: "no colon", in: "Content-Type text/plain\r\n\r\n"},
		{name: "empty name", in: ": x\r\n\r\n"},
		{name: "space in name", in: "Content Type: x\r\n\r\n"},
		{name: "colon in value", in: "Content-Type: a:b\r\n\r\n"},
		{name: "over maxHeaders", in: many},
		{name: "exactly maxHeaders", in: strings.Repeat("TypingUser: u\r\n", maxHeaders) + "\r\nbody"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := sameAsParseMIME([]byte(tt.in), classifyHeaders[:]); err != "" {
				t.Error(err)
			}
		})
	}
}

// TestMIMESliceAllocs checks that classify's header scan does not
// allocate.
func TestMIMESliceAllocs(t *testing.T) {
	b := []byte("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Arial; EF=; CO=0; CS=0; PF=22\r\n\r\nhello")
	var hv [len(classifyHeaders)][]byte
	if n := testing.AllocsPerRun(100, func() {
		hv = [len(classifyHeaders)][]byte{}
		mimeSlice(b, classifyHeaders[:], hv[:])
	}); n != 0 {
		t.Errorf("mimeSlice: %v allocations, want 0", n)
	}
	hs := make([]HeaderView, 0, 8)
	if n := testing.AllocsPerRun(100, func() { hs, _, _ = ParseMIMEViews(b, hs) }); n != 0 {
		t.Errorf("ParseMIMEViews: %v allocations, want 0", n)
	}
}
