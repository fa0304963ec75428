package dissect

// Service is a bit set of the MSNP services a verb is used on.
type Service uint8

const (
	// DS is the dispatch server.
	DS Service = 1 << iota
	// NS is the notification server.
	NS
	// SB is the switchboard.
	SB
)

// tridRule says whether the first parameter of a line is a TrID.
type tridRule uint8

const (
	// tridNone: the line has no TrID (MSG from the server, NLN, BYE, ...).
	tridNone tridRule = iota
	// tridYes: the first parameter is the TrID.
	tridYes
	// tridIfNumeric: the first parameter is a TrID when it is all digits.
	// Used where a reply carries one but the same verb inside a MSNP8+ SYN
	// does not: "BLP 5 12 AL" against "BLP AL" (commands/syn.md).
	tridIfNumeric
	// tridBefore8: a TrID in MSNP2-7, none from MSNP8 (SYN children LSG and
	// LST, whose MSNP8 form starts with a group id or handle;
	// versions/msnp8.md). With the version unknown, a numeric first
	// parameter is taken as a TrID.
	tridBefore8
)

// payloadRule says whether a line announces a payload and where its length
// is (msnp-grammar.md §2).
type payloadRule uint8

const (
	// payNone: no payload, whatever the last parameter looks like (the
	// traps "QRY 10", "UUX 5 0", "ACK 3", "CHL 0 ...").
	payNone payloadRule = iota
	// payLast: the last parameter after the TrID is the payload length and
	// must be present.
	payLast
	// payLastIfNumeric: the last parameter after the TrID is a length when
	// it is all digits ("ADL 0 110", "PUT 3 OK 120"), and there is no
	// payload otherwise ("ADL 3 OK").
	payLastIfNumeric
)

// form is what a verb looks like in one direction.
type form struct {
	ok      bool
	trid    tridRule
	payload payloadRule
}

var (
	noForm  = form{}
	withID  = form{ok: true, trid: tridYes}
	withIDP = form{ok: true, trid: tridYes, payload: payLast}
	noID    = form{ok: true, trid: tridNone}
	noIDP   = form{ok: true, trid: tridNone, payload: payLast}
)

// VerbSpec is one row of the verb table: what a command is, where and when.
type VerbSpec struct {
	Verb     string
	Services Service
	// Intro is the first MSNP version with the verb; Removed the first
	// version without it (0: never removed up to MSNP21).
	Intro, Removed int
	c2s, s2c       form
	// c2sArgs and s2cArgs bound the number of parameters after the verb
	// and the TrID (when the line has one), over every version's form of
	// the line (msnp-grammar.md §3, the command pages).
	c2sArgs, s2cArgs argRange
	// Spec is the file in msnp-spec/ (or the supplementary source named in
	// msnp-grammar.md) the row comes from.
	Spec string
}

// C2S reports whether a client may send the verb.
func (v *VerbSpec) C2S() bool { return v.c2s.ok }

// S2C reports whether a server may send the verb.
func (v *VerbSpec) S2C() bool { return v.s2c.ok }

// argRange is an inclusive range of parameter counts; max -1 is no limit.
type argRange struct{ min, max int }

func (r argRange) allows(n int) bool { return n >= r.min && (r.max < 0 || n <= r.max) }

func (v *VerbSpec) args(d Dir) argRange {
	if d == S2C {
		return v.s2cArgs
	}
	return v.c2sArgs
}

func (v *VerbSpec) form(d Dir) form {
	if d == S2C {
		return v.s2c
	}
	return v.c2s
}

