package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"slices"

	"github.com/msnsniff/msnsniff/dissect"
)

// Redacted returns the token that stands for a credential in redacted
// output: "[redacted:" and the first 8 hex digits of its SHA-256 and "]".
// Equal values give equal tokens, so sessions can still be linked.
func Redacted(v string) string {
	sum := sha256.Sum256([]byte(v))
	return "[redacted:" + hex.EncodeToString(sum[:4]) + "]"
}

// redactCommand returns c with its credentials replaced (dissect.Secrets,
// dissect.SecretHeaders), or c itself when it has none. c is not changed.
func redactCommand(c *dissect.Command) *dissect.Command {
	idx := dissect.Secrets(c)
	payload, changed := c.Payload, false
	if c.Verb == "MSG" && len(payload) > 0 {
		payload, changed = redactHeaders(payload)
	}
	if len(idx) == 0 && !changed {
		return c
	}
	r := *c
	if len(idx) > 0 {
		r.Args = slices.Clone(c.Args)
		for _, i := range idx {
			r.Args[i] = Redacted(r.Args[i])
		}
	}
	r.Payload = payload
	return &r
}

// redactHeaders replaces the values of secret header lines ("Name: value"
// at a line start) anywhere in a MSG payload, so nested MIME blocks (an
// invitation's body) are covered too. It returns b itself and false when
// nothing is replaced.
func redactHeaders(b []byte) ([]byte, bool) {
	var out []byte
	rest := b
	changed := false
	for len(rest) > 0 {
		line := rest
		next := []byte(nil)
		if i := bytes.Index(rest, []byte("\r\n")); i >= 0 {
			line, next = rest[:i+2], rest[i+2:]
		}
		rest = next
		body := bytes.TrimSuffix(line, []byte("\r\n"))
		name, value, ok := bytes.Cut(body, []byte(": "))
		if ok && len(value) > 0 && slices.ContainsFunc(dissect.SecretHeaders, func(h string) bool { return bytes.EqualFold(name, []byte(h)) }) {
			out = append(out, name...)
			out = append(out, ": "...)
			out = append(out, Redacted(string(value))...)
			out = append(out, line[len(body):]...)
			changed = true
			continue
		}
		out = append(out, line...)
	}
	if !changed {
		return b, false
	}
	return out, true
}
