package dissect

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultClient and DefaultServer are the endpoints of a transcript's
// first connection when no "@conn" directive names them.
var (
	DefaultClient = netip.MustParseAddrPort("192.168.0.2:50000")
	DefaultServer = netip.MustParseAddrPort("10.0.0.1:1863")
)

// TranscriptError locates a problem in a transcript.
type TranscriptError struct {
	Line int
	Msg  string
}

func (e *TranscriptError) Error() string { return fmt.Sprintf("transcript line %d: %s", e.Line, e.Msg) }

// ParseTranscript reads a transcript in the spec's form (the "C:"/"S:"
// examples of msnp-spec/versions/*.md), with these additions:
//
//   - "# text" is a comment; blank lines between commands are ignored;
//   - "@conn CLIENT SERVER" (ip:port each, IPv6 as [ip]:port) makes the
//     named connection current, opening it on first use; commands before
//     any @conn use DefaultClient and DefaultServer;
//   - "@wait DURATION" (Go syntax: 500ms, 2s) lets packet time pass;
//   - a payload command's line is followed by its payload as text lines,
//     each counting as its bytes plus CRLF; a payload that does not end
//     in CRLF ends at the end of a text line, and that line end is not
//     part of it (so "QRY 10 key 32" is followed by one line of 32 bytes);
//   - in command and payload text, "\\" is a backslash and "\xNN" the byte
//     0xNN, the escapes msnsniff's transcript output uses for control
//     bytes and invalid UTF-8.
//
// Payload lengths are found with the verb table (msnp-grammar.md §2).
func ParseTranscript(text []byte) (*Transcript, error) {
	t := &Transcript{}
	conns := map[TranscriptConn]int{}
	cur := -1
	var wait time.Duration
	lines := strings.Split(strings.ReplaceAll(string(text), "\r\n", "\n"), "\n")
	if n := len(lines); n > 0 && lines[n-1] == "" {
		lines = lines[:n-1]
	}
	var params [][]byte
	for i := 0; i < len(lines); i++ {
		ln := lines[i]
		num := i + 1
		switch {
		case strings.TrimSpace(ln) == "", strings.HasPrefix(ln, "#"):
			continue
		case strings.HasPrefix(ln, "@conn "):
			f := strings.Fields(ln[len("@conn "):])
			if len(f) != 2 {
				return nil, &TranscriptError{num, "@conn needs CLIENT SERVER"}
			}
			c, err1 := netip.ParseAddrPort(f[0])
			s, err2 := netip.ParseAddrPort(f[1])
			if err1 != nil || err2 != nil {
				return nil, &TranscriptError{num, "@conn: bad address: " + ln}
			}
			key := TranscriptConn{Client: c, Server: s}
			idx, ok := conns[key]
			if !ok {
				idx = len(t.Conns)
				conns[key] = idx
				t.Conns = append(t.Conns, key)
			}
			cur = idx
			continue
		case strings.HasPrefix(ln, "@wait "):
			d, err := time.ParseDuration(strings.TrimSpace(ln[len("@wait "):]))
			if err != nil || d < 0 {
				return nil, &TranscriptError{num, "@wait: bad duration"}
			}
			wait += d
			continue
		case strings.HasPrefix(ln, "@"):
			return nil, &TranscriptError{num, "unknown directive " + strconv.Quote(ln)}
		}
		var d Dir
		switch {
		case strings.HasPrefix(ln, "C: "):
			d = C2S
		case strings.HasPrefix(ln, "S: "):
			d = S2C
		default:
			return nil, &TranscriptError{num, "expected C: or S: line, got " + strconv.Quote(ln)}
		}
		if cur < 0 {
			key := TranscriptConn{Client: DefaultClient, Server: DefaultServer}
			conns[key] = 0
			t.Conns = append(t.Conns, key)
			cur = 0
		}
		cmd := UnescapeText(ln[3:])
		var verb []byte
		verb, params = splitLine(cmd, params)
		if !isVerbShape(verb) {
			return nil, &TranscriptError{num, "not a command: " + strconv.Quote(ln)}
		}
		sh := shapeOf(verb, params, d, 0)
		data := append(cmd, '\r', '\n')
		if sh.badLength {
			return nil, &TranscriptError{num, "payload length missing or not a number"}
		}
		if sh.payload > 0 {
			var pay []byte
			for len(pay) < sh.payload {
				i++
				if i >= len(lines) {
					return nil, &TranscriptError{num, fmt.Sprintf("payload of %d bytes runs past the end (%d read)", sh.payload, len(pay))}
				}
				pay = append(pay, UnescapeText(lines[i])...)
				pay = append(pay, '\r', '\n')
			}
			switch len(pay) - sh.payload {
			case 0:
			case 2:
				pay = pay[:sh.payload] // the payload ends at a text line end
			default:
				return nil, &TranscriptError{i + 1, fmt.Sprintf("payload of %d bytes ends inside this line", sh.payload)}
			}
			data = append(data, pay...)
		}
		t.Events = append(t.Events, TranscriptEvent{Conn: cur, Dir: d, Wait: wait, Data: data})
		wait = 0
	}
	return t, nil
}

// UnescapeText undoes the transcript escapes: "\\" is a backslash, "\xNN"
// the byte 0xNN. Other backslashes are kept. It returns a new slice.
func UnescapeText(s string) []byte {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			if s[i+1] == '\\' {
				b = append(b, '\\')
				i++
				continue
			}
			if s[i+1] == 'x' && i+3 < len(s) {
				hi, ok1 := unhex(s[i+2])
				lo, ok2 := unhex(s[i+3])
				if ok1 && ok2 {
					b = append(b, hi<<4|lo)
					i += 3
					continue
				}
			}
		}
		b = append(b, c)
	}
	return b
}

// EscapeText is the inverse of UnescapeText: it makes control bytes
// other than TAB (so ESC, CR and LF among them), DEL, C1 controls and invalid UTF-8 visible as
// "\xNN" and doubles backslashes, so that the result is safe to print on a
// terminal and parses back to the same bytes.
func EscapeText(dst []byte, b []byte) []byte {
	const hexdig = "0123456789abcdef"
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '\\':
			dst = append(dst, '\\', '\\')
			i++
		case (c < 0x20 && c != '\t') || c == 0x7f:
			dst = append(dst, '\\', 'x', hexdig[c>>4], hexdig[c&15])
			i++
		case c < 0x80:
			dst = append(dst, c)
			i++
		default:
			r, n := decodeRune(b[i:])
			if r < 0 || (r >= 0x80 && r <= 0x9f) {
				for _, x := range b[i : i+n] {
					dst = append(dst, '\\', 'x', hexdig[x>>4], hexdig[x&15])
				}
			} else {
				dst = append(dst, b[i:i+n]...)
			}
			i += n
		}
	}
	return dst
}

// NeedsEscape reports whether EscapeText would change b.
func NeedsEscape(b []byte) bool {
	for i := 0; i < len(b); {
		c := b[i]
		if c == '\\' || (c < 0x20 && c != '\t') || c == 0x7f {
			return true
		}
		if c < 0x80 {
			i++
			continue
		}
		r, n := decodeRune(b[i:])
		if r < 0 || (r >= 0x80 && r <= 0x9f) {
			return true
		}
		i += n
	}
	return false
}

// decodeRune returns the rune at the start of b and its length, with r = -1
// and n = 1 for an invalid encoding.
func decodeRune(b []byte) (r rune, n int) {
	r, n = utf8.DecodeRune(b)
	if r == utf8.RuneError && n <= 1 {
		return -1, 1
	}
	return r, n
}
