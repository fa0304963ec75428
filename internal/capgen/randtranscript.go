package capgen

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/msnsniff/msnsniff/dissect"
)

// Random transcripts, for property tests: RandTranscript writes a valid
// MSNP exchange in the transcript form dissect.ParseTranscript reads, drawn
// from a seeded random source. Every command follows the forms of
// msnp-grammar.md for the version the session negotiated (the verb table of
// dissect/verbs.go: verbs, directions, parameter counts and versions), so a
// clean capture of it dissects without anomalies; what varies is everything
// the grammar leaves open: the version, which connections there are and how
// they interleave, TrIDs, handles, URL-encoded friendly names, pipelined
// requests and replies out of order, server-initiated commands between a
// request and its reply, error replies, and payloads of 0 bytes to several
// kilobytes holding CRLFs, lines that look like commands, UTF-8, control
// bytes and invalid UTF-8.

const (
	// DefaultRandActivity is RandOptions.Activity when zero: about a dozen
	// exchanges per connection on average, enough to mix most verbs of a
	// version while keeping a transcript near 20 KB.
	DefaultRandActivity = 24
	// MaxRandActivity bounds RandOptions.Activity, so that a transcript
	// stays far below MaxPackets even cut into 1-byte segments.
	MaxRandActivity = 1000
	// DefaultRandMaxPayload is RandOptions.MaxPayload when zero: "several
	// KB", more than a 1460-byte segment and than the 1664-byte limit of
	// the official client's switchboard messages.
	DefaultRandMaxPayload = 6000
	// MaxRandMaxPayload bounds RandOptions.MaxPayload: 60000 bytes stay
	// below the 64 KiB of payload the dissector keeps by default
	// (dissect.Limits.RetainPayload), so every payload byte can be
	// compared.
	MaxRandMaxPayload = 60000
)

// RandOptions bound what RandTranscript generates. The zero value gives
// the defaults.
type RandOptions struct {
	// Activity bounds the exchanges after login on each connection: a
	// notification session gets 1 to Activity of them, a switchboard
	// session up to half as many (DefaultRandActivity if zero).
	Activity int
	// MaxPayload is the largest random payload body in bytes
	// (DefaultRandMaxPayload if zero). Payloads with fixed parts (MIME
	// headers, XML, header blocks) can be up to about 600 bytes longer.
	MaxPayload int
}

// RandTranscript returns the text of a random, valid MSNP transcript drawn
// from r: one user's dispatch, notification and switchboard connections
// (some of them) in a protocol version from MSNP2 to MSNP21, as
// dissect.ParseTranscript reads it. The text is a function of r's state and
// opt; r is advanced. Options out of range fail with ErrOptions.
func RandTranscript(r *rand.Rand, opt RandOptions) ([]byte, error) {
	if r == nil {
		return nil, fmt.Errorf("%w: nil random source", ErrOptions)
	}
	switch {
	case opt.Activity < 0 || opt.Activity > MaxRandActivity:
		return nil, fmt.Errorf("%w: activity %d not in [1, %d]", ErrOptions, opt.Activity, MaxRandActivity)
	case opt.Activity == 0:
		opt.Activity = DefaultRandActivity
	}
	switch {
	case opt.MaxPayload < 0 || opt.MaxPayload > MaxRandMaxPayload:
		return nil, fmt.Errorf("%w: max payload %d not in [1, %d]", ErrOptions, opt.MaxPayload, MaxRandMaxPayload)
	case opt.MaxPayload == 0:
		opt.MaxPayload = DefaultRandMaxPayload
	}
	g := &rgen{r: r, opt: opt}
	return g.transcript(), nil
}

// rgen is the state of one RandTranscript call.
type rgen struct {
	r   *rand.Rand
	opt RandOptions
	ver int // the negotiated version, 2 to 21
	v6  bool

	user, name string // the user's handle and URL-encoded friendly name
	buddies    []rbuddy
	groups     []rgroup
	lv         int // contact list version (MSNP2-9)
	conns      []*rconn
	ports      map[uint16]bool
	hosts      byte // last host number handed out
	sbHost     string
}

type rbuddy struct {
	handle, name, guid string
	lists              int // list bits: FL 1, AL 2, BL 4, RL 8
}

type rgroup struct{ id, name string }

// rconn is one TCP connection of the transcript being built.
type rconn struct {
	kind           string // "DS", "NS", "SB"
	client, server string
	trid           int64 // next client TrID
	blocks         []string
	// dep and depN: the connection starts once dep has emitted depN
	// blocks (its handshake follows the referral or invitation).
	dep  *rconn
	depN int
	// holdLast keeps the last block (the notification session's OUT) until
	// every other connection is done.
	holdLast bool
	emitted  int
	parts    []rbuddy // switchboard participants
}

// block collects the commands of one atomic part of a connection, each
// already in transcript form (payload lines included).
type block []string

func (g *rgen) intn(n int) int           { return g.r.IntN(n) }
func (g *rgen) chance(p float64) bool    { return g.r.Float64() < p }
func (g *rgen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }
func (g *rgen) between(lo, hi int) int   { return lo + g.r.IntN(hi-lo+1) }
func (g *rgen) digits(lo, hi int) string { return strconv.Itoa(g.between(lo, hi)) }
func (g *rgen) since(v int) bool         { return g.ver >= v }
func (g *rgen) in(lo, hi int) bool       { return g.ver >= lo && g.ver <= hi }
func (g *rgen) hex(n int) string         { return g.fromAlphabet("0123456789abcdef", n) }
func (g *rgen) upperHex(n int) string    { return g.fromAlphabet("0123456789ABCDEF", n) }
func (g *rgen) b64(n int) string         { return g.fromAlphabet(b64Alphabet, n) }
func (g *rgen) ticket(n int) string      { return g.fromAlphabet(ticketAlphabet, n) }
func (g *rgen) listVersion() string      { g.lv += 1 + g.intn(3); return strconv.Itoa(g.lv) }
func (g *rgen) guid() string {
	return g.hex(8) + "-" + g.hex(4) + "-" + g.hex(4) + "-" + g.hex(4) + "-" + g.hex(12)
}
func (g *rgen) braceGUID() string { return "{" + strings.ToUpper(g.guid()) + "}" }
func (g *rgen) cookie() string {
	return g.digits(1e7, 2e9) + "." + g.digits(1e7, 2e9) + "." + g.digits(1, 99999)
}
func (g *rgen) sessionID() string { return g.digits(1e6, 99999999) }
func (g *rgen) fromAlphabet(a string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = a[g.r.IntN(len(a))]
	}
	return string(b)
}

const (
	b64Alphabet    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	ticketAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*$"
	handleAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789._-"
)

// nextTrID returns c's next client TrID: TrIDs increase, mostly by one,
// sometimes skipping a few.
func (g *rgen) nextTrID(c *rconn) string {
	t := c.trid
	c.trid++
	if g.chance(0.15) {
		c.trid += int64(g.intn(3))
	}
	return strconv.FormatInt(t, 10)
}