// verbTable is the protocol's verb table, from msnp-grammar.md §1.1, §2 and
// §3 and the command pages cited per row.
var verbTable = []VerbSpec{
	{"VER", DS | NS, 2, 0, withID, withID, argRange{1, -1}, argRange{1, -1}, "commands/ver.md"},
	{"INF", DS | NS, 2, 8, withID, withID, argRange{0, 0}, argRange{1, -1}, "commands/inf.md"},
	{"CVR", DS | NS, 2, 0, withID, withID, argRange{6, 9}, argRange{4, 6}, "commands/cvr.md"},
	{"CVQ", DS, 2, 0, withID, withID, argRange{6, 8}, argRange{4, 5}, "commands/cvq.md"},
	{"USR", DS | NS | SB, 2, 0, withID, withID, argRange{2, 5}, argRange{1, 5}, "commands/usr.md"},
	{"XFR", DS | NS, 2, 0, withID, withID, argRange{1, 2}, argRange{2, 7}, "commands/xfr.md"},
	{"OUT", DS | NS | SB, 2, 0, noID, noID, argRange{0, 0}, argRange{0, 2}, "commands/out.md"},
	{"FND", NS, 2, 0, withID, withID, argRange{5, 5}, argRange{2, 8}, "commands/fnd.md"},
	{"SND", NS, 2, 0, withID, withID, argRange{1, 4}, argRange{1, 1}, "commands/snd.md"},
	{"SDC", NS, 5, 0, withIDP, withID, argRange{7, 9}, argRange{1, 1}, "commands/sdc.md"},
	{"URL", NS, 2, 0, withID, withID, argRange{1, 2}, argRange{2, 3}, "commands/url.md"},
	{"BLP", NS, 2, 0, withID, form{ok: true, trid: tridIfNumeric}, argRange{1, 1}, argRange{1, 2}, "commands/blp.md"},
	{"GTC", NS, 2, 13, withID, form{ok: true, trid: tridIfNumeric}, argRange{1, 1}, argRange{1, 2}, "commands/gtc.md"},
	{"SYN", NS, 2, 13, withID, withID, argRange{1, 2}, argRange{1, 5}, "commands/syn.md"},
	{"LST", NS, 2, 13, withID, form{ok: true, trid: tridBefore8}, argRange{1, 1}, argRange{1, 8}, "commands/lst.md"},
	{"LSG", NS, 7, 13, withID, form{ok: true, trid: tridBefore8}, argRange{0, 0}, argRange{2, 7}, "commands/lsg.md"},
	{"ADD", NS, 2, 10, withID, withID, argRange{3, 4}, argRange{3, 6}, "commands/add.md"},
	{"REM", NS, 2, 13, withID, withID, argRange{2, 3}, argRange{2, 5}, "commands/rem.md"},
	{"ADC", NS, 10, 13, withID, withID, argRange{2, 3}, argRange{2, 4}, "commands/adc.md"},
	{"ADG", NS, 7, 13, withID, withID, argRange{1, 2}, argRange{2, 4}, "commands/adg.md"},
	{"REG", NS, 7, 13, withID, withID, argRange{2, 3}, argRange{2, 4}, "commands/reg.md"},
	{"RMG", NS, 7, 13, withID, withID, argRange{1, 1}, argRange{1, 2}, "commands/rmg.md"},
	{"REA", NS, 2, 10, withID, withID, argRange{2, 2}, argRange{3, 3}, "commands/rea.md"},
	{"PRP", NS, 5, 0, withID, form{ok: true, trid: tridIfNumeric}, argRange{1, 2}, argRange{1, 3}, "commands/prp.md"},
	{"BPR", NS, 5, 13, noForm, noID, argRange{0, 0}, argRange{1, 4}, "commands/bpr.md"},
	{"SBP", NS, 10, 13, withID, withID, argRange{3, 4}, argRange{3, 4}, "commands/sbp.md"},
	{"CHG", NS, 2, 0, withID, withID, argRange{1, 4}, argRange{1, 4}, "commands/chg.md"},
	{"ILN", NS, 2, 0, noForm, withID, argRange{0, 0}, argRange{3, 7}, "commands/iln.md"},
	{"NLN", NS, 2, 0, noForm, noID, argRange{0, 0}, argRange{3, 7}, "commands/nln.md"},
	{"FLN", NS, 2, 0, noForm, noID, argRange{0, 0}, argRange{1, 4}, "commands/fln.md"},
	{"PNG", NS, 2, 0, noID, noForm, argRange{0, 0}, argRange{0, 0}, "commands/png.md"},
	{"QNG", NS, 2, 0, noForm, noID, argRange{0, 0}, argRange{0, 1}, "commands/qng.md"},
	{"RNG", NS, 2, 21, noForm, noID, argRange{0, 0}, argRange{6, 9}, "commands/rng.md"},
	{"MSG", NS | SB, 2, 0, withIDP, noIDP, argRange{2, 2}, argRange{3, 3}, "commands/msg.md"},
	{"NOT", NS, 5, 0, noForm, noIDP, argRange{0, 0}, argRange{1, 1}, "commands/not.md"},
	{"IPG", NS, 6, 0, noForm, noIDP, argRange{0, 0}, argRange{1, 1}, "commands/ipg.md"},
	{"PAG", NS, 5, 0, withIDP, withID, argRange{2, 2}, argRange{0, 0}, "commands/pag.md"},
	{"PGD", NS, 9, 0, withIDP, withID, argRange{3, 3}, argRange{0, 0}, "commands/pgd.md"},
	{"CHL", NS, 6, 0, withID, withID, argRange{0, 1}, argRange{1, 1}, "commands/chl.md"},
	{"QRY", NS, 6, 0, withIDP, withID, argRange{2, 2}, argRange{0, 0}, "commands/qry.md"},
	{"IMS", NS, 3, 0, withID, withID, argRange{1, 1}, argRange{2, 2}, "commands/ims.md"},
	{"GCF", NS, 11, 0, withID, form{ok: true, trid: tridYes, payload: payLastIfNumeric}, argRange{1, 1}, argRange{1, 2}, "commands/gcf.md"},
	{"UBX", NS, 11, 0, noForm, noIDP, argRange{0, 0}, argRange{2, 3}, "commands/ubx.md"},
	{"UUX", NS, 11, 0, withIDP, withID, argRange{1, 1}, argRange{0, 1}, "commands/uux.md"},
	{"SBS", NS, 11, 0, noForm, withID, argRange{0, 0}, argRange{1, 1}, "versions/msnp11.md"},
	{"GSB", NS, 11, 0, withID, withID, argRange{0, -1}, argRange{0, -1}, "table_of_commands.md (undocumented)"},
	{"LKP", NS, 12, 0, withID, withID, argRange{0, -1}, argRange{0, -1}, "table_of_commands.md (undocumented)"},
	{"ADL", NS, 13, 0, withIDP, form{ok: true, trid: tridYes, payload: payLastIfNumeric}, argRange{1, 1}, argRange{1, 1}, "commands/adl.md"},
	{"RML", NS, 13, 0, withIDP, form{ok: true, trid: tridYes, payload: payLastIfNumeric}, argRange{1, 1}, argRange{1, 1}, "commands/rml.md"},
	{"RFS", NS, 13, 0, withID, withID, argRange{0, -1}, argRange{0, -1}, "table_of_commands.md (undocumented)"},
	{"UUN", NS, 13, 0, withIDP, form{ok: true, trid: tridYes, payload: payLastIfNumeric}, argRange{3, 3}, argRange{1, 1}, "msnp-grammar.md §2 [LIVE] uun.html"},
	{"UBN", NS, 13, 0, noForm, noIDP, argRange{0, 0}, argRange{3, 3}, "msnp-grammar.md §2 [LIVE] ubn.html"},
	{"FQY", NS, 14, 0, withIDP, withIDP, argRange{1, 1}, argRange{1, 1}, "commands/fqy.md"},
	{"UUM", NS, 14, 0, withIDP, withID, argRange{4, 4}, argRange{0, 0}, "msnp-grammar.md §2 [LIVE] uum.html"},
	{"UBM", NS, 14, 0, noForm, noIDP, argRange{0, 0}, argRange{4, 5}, "versions/msnp14.md (listed only; form assumed)"},
	{"ACK", SB, 2, 21, noForm, withID, argRange{0, 0}, argRange{0, 0}, "commands/ack.md"},
	{"NAK", SB, 2, 21, noForm, withID, argRange{0, 0}, argRange{0, 0}, "commands/nak.md"},
	{"CAL", SB, 2, 21, withID, withID, argRange{1, 1}, argRange{2, 2}, "commands/cal.md"},
	{"ANS", SB, 2, 21, withID, withID, argRange{3, 3}, argRange{1, 1}, "commands/ans.md"},
	{"IRO", SB, 2, 21, noForm, withID, argRange{0, 0}, argRange{4, 5}, "commands/iro.md"},
	{"JOI", SB, 2, 21, noForm, noID, argRange{0, 0}, argRange{2, 3}, "commands/joi.md"},
	{"BYE", SB, 2, 21, noForm, noID, argRange{0, 0}, argRange{1, 2}, "commands/bye.md"},
	{"SDG", NS, 21, 0, withIDP, withIDP, argRange{1, 1}, argRange{1, 1}, "msnp-grammar.md §2 [KB21]"},
	{"PUT", NS, 21, 0, withIDP, form{ok: true, trid: tridYes, payload: payLastIfNumeric}, argRange{1, 1}, argRange{1, 2}, "msnp-grammar.md §2 [KB21]"},
	{"DEL", NS, 21, 0, withIDP, form{ok: true, trid: tridYes, payload: payLastIfNumeric}, argRange{1, 1}, argRange{1, 2}, "msnp-grammar.md §2 [KB21]"},
	{"NFY", NS, 21, 0, noForm, noIDP, argRange{0, 0}, argRange{2, 2}, "msnp-grammar.md §2 [KB21]"},
}

