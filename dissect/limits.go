package dissect

// Limits bounds what the dissector keeps for untrusted input. The zero
// value of each field means its default, never "unlimited".
type Limits struct {
	// MaxLine is the longest command line accepted, CRLF included. No line
	// length is documented (msnp-grammar.md §1); the longest real lines are
	// URL-encoded MSNObjects in CHG/ILN/NLN (about 1.5 KB), so 16 KiB leaves
	// a wide margin while bounding memory. Longer lines are cut, counted
	// and skipped up to the next LF.
	MaxLine int
	// MaxPayload is the largest payload length believed. Real payloads are
	// a few KB (SB MSG up to 1664 bytes, ADL about 7500 bytes, policies and
	// NOT documents under 64 KiB); 1 MiB covers all of them. A longer
	// announced length is reported as bad_length and not honoured.
	MaxPayload int
	// RetainPayload is how many leading bytes of each payload are kept for
	// the report (MIME headers, message text). Longer payloads are still
	// counted and skipped by length.
	RetainPayload int
	// MaxPending is the number of client transactions awaiting a reply per
	// session; beyond it the oldest pending one is evicted and counted.
	// Real clients have a handful outstanding (SYN, CHG, a few list edits).
	MaxPending int
	// MaxTransactions is the number of transactions a session keeps in
	// its report; later ones are still matched and counted, not listed.
	// A day-long NS session sends a few thousand commands.
	MaxTransactions int
}

const (
	defaultMaxLine         = 16 << 10
	defaultMaxPayload      = 1 << 20
	defaultRetainPayload   = 64 << 10
	defaultMaxPending      = 1024
	defaultMaxTransactions = 100000
)

// withDefaults returns l with every zero field set to its default.
func (l Limits) withDefaults() Limits {
	if l.MaxLine <= 0 {
		l.MaxLine = defaultMaxLine
	}
	if l.MaxPayload <= 0 {
		l.MaxPayload = defaultMaxPayload
	}
	if l.RetainPayload <= 0 {
		l.RetainPayload = defaultRetainPayload
	}
	if l.RetainPayload > l.MaxPayload {
		l.RetainPayload = l.MaxPayload
	}
	if l.MaxPending <= 0 {
		l.MaxPending = defaultMaxPending
	}
	if l.MaxTransactions <= 0 {
		l.MaxTransactions = defaultMaxTransactions
	}
	return l
}
