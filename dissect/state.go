package dissect

import (
	"bytes"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// finish records a complete command: its role, its transaction, what it
// means for the session's state, and hands it to the Handler.
func (s *Session) finish(c *Command) {
	// Deferred first, so run last: after adopt, which reads c.
	defer s.a.recycle(c)
	c.Seq = s.seq
	s.seq++
	s.Commands[c.Dir]++
	if c.Dir == C2S {
		s.expireOrphans(c)
	}
	if s.Version.Source != "negotiated" {
		s.inferVersion(c)
	}
	s.checkPlace(c)
	if c.Dir == C2S {
		s.snapshotContacts()
	}
	var tx *Transaction
	switch {
	case c.Dir == C2S:
		c.Role = RoleRequest
		if c.HasTrID {
			tx = s.track(c)
		}
		defer s.adopt(c, tx)
	case c.ErrorCode > 0:
		c.Role = RoleError
		tx = s.matchReply(c)
		e := ErrorReply{TrID: c.TrID, Code: c.ErrorCode, Time: c.Time}
		if ec, ok := LookupError(c.ErrorCode); ok {
			e.Name = ec.Name
		} else {
			s.anomaly(Anomaly{Kind: "unknown_error_code", Time: c.Time, Dir: c.Dir, Offset: c.Offset,
				Detail: "error code not in the error table", Line: quote([]byte(c.Line()))})
		}
		if tx != nil {
			e.Verb = tx.Verb
		}
		s.Errors = append(s.Errors, e)
	case c.HasTrID:
		c.Role = RoleServer
		if tx = s.matchReply(c); tx != nil {
			c.Role = RoleReply
		}
	default:
		c.Role = RoleServer
	}
	s.apply(c, tx)
	s.a.h.Command(s, c)
}

// matchReply matches a server line carrying a TrID, reporting a TrID no
// client command used (TrID 0 is unsolicited by definition).
func (s *Session) matchReply(c *Command) *Transaction {
	if !c.HasTrID {
		return nil
	}
	if tx := s.match(c); tx != nil {
		return tx
	}
	if c.TrID != 0 {
		s.UnmatchedReplies++
		s.orphan(c)
	}
	return nil
}

// checkPlace reports commands that do not belong where they are: unknown
// verbs, the wrong direction, a version without the verb, anything after
// OUT.
func (s *Session) checkPlace(c *Command) {
	if s.Out != nil && s.Out.Dir == c.Dir {
		s.anomaly(Anomaly{Kind: "after_out", Time: c.Time, Dir: c.Dir, Offset: c.Offset,
			Detail: "command after OUT from the same side", Line: quote([]byte(c.Line()))})
	}
	if c.ErrorCode > 0 {
		if c.Dir == C2S {
			s.anomaly(Anomaly{Kind: "wrong_direction", Time: c.Time, Dir: c.Dir, Offset: c.Offset,
				Detail: "error reply sent by the client", Line: quote([]byte(c.Line()))})
		} else if !c.HasTrID || len(c.Args) > 0 {
			s.anomaly(Anomaly{Kind: "bad_arity", Time: c.Time, Dir: c.Dir, Offset: c.Offset,
				Detail: "an error reply is the code and the TrID alone (msnp-grammar.md §1.2)", Line: quote([]byte(c.Line()))})
		}
		return
	}
	v := LookupVerb(c.Verb)
	if v == nil {
		s.anomaly(Anomaly{Kind: "unknown_verb", Time: c.Time, Dir: c.Dir, Offset: c.Offset,
			Detail: "verb not in the verb table", Line: quote([]byte(c.Line()))})
		return
	}
	if !v.form(c.Dir).ok {
		s.anomaly(Anomaly{Kind: "wrong_direction", Time: c.Time, Dir: c.Dir, Offset: c.Offset,
			Detail: c.Verb + " is not sent by the " + sideName(c.Dir) + " (" + v.Spec + ")", Line: quote([]byte(c.Line()))})
	}
	if v.form(c.Dir).ok && !v.args(c.Dir).allows(len(c.Args)) {
		s.anomaly(Anomaly{Kind: "bad_arity", Time: c.Time, Dir: c.Dir, Offset: c.Offset,
			Detail: c.Verb + " with " + strconv.Itoa(len(c.Args)) + " parameters (" + v.Spec + ")", Line: quote([]byte(c.Line()))})
	}
	// An inferred version is only a lower bound: a verb newer than it may
	// still belong to the true version, a removed one may not.
	n := s.Version.Number
	tooNew := n < v.Intro && s.Version.Source == "negotiated"
	if n > 0 && (tooNew || (v.Removed > 0 && n >= v.Removed)) {
		s.anomaly(Anomaly{Kind: "verb_not_in_version", Time: c.Time, Dir: c.Dir, Offset: c.Offset,
			Detail: c.Verb + " is not part of MSNP" + strconv.Itoa(n) + " (" + v.Spec + ")", Line: quote([]byte(c.Line()))})
	}
}

func sideName(d Dir) string {
	if d == S2C {
		return "server"
	}
	return "client"
}

// apply updates the session's state with a command and, for a reply, the
// transaction it answers.
func (s *Session) apply(c *Command, tx *Transaction) {
	if c.Dir == C2S {
		s.applyRequest(c)
	} else {
		s.applyServer(c, tx)
	}
	if c.Verb == "OUT" && s.Out == nil {
		s.Out = &Out{Dir: c.Dir, Time: c.Time, Reason: strings.Join(c.Args, " ")}
	}
}

// maxMLPending bounds the ADL/RML payloads kept until their OK arrives.
const maxMLPending = 64

var authPackages = map[string]bool{"MD5": true, "CTP": true, "TWN": true, "SSO": true, "SHA": true}

func arg(c *Command, i int) string { return argOf(c.Args, i) }

// argOf returns args[i], or "" when there is no such parameter.
func argOf(args []string, i int) string {
	if i < len(args) {
		return args[i]
	}
	return ""
}

func (s *Session) applyRequest(c *Command) {
	switch c.Verb {
	case "VER":
		// commands/ver.md: the client lists every dialect it supports.
		s.Version.Offered = slices.Clone(c.Args)
	case "USR":
		pkg := arg(c, 0)
		switch {
		case authPackages[pkg] && pkg == "SHA" && s.Auth != nil && s.Auth.Result == StatusOK:
			// MSNP18 circle authentication after login (msnp-grammar.md §5).
		case authPackages[pkg]:
			if s.Auth == nil || arg(c, 1) == "I" {
				s.Auth = &Auth{Method: pkg, Result: StatusPending, TrID: c.TrID, Offered: s.authOffered()}
			}
			if arg(c, 1) == "I" {
				s.Auth.User = arg(c, 2)
			}
			if arg(c, 1) == "S" {
				s.Auth.ResponseSeen = true
			}
			s.Auth.TrID = c.TrID
			s.evidenceFor(KindNotification, "")
		case len(c.Args) >= 2:
			// SB login: USR t handle cookie (commands/usr.md).
			s.Auth = &Auth{Method: "cookie", User: pkg, Result: StatusPending, TrID: c.TrID}
			s.evidenceFor(KindSwitchboard, "USR with a switchboard cookie")
			s.sbRequest(c)
		}
	case "ANS":
		// commands/ans.md: ANS t handle{;guid} cookie sessid.
		user, _, _ := strings.Cut(arg(c, 0), ";")
		s.Auth = &Auth{Method: "cookie", User: user, Result: StatusPending, TrID: c.TrID}
		s.evidenceFor(KindSwitchboard, "ANS")
		s.sbRequest(c)
	case "CAL":
		s.evidenceFor(KindSwitchboard, "CAL")
		s.sbRequest(c)
	case "OUT":
		if s.Chat != nil {
			s.sbRequest(c)
		}
	case "CVQ":
		// CVQ is a dispatch-only command of the CVR0 pseudo-dialect
		// (versions/cvr0.md, msnp-grammar.md §4).
		s.evidenceFor(KindDispatch, "CVQ (CVR0)")
	case "MSG":
		s.evidenceFor(KindSwitchboard, "MSG from the client")
		s.sbRequest(c)
	case "ADG":
		s.addOp(c, &GroupOp{Op: "ADG", Name: Unescape(arg(c, 0))})
	case "REG":
		gid := arg(c, 0)
		s.addOp(c, &GroupOp{Op: "REG", GroupID: gid, Name: Unescape(arg(c, 1))})
	case "RMG":
		gid := arg(c, 0)
		s.addOp(c, &GroupOp{Op: "RMG", GroupID: gid, Name: s.groups[gid]})
	case "ADD":
		// ADD t FL handle friendly gid (MSNP7+, commands/add.md).
		if len(c.Args) >= 4 && arg(c, 0) == "FL" {
			gid := arg(c, 3)
			s.addOp(c, &GroupOp{Op: "ADD", List: "FL", Contact: arg(c, 1), GroupID: gid, Name: s.groups[gid]})
		}
	case "REM":
		// REM t FL handle gid removes from the group only (commands/rem.md).
		if len(c.Args) >= 3 && arg(c, 0) == "FL" {
			gid := arg(c, 2)
			s.addOp(c, &GroupOp{Op: "REM", List: "FL", Contact: arg(c, 1), GroupID: gid, Name: s.groups[gid]})
		}
	case "ADC":
		// ADC t FL C=id gid (MSNP10+, commands/adc.md).
		if len(c.Args) == 3 && arg(c, 0) == "FL" && strings.HasPrefix(arg(c, 1), "C=") {
			gid := arg(c, 2)
			s.addOp(c, &GroupOp{Op: "ADC", List: "FL", Contact: strings.TrimPrefix(arg(c, 1), "C="), GroupID: gid, Name: s.groups[gid]})
		}
	case "ADL", "RML":
		s.verbEvidence(KindNotification, c.Verb, " from the client")
		if c.HasTrID && len(c.Payload) > 0 {
			if s.mlPending == nil {
				s.mlPending = map[int64][]byte{}
			}
			if len(s.mlPending) < maxMLPending {
				s.mlPending[c.TrID] = slices.Clone(c.Payload)
			}
		}
	case "SYN", "CHG", "ILN", "PRP", "BLP", "GTC", "LST", "LSG", "SDC", "URL", "UUX", "CVR":
		if c.Verb != "CVR" {
			s.verbEvidence(KindNotification, c.Verb, " from the client")
		}
	}
}

func (s *Session) authOffered() []string {
	if s.Auth != nil {
		return s.Auth.Offered
	}
	return nil
}

func (s *Session) addOp(c *Command, op *GroupOp) {
	s.verbEvidence(KindNotification, c.Verb, " from the client")
	if !c.HasTrID {
		return
	}
	op.TrID = c.TrID
	op.Status = StatusPending
	s.GroupOps = append(s.GroupOps, op)
	if s.opByTrID == nil {
		s.opByTrID = map[int64]*GroupOp{}
	}
	s.opByTrID[c.TrID] = op
}

func (s *Session) applyServer(c *Command, tx *Transaction) {
	if tx != nil {
		if op := s.opByTrID[c.TrID]; op != nil && op.Status == StatusPending {
			s.settleOp(op, c, tx)
		}
		if c.ErrorCode > 0 && tx.Verb == "MSG" {
			s.sbServer(c, tx)
		}
		if c.ErrorCode > 0 && s.Auth != nil && s.Auth.TrID == c.TrID && (tx.Verb == "USR" || tx.Verb == "ANS") {
			s.Auth.Result = StatusError
			s.Auth.ErrorCode = c.ErrorCode
		}
	}
	switch c.Verb {
	case "VER":
		s.negotiated(c)
	case "INF":
		// commands/inf.md: INF t MD5 (MSNP2 may list CTP too).
		if s.Auth == nil {
			s.Auth = &Auth{Result: StatusPending}
		}
		s.Auth.Offered = slices.Clone(c.Args)
	case "USR":
		if arg(c, 1) == "S" && authPackages[arg(c, 0)] {
			if s.Auth == nil {
				s.Auth = &Auth{Method: arg(c, 0), Result: StatusPending, TrID: c.TrID}
			}
			s.Auth.ChallengeSeen = true
			if arg(c, 0) == "SSO" {
				s.Auth.Policy = arg(c, 2) // USR t SSO S policy nonce
			}
		}
		if arg(c, 0) == "OK" {
			if s.Auth == nil {
				s.Auth = &Auth{TrID: c.TrID}
			}
			s.Auth.Result = StatusOK
			if u := arg(c, 1); u != "" {
				s.Auth.User = u
			}
			if s.Auth.Method == "cookie" {
				s.evidenceFor(KindSwitchboard, "USR OK for a switchboard cookie")
				s.sbServer(c, tx)
			} else {
				s.evidenceFor(KindNotification, "USR OK")
			}
		}
	case "ANS":
		if arg(c, 0) == "OK" && s.Auth != nil {
			s.Auth.Result = StatusOK
		}
		s.sbServer(c, tx)
	case "XFR":
		s.redirect(c, tx)
	case "LSG":
		s.listGroup(c)
	case "SYN":
		if tx != nil && tx.Verb == "SYN" && c.HasTrID {
			clear(s.groups)
			s.syncDone = true
			s.ListVersion = arg(c, 0)
			s.ListNotSent = len(tx.Args) > 0 && tx.Args[0] == arg(c, 0) && !s.HasContacts()
		}
		s.evidenceFor(KindNotification, "SYN reply")
	case "LST":
		s.evidenceFor(KindNotification, "LST")
		s.ListNotSent = false
		s.listEntry(c)
	case "ADD", "REM", "ADC", "REA":
		if c.TrID == 0 || tx != nil {
			s.listEdit(c, tx)
		}
	case "ADL", "RML":
		s.verbEvidence(KindNotification, c.Verb, " from the server")
		switch {
		case c.HasTrID && c.TrID == 0 && c.PayloadLen > 0:
			s.mlEdit(c, c.Payload, c.Verb == "ADL")
		case tx != nil && arg(c, 0) == "OK":
			if p, ok := s.mlPending[c.TrID]; ok {
				delete(s.mlPending, c.TrID)
				s.mlEdit(c, p, c.Verb == "ADL")
				if c.Verb == "ADL" && bytes.Contains(p, []byte(`l="1"`)) {
					s.syncDone = true // the initial list (versions/msnp13.md)
				}
			}
		}
	case "CHG":
		s.evidenceFor(KindNotification, "CHG from the server")
		s.ownStatus(c)
	case "ILN", "NLN", "FLN":
		s.verbEvidence(KindNotification, c.Verb, " from the server")
		s.presenceLine(c)
	case "UBX":
		s.evidenceFor(KindNotification, "UBX from the server")
		s.personalMessage(c)
	case "JOI", "IRO", "ACK", "NAK", "BYE", "CAL":
		s.evidenceFor(KindSwitchboard, c.Verb)
		s.sbServer(c, tx)
	case "MSG":
		if arg(c, 0) == "Hotmail" {
			s.evidenceFor(KindNotification, "MSG from Hotmail")
		} else {
			s.evidenceFor(KindSwitchboard, "MSG from a user")
			s.sbServer(c, tx)
		}
	case "RNG":
		s.evidenceFor(KindNotification, "RNG")
		s.grantRNG(c)
	case "BPR", "NOT", "CHL", "QNG", "GCF", "SBS":
		s.verbEvidence(KindNotification, c.Verb, " from the server")
	}
}

// negotiated reads the server's VER reply: one dialect, "0" for a refusal,
// or (as some servers do) the whole list echoed, of which the highest
// MSNPn counts (msnp-grammar.md §4).
func (s *Session) negotiated(c *Command) {
	if len(c.Args) == 1 && c.Args[0] == "0" {
		s.Version.Refused = true
		s.Version.Selected = ""
		return
	}
	best, bestN := "", 0
	for _, d := range c.Args {
		if n := dialectNumber(d); n > bestN {
			best, bestN = d, n
		} else if best == "" && d == "CVR0" {
			best = d
		}
	}
	if best == "" {
		return
	}
	s.Version.Selected = best
	if bestN > 0 {
		s.Version.Number = bestN
		s.Version.Source = "negotiated"
	}
}

// dialectNumber returns n for "MSNPn", else 0.
func dialectNumber(d string) int {
	if !strings.HasPrefix(d, "MSNP") {
		return 0
	}
	n, err := strconv.Atoi(d[4:])
	if err != nil || n < 1 || n > 99 {
		return 0
	}
	return n
}

// redirect records an XFR reply (commands/xfr.md, msnp-grammar.md §6).
func (s *Session) redirect(c *Command, tx *Transaction) {
	if !c.HasTrID || c.TrID == 0 || len(c.Args) < 2 {
		return // XFR 0 NS 0 is a soft reset on the same connection
	}
	r := Redirect{TrID: c.TrID, Type: c.Args[0], To: c.Args[1]}
	switch r.Type {
	case "NS":
		// MSNP7-12: XFR t NS host:port 0 current-server:port; MSNP13+
		// has "U D" there instead (msnp-grammar.md §6).
		if arg(c, 2) == "0" && len(c.Args) >= 4 {
			r.From = arg(c, 3)
		}
		if tx != nil && tx.Verb == "USR" {
			if s.Auth != nil && s.Auth.Result == StatusPending {
				s.Auth.Result = StatusRedirected
			}
			s.evidenceFor(KindDispatch, "XFR NS in reply to USR")
		}
	case "SB":
		// XFR t SB host:port CKI cookie.
		if arg(c, 2) == "CKI" {
			r.Cookie = arg(c, 3)
		}
		s.evidenceFor(KindNotification, "XFR SB")
	}
	s.Redirects = append(s.Redirects, r)
	if r.Type == "SB" {
		s.grantXFR(r.Cookie, len(s.Redirects)-1)
	}
	if to, err := netip.ParseAddrPort(r.To); err == nil && r.Type == "NS" {
		s.a.remember(pendingRedirect{to: to, client: s.Conn.Client.Addr(), from: s, t: c.Time, index: len(s.Redirects) - 1})
	}
}

// listGroup reads an LSG line of a SYN reply (commands/lsg.md,
// msnp-grammar.md §9).
func (s *Session) listGroup(c *Command) {
	s.evidenceFor(KindNotification, "LSG")
	var id, name string
	switch {
	case c.HasTrID: // MSNP7: LSG t lv idx total gid name 0
		if len(c.Args) < 5 {
			return
		}
		id, name = c.Args[3], c.Args[4]
	case s.Version.Number >= 10: // LSG name guid
		if len(c.Args) < 2 {
			return
		}
		id, name = c.Args[1], c.Args[0]
	default: // MSNP8-9: LSG gid name 0
		if len(c.Args) < 2 {
			return
		}
		id, name = c.Args[0], c.Args[1]
	}
	if name == "~" {
		return // no groups: the client recreates the defaults
	}
	s.setGroup(id, Unescape(name))
}

// settleOp records the outcome of a group operation and applies it to the
// group table. A reply may omit what the request said (the MSNP7 example's
// "REG 11 11 Cool%20People 0" has no group id), so the request's values
// stand unless the reply names them.
func (s *Session) settleOp(op *GroupOp, c *Command, tx *Transaction) {
	if c.ErrorCode > 0 {
		op.Status = StatusError
		op.ErrorCode = c.ErrorCode
		return
	}
	op.Status = StatusOK
	switch op.Op {
	case "ADG":
		// MSNP7-9: ADG t lv name gid 0; MSNP10+: ADG t name gid. The id
		// follows the echoed name.
		raw := argOf(tx.Args, 0)
		for i, a := range c.Args {
			if a == raw && i+1 < len(c.Args) {
				op.GroupID = c.Args[i+1]
				break
			}
		}
		if op.GroupID != "" {
			s.setGroup(op.GroupID, op.Name)
		}
	case "REG":
		s.setGroup(op.GroupID, op.Name)
	case "RMG":
		delete(s.groups, op.GroupID)
	}
}

// evidenceFor notes the first evidence of a session kind.
func (s *Session) evidenceFor(k Kind, what string) {
	i := kindIndex(k)
	if i < 0 || s.evidence[i] != "" || what == "" {
		return
	}
	s.evidence[i] = what
	s.decideKind()
}

// verbEvidence is evidenceFor(k, verb+from), with the string built only
// when it is kept: it is called for every command of some verbs (QNG,
// CHG, ...), and the first one of a session is all it needs.
func (s *Session) verbEvidence(k Kind, verb, from string) {
	if i := kindIndex(k); i >= 0 && s.evidence[i] == "" {
		s.evidenceFor(k, verb+from)
	}
}

func kindIndex(k Kind) int {
	switch k {
	case KindSwitchboard:
		return 0
	case KindNotification:
		return 1
	case KindDispatch:
		return 2
	}
	return -1
}

// decideKind sets Kind from the evidence: a switchboard login outranks
// notification traffic, which outranks a referral (an NS may also refer).
func (s *Session) decideKind() {
	for i, k := range []Kind{KindSwitchboard, KindNotification, KindDispatch} {
		if s.evidence[i] != "" {
			s.Kind, s.KindEvidence = k, s.evidence[i]
			return
		}
	}
}

// inferVersion raises the session's rules version from the forms of its
// commands when no VER exchange was captured (a mid-session start). The
// version is a lower bound: the oldest version with every form seen.
func (s *Session) inferVersion(c *Command) {
	n, what := 0, ""
	switch c.Verb {
	case "USR":
		switch arg(c, 0) {
		case "MD5":
			n, what = 2, "USR MD5"
		case "TWN":
			n, what = 8, "USR TWN" // versions/msnp8.md
		case "SSO":
			n, what = 15, "USR SSO" // authschemes/sso.md
		case "SHA":
			n, what = 18, "USR SHA" // msnp-grammar.md §5 [KB18]
		}
	case "ILN", "NLN":
		// 14+: NLN status handle netid friendly caps (msnp-grammar.md §11).
		k := 1
		if c.Verb == "ILN" {
			k = 2
		}
		if c.Dir == S2C && len(c.Args) > k+1 && isDigits([]byte(arg(c, k))) && len(arg(c, k)) <= 3 {
			n, what = 14, c.Verb+" with a network id"
		} else if len(c.Args) >= k+3 {
			n, what = 8, c.Verb+" with client capabilities"
		}
	case "ADC", "SBP":
		n, what = 10, c.Verb
	case "LST":
		if strings.HasPrefix(arg(c, 0), "N=") {
			n, what = 10, "LST N="
		}
	case "UUX", "UBX", "GCF", "SBS":
		n, what = 11, c.Verb
	case "ADL", "RML", "UUN", "UBN":
		n, what = 13, c.Verb
	case "FQY", "UUM", "UBM":
		n, what = 14, c.Verb
	case "SDG", "PUT", "DEL", "NFY":
		n, what = 21, c.Verb // msnp-grammar.md §13 [KB21]
	case "CHL", "QRY":
		n, what = 6, c.Verb
	case "PRP", "BPR", "NOT", "SDC":
		n, what = 5, c.Verb
	case "LSG", "ADG", "REG", "RMG":
		n, what = 7, c.Verb
	}
	if n > s.Version.Number {
		s.Version.Number = n
		s.Version.Source = "inferred from " + what + " (at least MSNP" + strconv.Itoa(n) + ")"
	}
}

// setGroup records contact group id's name.
func (s *Session) setGroup(id, name string) {
	if s.groups == nil {
		s.groups = map[string]string{}
	}
	s.groups[id] = name
}