// transcript builds the connections and merges them into one text.
func (g *rgen) transcript() []byte {
	g.ver = 2 + g.intn(20)
	g.v6 = g.chance(0.15)
	g.ports = map[uint16]bool{}
	g.user = g.handle()
	g.name = g.friendly()
	for range g.between(0, 5) {
		g.buddies = append(g.buddies, g.newBuddy())
	}
	g.sbHost = g.host()
	switch x := g.r.Float64(); {
	case x < 0.1:
		g.dispatch()
	case x < 0.25 && g.ver < 21:
		for range g.between(1, 2) {
			if g.chance(0.5) {
				g.switchboard(nil, 0, "caller", g.cookie(), "")
			} else {
				g.switchboard(nil, 0, "callee", g.cookie(), g.sessionID())
			}
		}
	default:
		var ds *rconn
		if g.chance(0.5) {
			ds = g.dispatch()
		}
		g.notification(ds)
	}
	kinds := make([]string, len(g.conns))
	for i, c := range g.conns {
		kinds[i] = c.kind
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# A random MSNP%d transcript written by capgen.RandTranscript; connections: %s\n", g.ver, strings.Join(kinds, ", "))
	g.merge(&b)
	return []byte(b.String())
}

// merge writes the connections' blocks in a random order that keeps each
// connection's order and the dependencies between connections.
func (g *rgen) merge(b *strings.Builder) {
	var cur *rconn
	for {
		var ready []*rconn
		for _, c := range g.conns {
			if c.emitted == len(c.blocks) || (c.dep != nil && c.dep.emitted < c.depN) {
				continue
			}
			if c.holdLast && c.emitted == len(c.blocks)-1 && g.othersOpen(c) {
				continue
			}
			ready = append(ready, c)
		}
		if len(ready) == 0 {
			return
		}
		c := ready[g.intn(len(ready))]
		for _, x := range ready {
			if x == cur && g.chance(0.5) {
				c = cur
			}
		}
		if c != cur {
			fmt.Fprintf(b, "@conn %s %s\n", c.client, c.server)
			cur = c
		}
		if g.chance(0.04) {
			fmt.Fprintf(b, "@wait %dms\n", g.between(1, 800))
		}
		b.WriteString(c.blocks[c.emitted])
		c.emitted++
	}
}

// othersOpen reports whether a connection other than c has blocks left.
func (g *rgen) othersOpen(c *rconn) bool {
	for _, x := range g.conns {
		if x != c && x.emitted < len(x.blocks) {
			return true
		}
	}
	return false
}

// add appends a block to c.
func (c *rconn) add(bl block) {
	if len(bl) > 0 {
		c.blocks = append(c.blocks, strings.Join(bl, ""))
	}
}

// host returns a fresh server address (without port).
func (g *rgen) host() string {
	g.hosts++
	if g.v6 {
		return fmt.Sprintf("[2001:db8::%x]", g.hosts)
	}
	return fmt.Sprintf("10.0.%d.%d", g.intn(256), g.hosts)
}

// newConn opens a connection of the given kind to server (host:port).
func (g *rgen) newConn(kind, server string) *rconn {
	client := "192.168.0.2"
	if g.v6 {
		client = "[2001:db8:1::2]"
	}
	port := uint16(g.between(49152, 65535))
	for g.ports[port] {
		port = uint16(g.between(49152, 65535))
	}
	g.ports[port] = true
	c := &rconn{kind: kind, client: client + ":" + strconv.Itoa(int(port)), server: server}
	c.trid = 1
	switch x := g.r.Float64(); {
	case x < 0.1:
		c.trid = int64(g.between(1000, 1<<30))
	case x < 0.15:
		c.trid = int64(4294967295 - g.intn(1000)) // TrIDs past 2^32 are still 10 digits
	case x < 0.4:
		c.trid = int64(g.between(2, 60))
	}
	g.conns = append(g.conns, c)
	return c
}

// --- wire fields ---

// handle returns a random user handle (an e-mail address).
func (g *rgen) handle() string {
	local := g.fromAlphabet("abcdefghijklmnopqrstuvwxyz", 1) + g.fromAlphabet(handleAlphabet, g.intn(16))
	return local + "@" + g.pick("hotmail.com", "msn.com", "live.com", "passport.com", "example.org", "xn--bcher-kva.example")
}

// nameWords are what friendly names are made of: spaces, UTF-8, and bytes
// that URL encoding must escape.
var nameWords = []string{"Alice", "Bob", "the", "Builder", "Zoë", "naïve", "日本語", "Ωmega", "😀", "100%", "a+b", "C:\\dir", "<b>bold</b>",
	"&amp;", "\"quoted\"", "it's", "tab\there", "#1", "@home", "~tilde~", "x", "¡hola!", "straße", "Ünïcødé", "\u200bzw"}

// newBuddy returns a new contact on some of the lists.
func (g *rgen) newBuddy() rbuddy {
	return rbuddy{handle: g.handle(), name: g.friendly(), guid: g.guid(), lists: []int{1, 3, 11, 9, 8, 2, 4, 5}[g.intn(8)]}
}

// friendly returns a URL-encoded friendly name (msnp-grammar.md §1): spaces
// as %20, other special bytes %-encoded, UTF-8 kept raw or encoded. Rarely
// it carries raw bytes a hostile server may send (ESC, invalid UTF-8),
// which the dissector must pass through.
func (g *rgen) friendly() string {
	n := g.between(1, 4)
	ws := make([]string, n)
	for i := range ws {
		ws[i] = nameWords[g.intn(len(nameWords))]
	}
	s := urlEncode(strings.Join(ws, " "), g.chance(0.5))
	if g.chance(0.03) {
		s += g.pick("\x1b[31m", "\xff\xfe", "\xc3", "%FF")
	}
	return s
}

// urlEncode %-encodes what an MSNP parameter cannot hold raw, keeping
// non-ASCII UTF-8 raw when raw is set.
func urlEncode(s string, raw bool) string {
	const safe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'()"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case strings.IndexByte(safe, c) >= 0, raw && c >= 0x80:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// status returns a random online status (commands/chg.md).
func (g *rgen) status() string { return g.pick("NLN", "BSY", "IDL", "BRB", "AWY", "PHN", "LUN") }

// caps returns client capabilities: a decimal bit field, with extended
// capabilities after a colon from MSNP16 (msnp-grammar.md §11).
func (g *rgen) caps() string {
	c := strconv.FormatUint(uint64(g.r.Uint32()), 10)
	if g.since(16) {
		c += ":" + strconv.FormatUint(uint64(g.r.Uint32()%4096), 10)
	}
	return c
}

// msnobj returns a URL-encoded MSNObject (display picture) of handle h.
func (g *rgen) msnobj(h string) string {
	o := fmt.Sprintf(`<msnobj Creator="%s" Size="%d" Type="3" Location="TFR%s.dat" Friendly="AAA=" SHA1D="%s=" SHA1C="%s="/>`,
		h, g.between(1000, 90000), g.upperHex(3), g.b64(27), g.b64(27))
	return urlEncode(o, false)
}

// presenceTail returns the parameters after the handle of ILN and NLN in
// this version: {netid} friendly {caps} {msnobj} (msnp-grammar.md §11).
func (g *rgen) presenceTail(b rbuddy) string {
	s := ""
	if g.since(14) {
		s += " 1"
	}
	s += " " + b.name
	if g.since(8) {
		s += " " + g.caps()
		if g.since(9) && g.chance(0.5) {
			s += " " + g.msnobj(b.handle)
		}
	}
	return s
}

// buddy returns a known contact, or now and then a new one.
func (g *rgen) buddy() rbuddy {
	if len(g.buddies) == 0 || g.chance(0.2) {
		b := g.newBuddy()
		g.buddies = append(g.buddies, b)
		return b
	}
	return g.buddies[g.intn(len(g.buddies))]
}

// --- transcript text ---

// cmd returns a command line in transcript form.
func cmd(d dissect.Dir, line string) string {
	return d.Prefix() + ": " + string(dissect.EscapeText(nil, []byte(line))) + "\n"
}

// cmdP returns a payload command: line, its length and the payload, in
// transcript form (each CRLF-terminated piece a text line).
func cmdP(d dissect.Dir, line string, payload []byte) string {
	var b strings.Builder
	b.WriteString(cmd(d, line+" "+strconv.Itoa(len(payload))))
	writePayload(&b, payload)
	return b.String()
}

// writePayload writes payload as transcript text lines: each CRLF ends a
// line, and a last piece without CRLF is a line of its own whose line end
// is not part of the payload (dissect.ParseTranscript).
func writePayload(b *strings.Builder, p []byte) {
	s := string(p)
	for s != "" {
		piece, rest, found := strings.Cut(s, "\r\n")
		b.Write(dissect.EscapeText(nil, []byte(piece)))
		b.WriteByte('\n')
		if !found {
			break
		}
		s = rest
	}
}

func c2s(line string) string                  { return cmd(dissect.C2S, line) }
func s2c(line string) string                  { return cmd(dissect.S2C, line) }
func c2sP(line string, payload []byte) string { return cmdP(dissect.C2S, line, payload) }
func s2cP(line string, payload []byte) string { return cmdP(dissect.S2C, line, payload) }

// --- payloads ---

// size returns a random payload body size: mostly short, sometimes a few
// segments long, up to MaxPayload.
func (g *rgen) size() int {
	m := g.opt.MaxPayload
	switch x := g.r.Float64(); {
	case x < 0.08:
		return 0
	case x < 0.6:
		return g.intn(min(m, 200) + 1)
	case x < 0.85:
		return g.intn(min(m, 1500) + 1)
	}
	return g.intn(m + 1)
}

// Random payload text is made of words and line ends, lines that look like
// MSNP commands or transcript syntax (the classic framing trap: only the
// announced length says where a payload ends), and hostile bytes: control
// bytes, invalid UTF-8 and the transcript's own escapes as literal text.
var (
	textWords = []string{"hello ", "world ", "lunch? ", "ok ", "the quick brown fox ", "😀 ", "héllo ", "日本語のテキスト ", "Ωμέγα ", "🇫🇷 ",
		"\r\n", "\r\n", "\r\n\r\n", " ", "\t"}
	textTraps = []string{"MSG 1 N 5\r\n", "\r\nMSG alice@hotmail.com Alice 3\r\nabc", "ACK 12\r\n", "NAK 3\r\n", "OUT\r\n",
		"BYE bob@hotmail.com\r\n", "911 7\r\n", "USR 1 OK x@y.z x\r\n", "C: VER 1 MSNP8\r\n", "S: MSG Hotmail Hotmail 95\r\n",
		"JOI carol@msn.com Carol\r\n", "MSG 2 A 0\r\n", "Content-Length: 99999\r\n", "#comment", "@conn 1.2.3.4:5 6.7.8.9:1863\r\n", "\n", "\r"}
	textHostile = []string{"\\", "\\x41", "\\\\x0d", "\x00", "\x1b[2J", "\x7f", "\xc2\x85", "\xff", "\xfe\xff", "\xc3", "\xed\xa0\x80",
		"\x80\x80", "\xf0\x9f\x98"}
)

// text returns n bytes of random payload text, cut at n wherever that
// falls (inside a CRLF or a UTF-8 sequence too). Some texts are words
// only, some mix in command-like lines, some hostile bytes too.
func (g *rgen) text(n int) []byte {
	sets := [][]string{textWords}
	if x := g.r.Float64(); x < 0.55 {
		sets = append(sets, textTraps)
		if x < 0.2 {
			sets = append(sets, textHostile)
		}
	}
	b := make([]byte, 0, n+32)
	for len(b) < n {
		set := sets[0]
		if g.chance(0.3) {
			set = sets[g.intn(len(sets))]
		}
		b = append(b, set[g.intn(len(set))]...)
	}
	return b[:n]
}

// mimeMessage returns a switchboard message (commands/msg.md): MIME
// headers, an empty line and a body, or rarely raw bytes without headers.
func (g *rgen) mimeMessage(from string, data bool) []byte {
	var h, body string
	switch x := g.r.Float64(); {
	case data:
		// P2P data (MSG D, MSNP9+): a 48-byte binary header, data, a footer.
		h = "MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: " + g.buddy().handle + "\r\n\r\n"
		bin := make([]byte, 48+g.intn(min(g.opt.MaxPayload, 1202)+1)+4)
		for i := range bin {
			bin[i] = byte(g.r.Uint32())
		}
		body = string(bin)
	case x < 0.15:
		h = "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: " + from + "\r\n\r\n"
		body = "\r\n"
	case x < 0.2:
		h = "MIME-Version: 1.0\r\nContent-Type: text/x-msnmsgr-datacast\r\n\r\n"
		body = "ID: 1\r\n\r\n"
	case x < 0.27:
		h = "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsinvite; charset=UTF-8\r\n\r\n"
		body = "Application-Name: File Transfer\r\nApplication-GUID: " + g.braceGUID() + "\r\nInvitation-Command: INVITE\r\nInvitation-Cookie: " +
			g.digits(1, 1<<30) + "\r\nApplication-File: " + string(g.text(g.intn(40))) + "\r\nApplication-FileSize: " + g.digits(0, 1<<30) + "\r\n\r\n"
	case x < 0.3:
		return g.text(g.size())
	case x < 0.33:
		return nil // MSG t U 0: an empty payload
	default:
		h = "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
		if g.since(3) && g.chance(0.7) {
			h += "X-MMS-IM-Format: FN=" + g.pick("Arial", "MS%20Sans%20Serif", "Segoe%20UI") + "; EF=" + g.pick("", "B", "I", "BI") + "; CO=" + g.hex(g.between(1, 6)) + "; CS=0; PF=22\r\n"
		}
		h += "\r\n"
		body = string(g.text(g.size()))
	}
	return []byte(h + body)
}

func (g *rgen) profile() []byte {
	var b strings.Builder
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsprofile; charset=UTF-8\r\nLoginTime: " + g.digits(1e9, 2e9) + "\r\n")
	if g.since(3) {
		fmt.Fprintf(&b, "EmailEnabled: 1\r\nMemberIdHigh: %d\r\nMemberIdLow: %d\r\nlang_preference: 1033\r\nPreferredEmail: %s\r\ncountry: US\r\nPostalCode: \r\nGender: \r\nKid: 0\r\nAge: \r\nBDayPre: \r\nBirthday: \r\nWallet: \r\nFlags: 1027\r\nsid: 507\r\nkv: 11\r\nMSPAuth: %s$$\r\n",
			g.intn(1<<20), g.r.Uint32(), g.user, g.ticket(g.between(20, 120)))
	}
	if g.since(8) {
		fmt.Fprintf(&b, "ClientIP: 192.168.%d.%d\r\nClientPort: %d\r\n", g.intn(256), g.intn(256), g.intn(65536))
	}
	if g.since(10) {
		b.WriteString("ABCHMigrated: 1\r\n")
	}
	if g.since(16) {
		b.WriteString("MPOPEnabled: 1\r\n")
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

// mailNotice is a notification server MSG from Hotmail (msnp-grammar.md
// §12).
func (g *rgen) mailNotice() []byte {
	switch g.intn(3) {
	case 0:
		return []byte("MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsinitialemailnotification; charset=UTF-8\r\n\r\nInbox-Unread: " + g.digits(0, 999) +
			"\r\nFolders-Unread: " + g.digits(0, 99) + "\r\nInbox-URL: /cgi-bin/HoTMaiL\r\nFolders-URL: /cgi-bin/folders\r\nPost-URL: http://www.hotmail.com\r\n\r\n")
	case 1:
		return []byte("MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsemailnotification; charset=UTF-8\r\n\r\nFrom: " + string(g.text(g.intn(30))) +
			"\r\nMessage-URL: /cgi-bin/getmsg?msg=MSG" + g.digits(1, 1<<30) + "\r\nSubject: " + string(g.text(g.intn(80))) + "\r\nDest-Folder: ACTIVE\r\nFrom-Addr: " + g.handle() + "\r\nid: 2\r\n\r\n")
	}
	return []byte("MIME-Version: 1.0\r\nContent-Type: application/x-msmsgssystemmessage\r\n\r\nType: 1\r\nArg1: " + g.digits(1, 60) + "\r\n")
}

func (g *rgen) notice() []byte {
	return []byte(`<NOTIFICATION ver="2" id="` + g.digits(1, 99) + `" siteid="` + g.digits(0, 99999) + `" siteurl="http://example.com/">` + "\r\n" +
		`<TO pid="0x00000001:0x00000002" name="` + g.user + `" />` + "\r\n<MSG id=\"0\"><BODY><TEXT>" + string(g.text(g.size())) + "</TEXT></BODY></MSG>\r\n</NOTIFICATION>")
}

func (g *rgen) psm() []byte {
	s := "<Data><PSM>" + string(g.text(g.intn(min(g.opt.MaxPayload, 300)+1))) + "</PSM><CurrentMedia></CurrentMedia>"
	if g.since(13) {
		s += "<MachineGuid>" + g.braceGUID() + "</MachineGuid>"
	}
	return []byte(s + "</Data>")
}

// ml returns an <ml> contact list for ADL, RML and FQY (commands/adl.md).
func (g *rgen) ml(initial bool, listBits int) []byte {
	var b strings.Builder
	if initial {
		b.WriteString(`<ml l="1">`)
	} else {
		b.WriteString(`<ml>`)
	}
	for range g.between(1, 4) {
		local, domain, _ := strings.Cut(g.buddy().handle, "@")
		fmt.Fprintf(&b, `<d n="%s"><c n="%s" l="%d" t="1" /></d>`, domain, local, listBits)
	}
	b.WriteString(`</ml>`)
	return []byte(b.String())
}

// blocks21 returns an MSNP21 payload: Routing, Reliability and a third
// header block, then a body (msnp-grammar.md §2, [KB21]).
func (g *rgen) blocks21(third string, to, from string) []byte {
	body := g.text(g.size())
	s := "Routing: 1.0\r\nTo: 1:" + to + "\r\nFrom: 1:" + from + ";epid=" + g.braceGUID() + "\r\n\r\nReliability: 1.0\r\n\r\n"
	switch third {
	case "Messaging":
		s += "Messaging: 2.0\r\nMessage-Type: Text\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n"
	case "Publication":
		s += "Publication: 1.0\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\nContent-Type: application/user+xml\r\nUri: /user\r\n\r\n"
	case "Notification":
		s += "Notification: 1.0\r\nNotifNum: " + g.digits(0, 99) + "\r\nUri: /user\r\nNotifType: Partial\r\nContent-Type: application/user+xml\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	default:
		return []byte(s)
	}
	return append([]byte(s), body...)
}

// --- dispatch server ---

// dispatch adds a dispatch server connection: VER, INF or CVR, USR I, and
// the referral to the notification server (msnp-grammar.md §4, §6), or a
// CVR0 update check (versions/cvr0.md).
func (g *rgen) dispatch() *rconn {
	c := g.newConn("DS", g.host()+":1863")
	if g.chance(0.1) {
		t := g.nextTrID(c)
		c.add(block{c2s("VER " + t + " MSNP" + strconv.Itoa(g.ver) + " CVR0"), s2c("VER " + t + " CVR0")})
		t = g.nextTrID(c)
		args := "0x0409 winnt 5.1 i386 MSNMSGR 6.1.0211"
		if g.chance(0.5) {
			args += " MSMSGS " + g.user
		}
		c.add(block{c2s("CVQ " + t + " " + args), s2c("CVQ " + t + " 7.0.0813 7.0.0813 6.2.0205 http://download.example.com/Install.exe http://messenger.msn.com")})
		return c
	}
	g.negotiate(c)
	t := g.nextTrID(c)
	bl := block{c2s("USR " + t + " " + g.authPackage() + " I " + g.user)}
	if g.chance(0.05) {
		c.add(append(bl, s2c(g.pick("600", "601", "910", "500")+" "+t)))
		return c
	}
	c.add(append(bl, s2c("XFR "+t+" NS "+g.host()+":1863"+g.referralTail(c))))
	return c
}

// referralTail returns what follows the address in XFR NS (msnp-grammar.md
// §6).
func (g *rgen) referralTail(c *rconn) string {
	switch {
	case g.ver == 2:
		return ""
	case g.ver <= 6:
		return " 0"
	case g.ver <= 12:
		return " 0 " + c.server
	case g.ver < 21:
		return " U D"
	}
	return " U D " + g.b64(36)
}

func (g *rgen) authPackage() string {
	switch {
	case g.ver <= 7:
		return "MD5"
	case g.ver <= 14:
		return "TWN"
	}
	return "SSO"
}

// negotiate adds VER and INF (MSNP2-7) or CVR (MSNP8+) to c.
func (g *rgen) negotiate(c *rconn) {
	t := g.nextTrID(c)
	dialects := []string{"MSNP" + strconv.Itoa(g.ver)}
	for v := g.ver - 1; v >= max(2, g.ver-5); v-- {
		if g.chance(0.6) {
			dialects = append(dialects, "MSNP"+strconv.Itoa(v))
		}
	}
	if g.chance(0.9) {
		dialects = append(dialects, "CVR0")
	}
	reply := dialects[0]
	if g.chance(0.15) {
		reply = strings.Join(dialects, " ") // some servers echo the list (msnp-grammar.md §4)
	}
	c.add(block{c2s("VER " + t + " " + strings.Join(dialects, " ")), s2c("VER " + t + " " + reply)})
	if g.ver <= 7 {
		t = g.nextTrID(c)
		c.add(block{c2s("INF " + t), s2c("INF " + t + " " + map[bool]string{true: "MD5 CTP", false: "MD5"}[g.ver == 2 && g.chance(0.5)])})
		return
	}
	t = g.nextTrID(c)
	c.add(block{c2s("CVR " + t + " " + g.cvrArgs()), s2c("CVR " + t + " " + g.cvrReply())})
}

func (g *rgen) cvrArgs() string {
	s := "0x0409 " + g.pick("winnt 5.1", "winnt 6.1.0", "win 4.10") + " i386 MSNMSGR " + g.pick("6.0.0602", "7.5.0324", "8.1.0178", "14.0.8089.0726") + " MSMSGS"
	if g.ver >= 8 {
		s += " " + g.user
	}
	if g.ver >= 21 {
		s += " " + g.b64(36)
	}
	return s
}

func (g *rgen) cvrReply() string {
	v := g.pick("6.0.0602", "7.5.0324", "8.1.0178", "14.0.8089.0726")
	return v + " " + v + " " + g.pick("6.0.0268", "7.0.0816") + " http://download.example.com/" + g.hex(8) + "/Install.exe http://messenger.msn.com"
}

// --- notification server ---

// notification adds the notification server connection (after ds, when
// there is one): login, contact list, activity, and the OUT that waits for
// its switchboard sessions.
func (g *rgen) notification(ds *rconn) {
	c := g.newConn("NS", g.host()+":1863")
	if ds != nil {
		c.dep, c.depN = ds, len(ds.blocks)
	}
	c.holdLast = true
	g.negotiate(c)
	if !g.login(c) {
		c.holdLast = false
		return
	}
	g.contactList(c)
	for range g.between(1, g.opt.Activity) {
		g.nsActivity(c)
	}
	switch x := g.r.Float64(); {
	case x < 0.8:
		c.add(block{c2s("OUT")})
	case x < 0.9:
		c.add(block{s2c("OUT " + g.pick("OTH", "SSD"))})
	default:
		c.add(block{s2c("CHG 0 FLN")})
	}
}

// login adds the authentication exchange of the version (msnp-grammar.md
// §5); it reports false when the server refused the user.
func (g *rgen) login(c *rconn) bool {
	pkg := g.authPackage()
	t := g.nextTrID(c)
	bl := block{c2s("USR " + t + " " + pkg + " I " + g.user)}
	switch pkg {
	case "MD5":
		bl = append(bl, s2c("USR "+t+" MD5 S "+g.digits(1e9, 2e9)+"."+g.digits(1e6, 9999999)))
	case "TWN":
		bl = append(bl, s2c("USR "+t+" TWN S lc=1033,id=507,tw=40,fs=1,ru=http%3A%2F%2Fmessenger%2Emsn%2Ecom,ct="+g.digits(1e9, 2e9)+",kpp=1,kv=5,ver=2.1.0173.1,tpf="+g.hex(32)))
	default:
		bl = append(bl, s2c("USR "+t+" SSO S MBI_KEY_OLD "+g.b64(64)))
	}
	c.add(bl)
	if g.in(13, 14) && g.chance(0.7) {
		c.add(block{s2cP("GCF 0", []byte(`<Policies><Policy type="SHIELDS" checksum="`+g.upperHex(32)+`"><config><shield><cli maj="7" min="0" minbld="0" maxbld="9999" deny=" " /></shield><block></block></config></Policy></Policies>`))})
	}
	t = g.nextTrID(c)
	switch pkg {
	case "MD5":
		bl = block{c2s("USR " + t + " MD5 S " + g.hex(32))}
	case "TWN":
		bl = block{c2s("USR " + t + " TWN S t=" + g.ticket(g.between(40, 300)) + "$$&p=" + g.ticket(g.between(40, 300)) + "$$")}
	default:
		bl = block{c2s("USR " + t + " SSO S t=" + g.b64(g.between(100, 500)) + "&p= " + g.b64(g.between(60, 200)))}
	}
	if g.chance(0.07) {
		c.add(append(bl, s2c(g.pick("911", "911", "923", "928")+" "+t)))
		return false
	}
	var ok string
	switch {
	case g.ver <= 5:
		ok = g.user + " " + g.name
	case g.ver <= 7:
		ok = g.user + " " + g.name + " " + g.pick("0", "1")
	case g.ver <= 9:
		ok = g.user + " " + g.name + " 1 0"
	default:
		ok = g.user + " " + g.pick("1", "0") + " 0"
	}
	bl = append(bl, s2c("USR "+t+" OK "+ok))
	if g.in(11, 18) && g.chance(0.8) {
		bl = append(bl, s2c("SBS 0 null"))
	}
	c.add(append(bl, s2cP("MSG Hotmail Hotmail", g.profile())))
	if g.since(18) && g.chance(0.3) {
		t = g.nextTrID(c)
		c.add(block{c2s("USR " + t + " SHA A " + g.b64(g.between(100, 1200))), s2c("USR " + t + " OK " + g.user + " 0 0")})
	}
	return true
}

// contactList adds the contact-list synchronisation of the version: SYN and
// its children (MSNP2-12, msnp-grammar.md §9), or BLP, ADL and PRP MFN
// (MSNP13+), then the initial status and its ILNs.
func (g *rgen) contactList(c *rconn) {
	if g.ver <= 12 {
		g.syn(c)
	} else {
		t := g.nextTrID(c)
		al := g.pick("AL", "BL")
		c.add(block{c2s("BLP " + t + " " + al), s2c("BLP " + t + " " + al)})
		t = g.nextTrID(c)
		c.add(block{c2sP("ADL "+t, g.ml(true, 3)), s2c("ADL " + t + " OK")})
		t = g.nextTrID(c)
		c.add(block{c2s("PRP " + t + " MFN " + g.name), s2c("PRP " + t + " MFN " + g.name)})
	}
	g.chg(c, true)
}

// syn adds SYN and, unless the client's list is current, the list in the
// form of the version's generation (msnp-grammar.md §9).
func (g *rgen) syn(c *rconn) {
	t := g.nextTrID(c)
	g.lv = g.between(0, 200)
	timestamp := func() string {
		return fmt.Sprintf("20%02d-%02d-%02dT%02d:%02d:%02d.%07d-07:00", g.between(3, 12), g.between(1, 12), g.between(1, 28), g.intn(24), g.intn(60), g.intn(60), g.intn(1e7))
	}
	var req string
	if g.ver >= 10 {
		req = timestamp() + " " + timestamp()
	} else {
		req = strconv.Itoa(g.lv)
	}
	bl := block{c2s("SYN " + t + " " + req)}
	if g.chance(0.2) {
		// The client's list is current: the reply alone (versions/msnp9.md).
		c.add(append(bl, s2c("SYN "+t+" "+req)))
		return
	}
	lv := g.listVersion()
	if g.ver >= 10 {
		lv = timestamp() + " " + timestamp()
	}
	if g.ver >= 7 {
		n := g.between(1, 4)
		g.groups = g.groups[:0]
		for i := range n {
			id := strconv.Itoa(i)
			if g.ver >= 10 {
				id = g.guid()
			}
			g.groups = append(g.groups, rgroup{id: id, name: g.friendly()})
		}
	}
	if g.ver >= 8 {
		bl = append(bl, s2c(fmt.Sprintf("SYN %s %s %d %d", t, lv, len(g.buddies), len(g.groups))))
	} else {
		bl = append(bl, s2c("SYN "+t+" "+lv))
	}
	// First to third generation: children carry the SYN's TrID and the
	// list version.
	pre := ""
	if g.ver <= 7 {
		pre = t + " " + lv + " "
	}
	bl = append(bl, s2c("GTC "+pre+g.pick("A", "N")), s2c("BLP "+pre+g.pick("AL", "BL")))
	if g.ver >= 5 {
		for _, p := range []string{"PHH", "PHW", "PHM", "MOB", "MBE"} {
			switch {
			case g.ver <= 7 && g.chance(0.3):
				bl = append(bl, s2c("PRP "+pre+p)) // unset properties are still sent
			case g.chance(0.5):
				bl = append(bl, s2c("PRP "+pre+p+" "+g.pick("N", "Y", urlEncode("1 (222) 333 4444", false))))
			}
		}
		if g.ver >= 10 {
			bl = append(bl, s2c("PRP MFN "+g.name))
		}
	}
	for i, gr := range g.groups {
		switch {
		case g.ver == 7:
			bl = append(bl, s2c(fmt.Sprintf("LSG %s%d %d %s %s 0", pre, i+1, len(g.groups), gr.id, gr.name)))
		case g.ver <= 9:
			bl = append(bl, s2c("LSG "+gr.id+" "+gr.name+" 0"))
		default:
			bl = append(bl, s2c("LSG "+gr.name+" "+gr.id))
		}
	}
	if g.ver <= 7 {
		for _, l := range []struct {
			name string
			bit  int
		}{{"FL", 1}, {"AL", 2}, {"BL", 4}, {"RL", 8}} {
			var in []rbuddy
			for _, b := range g.buddies {
				if b.lists&l.bit != 0 {
					in = append(in, b)
				}
			}
			if len(in) == 0 {
				bl = append(bl, s2c("LST "+t+" "+l.name+" "+lv+" 0 0"))
				continue
			}
			for i, b := range in {
				line := fmt.Sprintf("LST %s %s %s %d %d %s %s", t, l.name, lv, i+1, len(in), b.handle, b.name)
				if g.ver == 7 && l.name == "FL" {
					line += " " + g.groupList()
				}
				bl = append(bl, s2c(line))
				if g.ver >= 5 && l.name == "FL" && g.chance(0.5) {
					bl = append(bl, s2c("BPR "+lv+" "+b.handle+" "+g.pick("PHH", "PHW", "PHM", "MOB")+" "+g.pick("N", urlEncode("1 (222) 333", false))))
				}
			}
		}
	} else {
		for _, b := range g.buddies {
			var line string
			switch {
			case g.ver <= 9:
				line = "LST " + b.handle + " " + b.name + " " + strconv.Itoa(b.lists)
			case b.lists&1 == 0:
				line = "LST N=" + b.handle + " " + strconv.Itoa(b.lists)
			default:
				line = "LST N=" + b.handle + " F=" + b.name + " C=" + b.guid + " " + strconv.Itoa(b.lists)
			}
			if g.ver == 12 && b.lists&1 != 0 {
				line += " 1"
			}
			if b.lists&1 != 0 && len(g.groups) > 0 && g.chance(0.7) {
				line += " " + g.groupList()
			}
			bl = append(bl, s2c(line))
			if b.lists&1 != 0 && g.chance(0.4) {
				bl = append(bl, s2c("BPR "+g.pick("PHH", "PHW", "PHM", "MOB")+" "+g.pick("N", urlEncode("1 (222) 333", false))))
			}
		}
	}
	c.add(bl)
}

// groupList returns a comma list of some of the groups.
func (g *rgen) groupList() string {
	if len(g.groups) == 0 {
		return "0"
	}
	var out []string
	for _, gr := range g.groups {
		if len(out) == 0 || g.chance(0.3) {
			out = append(out, gr.id)
		}
	}
	return strings.Join(out, ",")
}

// chg adds a status change, its echo and, when initial, an ILN for some
// contacts (msnp-grammar.md §11), with server lines in between.
func (g *rgen) chg(c *rconn, initial bool) {
	t := g.nextTrID(c)
	st := g.status()
	if !initial && g.chance(0.1) {
		st = "HDN"
	}
	line := "CHG " + t + " " + st
	if g.since(8) {
		line += " " + g.caps()
		if g.since(9) && g.chance(0.5) {
			line += " " + g.msnobj(g.user)
		}
	}
	bl := block{c2s(line)}
	if g.chance(0.2) {
		bl = append(bl, g.async())
	}
	bl = append(bl, s2c(line))
	if initial {
		for _, b := range g.buddies {
			if g.chance(0.6) {
				bl = append(bl, s2c("ILN "+t+" "+g.status()+" "+b.handle+g.presenceTail(b)))
			}
		}
	}
	c.add(bl)
}

// exchange is one request and what the server answers.
type exchange struct {
	req, reply block
}

// simple returns a random request-and-reply exchange of the version, one
// that can be pipelined with others.
func (g *rgen) simple(c *rconn) exchange {
	for {
		e, ok := g.simpleOf(strconv.FormatInt(c.trid, 10))
		if !ok {
			continue // not in this version
		}
		t := g.nextTrID(c)
		if g.chance(0.08) {
			// An error reply instead (msnp-grammar.md §1.2, §8).
			e.reply = block{s2c(g.pick("200", "201", "205", "208", "215", "216", "218", "219", "224", "500", "600", "715") + " " + t)}
		}
		return e
	}
}

// simpleOf returns a random exchange with client TrID t, or false when the
// one drawn does not exist in this version.
// setting is a BLP or GTC exchange setting v: the server echoes it, after
// a new list version before MSNP10.
func (g *rgen) setting(verb, t, v string) exchange {
	reply := verb + " " + t + " " + v
	if g.ver <= 9 {
		reply = verb + " " + t + " " + g.listVersion() + " " + v
	}
	return exchange{block{c2s(verb + " " + t + " " + v)}, block{s2c(reply)}}
}

func (g *rgen) simpleOf(t string) (exchange, bool) {
	b := g.buddy()
	switch g.intn(20) {
	case 0:
		// BLP and GTC lose their list version with MSNP10.
		return g.setting("BLP", t, g.pick("AL", "BL")), true
	case 1:
		if g.ver > 12 {
			return exchange{}, false
		}
		return g.setting("GTC", t, g.pick("A", "N")), true
	case 2:
		if g.ver > 9 {
			return exchange{}, false
		}
		l := g.pick("FL", "FL", "AL", "BL")
		tail := ""
		if l == "FL" && g.ver >= 7 && len(g.groups) > 0 {
			tail = " " + g.groups[g.intn(len(g.groups))].id
		}
		return exchange{block{c2s("ADD " + t + " " + l + " " + b.handle + " " + b.name + tail)},
			block{s2c("ADD " + t + " " + l + " " + g.listVersion() + " " + b.handle + " " + b.name + tail)}}, true
	case 3:
		if g.ver > 12 {
			return exchange{}, false
		}
		l := g.pick("FL", "AL", "BL")
		id := b.handle
		if g.ver >= 10 && l == "FL" {
			id = b.guid
		}
		tail := ""
		if l == "FL" && g.ver >= 7 && len(g.groups) > 0 && g.chance(0.5) {
			tail = " " + g.groups[g.intn(len(g.groups))].id
		}
		if g.ver <= 9 {
			return exchange{block{c2s("REM " + t + " " + l + " " + id + tail)}, block{s2c("REM " + t + " " + l + " " + g.listVersion() + " " + id + tail)}}, true
		}
		return exchange{block{c2s("REM " + t + " " + l + " " + id + tail)}, block{s2c("REM " + t + " " + l + " " + id + tail)}}, true
	case 4:
		if !g.in(10, 12) {
			return exchange{}, false
		}
		switch g.intn(3) {
		case 0:
			return exchange{block{c2s("ADC " + t + " FL N=" + b.handle + " F=" + b.name)}, block{s2c("ADC " + t + " FL N=" + b.handle + " F=" + b.name + " C=" + b.guid)}}, true
		case 1:
			if len(g.groups) == 0 {
				return exchange{}, false
			}
			gid := g.groups[g.intn(len(g.groups))].id
			return exchange{block{c2s("ADC " + t + " FL C=" + b.guid + " " + gid)}, block{s2c("ADC " + t + " FL C=" + b.guid + " " + gid)}}, true
		}
		l := g.pick("AL", "BL", "RL")
		return exchange{block{c2s("ADC " + t + " " + l + " N=" + b.handle)}, block{s2c("ADC " + t + " " + l + " N=" + b.handle)}}, true
	case 5:
		if !g.in(7, 12) {
			return exchange{}, false
		}
		name := g.friendly()
		if g.ver <= 9 {
			id := strconv.Itoa(len(g.groups) + g.intn(5))
			g.groups = append(g.groups, rgroup{id, name})
			return exchange{block{c2s("ADG " + t + " " + name + " 0")}, block{s2c("ADG " + t + " " + g.listVersion() + " " + name + " " + id + " 0")}}, true
		}
		id := g.guid()
		g.groups = append(g.groups, rgroup{id, name})
		return exchange{block{c2s("ADG " + t + " " + name)}, block{s2c("ADG " + t + " " + name + " " + id)}}, true
	case 6:
		if !g.in(7, 12) || len(g.groups) == 0 {
			return exchange{}, false
		}
		gr := &g.groups[g.intn(len(g.groups))]
		gr.name = g.friendly()
		if g.ver <= 9 {
			return exchange{block{c2s("REG " + t + " " + gr.id + " " + gr.name + " 0")}, block{s2c("REG " + t + " " + g.listVersion() + " " + gr.id + " " + gr.name + " 0")}}, true
		}
		return exchange{block{c2s("REG " + t + " " + gr.id + " " + gr.name)}, block{s2c("REG " + t + " " + gr.id + " " + gr.name)}}, true
	case 7:
		if !g.in(7, 12) || len(g.groups) == 0 {
			return exchange{}, false
		}
		gr := g.groups[g.intn(len(g.groups))]
		if gr.id == "0" {
			return exchange{block{c2s("RMG " + t + " 0")}, block{s2c("230 " + t)}}, true
		}
		if g.ver <= 9 {
			return exchange{block{c2s("RMG " + t + " " + gr.id)}, block{s2c("RMG " + t + " " + g.listVersion() + " " + gr.id)}}, true
		}
		return exchange{block{c2s("RMG " + t + " " + gr.id)}, block{s2c("RMG " + t + " " + gr.id)}}, true
	case 8:
		if g.ver > 9 {
			return exchange{}, false
		}
		h := g.pick(g.user, b.handle)
		name := g.friendly()
		return exchange{block{c2s("REA " + t + " " + h + " " + name)}, block{s2c("REA " + t + " " + g.listVersion() + " " + h + " " + name)}}, true
	case 9:
		if g.ver < 5 {
			return exchange{}, false
		}
		if g.ver <= 9 {
			p := g.pick("PHH", "PHW", "PHM", "MOB", "MBE")
			v := g.pick("Y", "N", urlEncode("+1 (555) "+g.digits(1000000, 9999999), false))
			return exchange{block{c2s("PRP " + t + " " + p + " " + v)}, block{s2c("PRP " + t + " " + g.listVersion() + " " + p + " " + v)}}, true
		}
		g.name = g.friendly()
		return exchange{block{c2s("PRP " + t + " MFN " + g.name)}, block{s2c("PRP " + t + " MFN " + g.name)}}, true
	case 10:
		if g.ver < 3 {
			return exchange{}, false
		}
		v := g.pick("ON", "OFF")
		return exchange{block{c2s("IMS " + t + " " + v)}, block{s2c("IMS " + t + " 0 " + v)}}, true
	case 11:
		svc := g.pick("INBOX", "COMPOSE", "PROFILE", "PERSON", "CHGMOB")
		reply := "URL " + t + " /cgi-bin/HoTMaiL https://loginnet.passport.com/ppsecure/md5auth.srf?lc=1033"
		if g.ver >= 3 {
			reply += " " + g.digits(1, 9999)
		}
		return exchange{block{c2s("URL " + t + " " + svc)}, block{s2c(reply)}}, true
	case 12:
		if g.ver < 11 {
			return exchange{}, false
		}
		return exchange{block{c2sP("UUX "+t, g.psm())}, block{s2c("UUX " + t + " 0")}}, true
	case 13:
		if g.ver < 13 {
			return exchange{}, false
		}
		v := g.pick("ADL", "RML")
		reply := block{s2c(v + " " + t + " OK")}
		if g.chance(0.1) {
			reply = block{s2c(g.pick("204", "240", "241") + " " + t)}
		}
		return exchange{block{c2sP(v+" "+t, g.ml(false, 1+g.intn(2)))}, reply}, true
	case 14:
		if g.ver < 13 {
			return exchange{}, false
		}
		typ := g.pick("1", "2", "3", "4")
		var p []byte
		if typ == "1" {
			p = []byte(`<SNM opcode="SNM" csid="` + g.braceGUID() + `" priority="0"/>`)
		} else {
			p = g.text(g.size())
		}
		to := b.handle
		if g.since(16) && g.chance(0.5) {
			to += ";" + g.braceGUID()
		}
		return exchange{block{c2sP("UUN "+t+" "+to+" "+typ, p)}, block{s2c("UUN " + t + " OK")}}, true
	case 15:
		if g.ver < 14 {
			return exchange{}, false
		}
		return exchange{block{c2sP("FQY "+t, g.ml(false, 1))}, block{s2cP("FQY "+t, g.ml(false, 1))}}, true
	case 16:
		if !g.in(11, 12) {
			return exchange{}, false
		}
		return exchange{block{c2s("GCF " + t + " Shields.xml")},
			block{s2cP("GCF "+t+" Shields.xml", []byte(`<?xml version="1.0" encoding="utf-8" ?><config><shield><cli maj="7" min="0" minbld="0" maxbld="9999" deny=" " /></shield><block></block></config>`))}}, true
	case 17:
		if g.ver < 21 {
			return exchange{}, false
		}
		if g.chance(0.5) {
			return exchange{block{c2sP("PUT "+t, g.blocks21("Publication", g.user, g.user))}, block{s2cP("PUT "+t+" OK", g.blocks21("", g.user, g.user))}}, true
		}
		return exchange{block{c2sP("DEL "+t, g.blocks21("Publication", g.user, g.user))}, block{s2cP("DEL "+t+" OK", g.blocks21("", g.user, g.user))}}, true
	case 18:
		if g.ver < 5 {
			return exchange{}, false
		}
		// SDC: an e-mail invitation; the length may be 0 (commands/sdc.md).
		return exchange{block{c2sP("SDC "+t+" "+g.handle()+" 0x0409 MSMSGS WindowsMessenger X X "+g.name, g.text(g.pickInt(0, g.size())))}, block{s2c("SDC " + t + " OK")}}, true
	case 19:
		if g.ver > 7 {
			return exchange{}, false
		}
		// CVR after login, MSNP2-7 (msnp-grammar.md §4).
		args := "0x0409 win 4.10 i386 MSMSGS 1.0.0863"
		if g.ver >= 4 {
			args += " MSMSGS"
		}
		return exchange{block{c2s("CVR " + t + " " + args)}, block{s2c("CVR " + t + " " + g.cvrReply())}}, true
	}
	return exchange{}, false
}

// pickInt picks one of two ints.
func (g *rgen) pickInt(a, b int) int {
	if g.chance(0.5) {
		return a
	}
	return b
}

// async returns a server-initiated command of the version: presence,
// list changes pushed by the server, notifications, personal messages.
func (g *rgen) async() string {
	for {
		b := g.buddy()
		switch g.intn(12) {
		case 0, 1:
			return s2c("NLN " + g.status() + " " + b.handle + g.presenceTail(b))
		case 2:
			line := "FLN " + b.handle
			if g.since(14) {
				line += " 1 " + g.caps()
			}
			return s2c(line)
		case 3:
			switch {
			case g.ver <= 9:
				return s2c("ADD 0 RL " + g.listVersion() + " " + b.handle + " " + b.name)
			case g.ver <= 12:
				return s2c("ADC 0 RL N=" + b.handle + " F=" + b.name)
			}
			return s2cP("ADL 0", g.ml(false, 8))
		case 4:
			switch {
			case g.ver <= 9:
				return s2c("REM 0 RL " + g.listVersion() + " " + b.handle)
			case g.ver <= 12:
				return s2c("REM 0 RL " + b.handle)
			}
			return s2cP("RML 0", g.ml(false, 8))
		case 5:
			if g.ver >= 5 {
				return s2cP("NOT", g.notice())
			}
		case 6:
			return s2cP("MSG Hotmail Hotmail", g.mailNotice())
		case 7:
			if g.ver >= 11 {
				line := "UBX " + b.handle
				if g.since(14) {
					line += " 1"
				}
				return s2cP(line, g.psm())
			}
		case 8:
			if g.ver >= 13 {
				return s2cP("UBN "+b.handle+" "+g.pick("1", "2", "3"), g.text(g.size()))
			}
		case 9:
			if g.in(5, 12) {
				line := "BPR "
				if g.ver <= 9 {
					line += g.listVersion() + " "
				}
				return s2c(line + b.handle + " " + g.pick("PHH", "PHW", "PHM", "MOB") + " " + g.pick("N", urlEncode("1 (222) 333", false)))
			}
		case 10:
			if g.ver >= 21 {
				if g.chance(0.5) {
					return s2cP("SDG 0", g.blocks21("Messaging", g.user, b.handle))
				}
				return s2cP("NFY "+g.pick("PUT", "DEL"), g.blocks21("Notification", g.user, b.handle))
			}
		case 11:
			if g.ver >= 6 {
				return s2cP("IPG", g.notice())
			}
		}
	}
}

// nsActivity adds one block of notification server activity.
func (g *rgen) nsActivity(c *rconn) {
	switch x := g.r.Float64(); {
	case x < 0.4:
		// One or more requests, pipelined, answered in any order, with
		// server-initiated lines in between.
		n := 1
		if g.chance(0.25) {
			n = g.between(2, 4)
		}
		var reqs, replies block
		for range n {
			e := g.simple(c)
			reqs = append(reqs, e.req...)
			replies = append(replies, e.reply...)
		}
		if g.chance(0.3) {
			g.r.Shuffle(len(replies), func(i, j int) { replies[i], replies[j] = replies[j], replies[i] })
		}
		bl := reqs
		for _, r := range replies {
			if g.chance(0.15) {
				bl = append(bl, g.async())
			}
			bl = append(bl, r)
		}
		c.add(bl)
	case x < 0.65:
		bl := block{g.async()}
		for g.chance(0.3) {
			bl = append(bl, g.async())
		}
		c.add(bl)
	case x < 0.72:
		// Keep-alive: QNG carries the seconds to the next PNG from MSNP9.
		q := "QNG"
		if g.since(9) {
			q += " " + g.digits(0, 120)
		}
		bl := block{c2s("PNG")}
		if g.chance(0.2) {
			bl = append(bl, g.async())
		}
		c.add(append(bl, s2c(q)))
	case x < 0.78:
		g.chg(c, false)
	case x < 0.83:
		if g.ver < 6 {
			return
		}
		// Challenge (msnp-grammar.md §12): CHL 0 -> QRY with 32 hex digits.
		t := g.nextTrID(c)
		key := "msmsgs@msnmsgr.com"
		if g.ver >= 11 {
			key = g.pick("PROD0090YUAUV{2B", "PROD0113H11T8$X_", "PROD0120PW!CCV9@")
		}
		c.add(block{s2c("CHL 0 " + g.digits(1e9, 2e9) + g.digits(1e9, 2e9))})
		c.add(block{c2sP("QRY "+t+" "+key, []byte(g.hex(32))), s2c("QRY " + t)})
	case x < 0.92:
		if g.ver >= 21 || len(g.conns) >= 5 {
			return
		}
		g.invite(c)
	default:
		if g.ver < 14 {
			return
		}
		// UUM: a message to a Yahoo contact; errors only in reply.
		t := g.nextTrID(c)
		bl := block{c2sP("UUM "+t+" "+g.buddy().handle+" 32 "+g.pick("1", "2", "3"), g.mimeMessage(g.user, false))}
		if g.chance(0.5) {
			bl = append(bl, s2c(g.pick("508", "208")+" "+t))
		}
		c.add(bl)
	}
}

// invite adds a switchboard session that the notification session c grants
// (XFR SB) or announces (RNG), msnp-grammar.md §6, §7.
func (g *rgen) invite(c *rconn) {
	cookie := g.cookie()
	addr := g.sbHost + ":1865"
	if g.chance(0.5) {
		t := g.nextTrID(c)
		tail := ""
		switch {
		case g.ver == 13:
			tail = " U messenger.msn.com"
		case g.ver >= 14:
			tail = " U messenger.msn.com " + g.pick("0", "1")
		}
		if g.chance(0.1) {
			c.add(block{c2s("XFR " + t + " SB"), s2c("913 " + t)})
			return
		}
		c.add(block{c2s("XFR " + t + " SB"), s2c("XFR " + t + " SB " + addr + " CKI " + cookie + tail)})
		g.switchboard(c, len(c.blocks), "caller", cookie, "")
		return
	}
	sid := g.sessionID()
	b := g.buddy()
	tail := ""
	switch {
	case g.ver == 13:
		tail = " U messenger.hotmail.com"
	case g.ver >= 14:
		tail = " U messenger.hotmail.com " + g.pick("0", "1")
	}
	c.add(block{s2c("RNG " + sid + " " + addr + " CKI " + cookie + " " + b.handle + " " + b.name + tail)})
	g.switchboard(c, len(c.blocks), "callee", cookie, sid)
}

// --- switchboard ---

func (g *rgen) joinTail() string {
	if g.since(12) {
		return " " + g.caps()
	}
	return ""
}

// switchboard adds a switchboard connection that starts after ns has
// emitted depN blocks (ns nil: no notification session in the
// transcript).
func (g *rgen) switchboard(ns *rconn, depN int, role, cookie, sid string) {
	c := g.newConn("SB", g.sbHost+":1865")
	c.dep, c.depN = ns, depN
	if g.chance(0.5) {
		c.trid = 1
	}
	t := g.nextTrID(c)
	if role == "caller" {
		if g.chance(0.04) {
			c.add(block{c2s("USR " + t + " " + g.user + " " + cookie), s2c("911 " + t)})
			return
		}
		c.add(block{c2s("USR " + t + " " + g.user + " " + cookie), s2c("USR " + t + " OK " + g.user + " " + g.name)})
		g.call(c)
	} else {
		me := g.user
		if g.since(16) && g.chance(0.7) {
			me += ";" + g.braceGUID()
		}
		bl := block{c2s("ANS " + t + " " + me + " " + cookie + " " + sid)}
		n := g.between(1, 3)
		for i := range n {
			p := g.buddy()
			c.parts = append(c.parts, p)
			bl = append(bl, s2c(fmt.Sprintf("IRO %s %d %d %s %s%s", t, i+1, n, p.handle, p.name, g.joinTail())))
		}
		c.add(append(bl, s2c("ANS "+t+" OK")))
	}
	for range g.between(1, max(1, g.opt.Activity/2)) {
		g.sbActivity(c)
	}
	if g.chance(0.9) {
		c.add(block{c2s("OUT")})
	}
}

// call adds CAL and, unless refused, the callee's JOI.
func (g *rgen) call(c *rconn) {
	t := g.nextTrID(c)
	b := g.buddy()
	if g.chance(0.1) {
		c.add(block{c2s("CAL " + t + " " + b.handle), s2c(g.pick("208", "215", "217", "713") + " " + t)})
		return
	}
	c.add(block{c2s("CAL " + t + " " + b.handle), s2c("CAL " + t + " RINGING " + g.sessionID())})
	c.parts = append(c.parts, b)
	c.add(block{s2c("JOI " + b.handle + " " + b.name + g.joinTail())})
}

// sbActivity adds one block of switchboard activity: messages both ways
// with their acknowledgements (commands/msg.md), joins, leaves, calls.
func (g *rgen) sbActivity(c *rconn) {
	switch x := g.r.Float64(); {
	case x < 0.45:
		t := g.nextTrID(c)
		ack := g.pick("U", "N", "A", "A")
		if g.since(9) && g.chance(0.15) {
			ack = "D"
		}
		bl := block{c2sP("MSG "+t+" "+ack, g.mimeMessage(g.user, ack == "D"))}
		if g.chance(0.15) && len(c.parts) > 0 {
			p := c.parts[g.intn(len(c.parts))]
			bl = append(bl, s2cP("MSG "+p.handle+" "+p.name, g.mimeMessage(p.handle, false)))
		}
		switch ack {
		case "N":
			if g.chance(0.2) {
				bl = append(bl, s2c("NAK "+t))
			}
		case "A":
			bl = append(bl, s2c(g.pick("ACK", "ACK", "ACK", "NAK")+" "+t))
		case "D":
			bl = append(bl, s2c(g.pick("ACK", "ACK", "282")+" "+t))
		}
		c.add(bl)
	case x < 0.8:
		if len(c.parts) == 0 {
			g.call(c)
			return
		}
		p := c.parts[g.intn(len(c.parts))]
		c.add(block{s2cP("MSG "+p.handle+" "+p.name, g.mimeMessage(p.handle, false))})
	case x < 0.88:
		g.call(c)
	case x < 0.94:
		b := g.buddy()
		c.parts = append(c.parts, b)
		c.add(block{s2c("JOI " + b.handle + " " + b.name + g.joinTail())})
	default:
		if len(c.parts) == 0 {
			return
		}
		i := g.intn(len(c.parts))
		p := c.parts[i]
		c.parts = append(c.parts[:i], c.parts[i+1:]...)
		line := "BYE " + p.handle
		if g.chance(0.3) {
			line += " 1"
		}
		c.add(block{s2c(line)})
	}
}
