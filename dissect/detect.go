package dissect

import "bytes"

// Detection of MSNP on ports outside the configured ones (issue: MSNP on
// port 80 or 443, a proxy's port, a revival server's own port).

// maxDetectLine bounds the bytes looked at to recognise a first line.
const maxDetectLine = 512

// Sniff reports whether b, the first bytes one side of a TCP connection
// sent, start with an MSNP command line, and which side sends such a line:
// fromClient is true for a client's line (VER with an MSNP dialect, USR,
// ANS, CVR...), false for a server's. A line needs its CRLF, a known verb
// of the right shape for that side, and printable parameters; "VER n
// MSNPx" alone is taken from either side (the client speaks first, but a
// capture may miss its line).
func Sniff(b []byte) (ok, fromClient bool) {
	if len(b) > maxDetectLine {
		b = b[:maxDetectLine]
	}
	i := bytes.Index(b, []byte("\r\n"))
	if i < 3 {
		return false, false
	}
	var store [16][]byte
	verb, params := splitLine(b[:i], store[:0])
	v := lookupVerb(verb)
	if v == nil {
		return false, false
	}
	if !plausible(verb, params, C2S, false) && !plausible(verb, params, S2C, false) {
		return false, false
	}
	if v.Verb == "VER" {
		// VER t MSNPn ... (commands/ver.md): the dialect must be there.
		for _, p := range params[min(1, len(params)):] {
			if bytes.HasPrefix(p, []byte("MSNP")) || bytes.Equal(p, []byte("CVR0")) {
				return true, len(params) > 2
			}
		}
		return false, false
	}
	c2s, s2c := v.form(C2S).ok && v.args(C2S).allows(len(params)-firstArg(v, C2S, params)),
		v.form(S2C).ok && v.args(S2C).allows(len(params)-firstArg(v, S2C, params))
	switch {
	case c2s && !s2c:
		return true, true
	case s2c && !c2s:
		return true, false
	case c2s && s2c:
		// A verb both sides send (USR, CHG, MSG...): a client's line
		// carries a TrID where the server's may not; take the client.
		return true, true
	}
	return false, false
}

// firstArg is 1 when the line's first parameter is its TrID in direction
// d, else 0.
func firstArg(v *VerbSpec, d Dir, params [][]byte) int {
	sh := shapeOf([]byte(v.Verb), params, d, 0)
	if sh.hasTrID {
		return 1
	}
	return 0
}
