package dissect

// Unescape decodes the URL encoding MSNP uses for friendly names, group
// names and property values (msnp-grammar.md §1: "%20"). Malformed escapes
// are kept as they are, so no input is lost.
func Unescape(s string) string {
	i := 0
	for i < len(s) && s[i] != '%' {
		i++
	}
	if i == len(s) {
		return s
	}
	b := make([]byte, 0, len(s))
	for j := 0; j < len(s); j++ {
		if s[j] == '%' && j+2 < len(s) {
			hi, ok1 := unhex(s[j+1])
			lo, ok2 := unhex(s[j+2])
			if ok1 && ok2 {
				b = append(b, hi<<4|lo)
				j += 2
				continue
			}
		}
		b = append(b, s[j])
	}
	return string(b)
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
