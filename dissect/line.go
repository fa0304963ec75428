package dissect

import "bytes"

// maxDigits bounds the decimal numbers parsed from the wire (TrIDs, lengths,
// error codes): 10 digits hold every uint32.
const maxDigits = 10

// parseUint parses b strictly: ASCII digits only, 1 to maxDigits of them, no
// sign or space (as net/http parseContentLength). ok is false otherwise.
func parseUint(b []byte) (n int64, ok bool) {
	if len(b) == 0 || len(b) > maxDigits {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func isDigits(b []byte) bool {
	_, ok := parseUint(b)
	return ok
}

// isVerbShape reports whether b has the shape of a verb: three upper-case
// letters, or three digits for an error code (msnp-grammar.md §1).
func isVerbShape(b []byte) bool {
	if len(b) != 3 {
		return false
	}
	if isDigits(b) {
		return true
	}
	for _, c := range b {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// splitLine splits a command line (without its line end) at single spaces
// into the verb and its parameters. The parameters are appended to
// params[:0] as views of line, so the call allocates only when params must
// grow.
func splitLine(line []byte, params [][]byte) (verb []byte, out [][]byte) {
	out = params[:0]
	i := bytes.IndexByte(line, ' ')
	if i < 0 {
		return line, out
	}
	verb, line = line[:i], line[i+1:]
	for {
		j := bytes.IndexByte(line, ' ')
		if j < 0 {
			return verb, append(out, line)
		}
		out = append(out, line[:j])
		line = line[j+1:]
	}
}

// lineShape is what the verb table says about one line.
type lineShape struct {
	spec    *VerbSpec
	errCode int   // >0 for an error reply "NNN TrID"
	hasTrID bool  // params[0] is the TrID
	trid    int64 // valid when hasTrID
	// payload is the announced payload length, or -1 for none.
	payload int
	// badLength is set when the verb needs a length and the token is not
	// a strict decimal number.
	badLength bool
}

// shapeOf applies the verb table to a split line in direction d under
// protocol version ver (0 when unknown).
func shapeOf(verb []byte, params [][]byte, d Dir, ver int) lineShape {
	sh := lineShape{payload: -1}
	if n, ok := parseUint(verb); ok && len(verb) == 3 {
		sh.errCode = int(n)
		if len(params) > 0 {
			sh.trid, sh.hasTrID = parseUint(params[0])
		}
		return sh
	}
	sh.spec = lookupVerb(verb)
	if sh.spec == nil {
		// Unknown verb: a numeric first parameter is taken as a TrID, so
		// that replies to it can still be matched; no payload is assumed.
		if len(params) > 0 {
			sh.trid, sh.hasTrID = parseUint(params[0])
		}
		return sh
	}
	f := sh.spec.form(d)
	if !f.ok {
		// Wrong direction: read it as the other direction does.
		f = sh.spec.form(d.Reverse())
	}
	switch f.trid {
	case tridYes:
		if len(params) > 0 {
			sh.trid, sh.hasTrID = parseUint(params[0])
		}
	case tridIfNumeric:
		if len(params) > 1 {
			sh.trid, sh.hasTrID = parseUint(params[0])
		}
	case tridBefore8:
		if (ver == 0 || ver < 8) && len(params) > 1 {
			sh.trid, sh.hasTrID = parseUint(params[0])
		}
	}
	first := 0
	if sh.hasTrID {
		first = 1
	}
	switch f.payload {
	case payLast:
		if len(params) <= first {
			sh.badLength = true
			break
		}
		n, ok := parseUint(params[len(params)-1])
		if !ok {
			sh.badLength = true
			break
		}
		sh.payload = int(n)
	case payLastIfNumeric:
		if len(params) > first {
			if n, ok := parseUint(params[len(params)-1]); ok {
				sh.payload = int(n)
			}
		}
	}
	return sh
}
