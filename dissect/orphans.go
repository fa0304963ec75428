package dissect

// Replies before their requests. TCP reassembly delivers each direction
// in order, but not the two directions in the order of the capture: when
// a client segment is lost or reordered, the client bytes after it wait
// for the hole to be given up (a flush, or the end), while the server's
// replies flow on. Such a reply carries a TrID no request has used yet.
// It is kept as an orphan until a request with its TrID and an earlier
// packet time turns up, and it is reported as unknown_trid only when none
// does by the end.

// maxOrphans bounds the replies kept waiting for their request; the
// oldest is given up (reported) beyond it. A reassembly stall lasts at
// most the reorder window plus a flush interval, a few hundred lines of a
// busy session.
const maxOrphans = 1024

// orphan keeps a reply whose TrID no request has used.
func (s *Session) orphan(c *Command) {
	if len(s.orphans) >= maxOrphans {
		s.giveUp(s.orphans[0])
		s.orphans = s.orphans[1:]
	}
	// A clone: c is reused once the Handler has seen it.
	s.orphans = append(s.orphans, c.Clone())
}

// giveUp reports an orphan that no request claimed.
func (s *Session) giveUp(c *Command) {
	// A reply to a request the capture lost is no fault of the traffic.
	if s.Conn.SYN && s.Lost[C2S] == 0 && s.UnknownGaps[C2S] == 0 {
		s.anomaly(Anomaly{Kind: "unknown_trid", Time: c.Time, Dir: c.Dir, Offset: c.Offset,
			Detail: "reply to a TrID no client command used", Line: quote([]byte(c.Line()))})
	}
}

// adopt gives request c (and its transaction tx) the orphan replies with
// its TrID that were captured after it.
func (s *Session) adopt(c *Command, tx *Transaction) {
	if tx == nil || len(s.orphans) == 0 {
		return
	}
	kept := s.orphans[:0]
	for _, o := range s.orphans {
		if o.TrID != c.TrID || o.Time.Before(c.Time) {
			kept = append(kept, o)
			continue
		}
		s.UnmatchedReplies--
		s.match(o)
		if o.ErrorCode > 0 {
			for i := len(s.Errors) - 1; i >= 0; i-- {
				if e := &s.Errors[i]; e.TrID == o.TrID && e.Verb == "" && e.Time.Equal(o.Time) {
					e.Verb = tx.Verb
					break
				}
			}
		}
		s.applyLate(o, tx)
	}
	clear(s.orphans[len(kept):])
	s.orphans = kept
}

// applyLate applies the parts of a reply's meaning that depend on the
// request it answers, for a reply that arrived first.
func (s *Session) applyLate(c *Command, tx *Transaction) {
	if op := s.opByTrID[c.TrID]; op != nil && op.Status == StatusPending {
		s.settleOp(op, c, tx)
	}
	if c.ErrorCode > 0 {
		if tx.Verb == "MSG" {
			s.sbServer(c, tx)
		}
		if s.Auth != nil && s.Auth.TrID == c.TrID && (tx.Verb == "USR" || tx.Verb == "ANS") {
			s.Auth.Result = StatusError
			s.Auth.ErrorCode = c.ErrorCode
		}
		return
	}
	switch c.Verb {
	case "XFR":
		if tx.Verb == "USR" && arg(c, 0) == "NS" {
			if s.Auth != nil && s.Auth.Result == StatusPending {
				s.Auth.Result = StatusRedirected
			}
			s.evidenceFor(KindDispatch, "XFR NS in reply to USR")
		}
	case "ADD", "REM", "ADC", "REA":
		s.listEdit(c, tx)
	case "ACK", "NAK":
		s.sbServer(c, tx)
	case "USR", "ANS":
		if arg(c, 0) == "OK" && s.Auth != nil {
			s.Auth.Result = StatusOK
		}
	}
}

// expireOrphans gives up the orphans captured before client command c:
// the client's bytes are delivered in order, so a request captured before
// them would have come before c.
func (s *Session) expireOrphans(c *Command) {
	if len(s.orphans) == 0 {
		return
	}
	kept := s.orphans[:0]
	for _, o := range s.orphans {
		if o.Time.Before(c.Time) {
			s.giveUp(o)
			continue
		}
		kept = append(kept, o)
	}
	clear(s.orphans[len(kept):])
	s.orphans = kept
}

// endOrphans reports the orphans left at the end of the session.
func (s *Session) endOrphans() {
	for _, o := range s.orphans {
		s.giveUp(o)
	}
	clear(s.orphans)
	s.orphans = nil
}