// verbIndex maps a verb of three upper-case letters, packed as a base-26
// number, to its row in verbTable plus one (0: no such verb). An array
// rather than a map: the lookup runs for every line, twice.
var verbIndex = func() (idx [26 * 26 * 26]uint8) {
	for i := range verbTable {
		k, _ := verbKey(verbTable[i].Verb[0], verbTable[i].Verb[1], verbTable[i].Verb[2])
		idx[k] = uint8(i + 1)
	}
	return idx
}()

// verbKey packs three upper-case letters into an index of verbIndex; ok
// is false when one is not an upper-case letter.
func verbKey(a, b, c byte) (k int, ok bool) {
	a, b, c = a-'A', b-'A', c-'A'
	if a >= 26 || b >= 26 || c >= 26 {
		return 0, false
	}
	return (int(a)*26+int(b))*26 + int(c), true
}

// lookupVerb returns the table row of a verb given as bytes, or nil. It
// does not allocate.
func lookupVerb(b []byte) *VerbSpec {
	if len(b) != 3 {
		return nil
	}
	return verbAt(b[0], b[1], b[2])
}

func verbAt(a, b, c byte) *VerbSpec {
	k, ok := verbKey(a, b, c)
	if !ok {
		return nil
	}
	if i := verbIndex[k]; i > 0 {
		return &verbTable[i-1]
	}
	return nil
}

// LookupVerb returns the table row of a verb, or nil when the verb is not
// known.
func LookupVerb(verb string) *VerbSpec {
	if len(verb) != 3 {
		return nil
	}
	return verbAt(verb[0], verb[1], verb[2])
}

// Verbs returns every known verb's row in table order. The slice is a copy.
func Verbs() []VerbSpec { return append([]VerbSpec(nil), verbTable...) }
