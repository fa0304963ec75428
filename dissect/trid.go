package dissect

import "slices"

// Transaction matching (msnp-grammar.md §1.1): a client command with TrID n
// is matched to every server line carrying n, whatever comes in between.
// TrID 0 on a server line marks an unsolicited use of a verb unless a
// client command used 0 itself.

// track opens a transaction for client command c. A MSG with
// acknowledgement type U gets no reply, ever (commands/msg.md), so it is
// not a transaction.
func (s *Session) track(c *Command) *Transaction {
	if c.Verb == "MSG" && arg(c, 0) == "U" {
		return nil
	}
	old, had := s.open[c.TrID]
	if had && old.Replies == 0 && old.Status == StatusPending {
		s.anomaly(Anomaly{Kind: "trid_reused", Time: c.Time, Dir: c.Dir, Offset: c.Offset,
			Detail: "TrID reused while a command with it is still unanswered", Line: quote([]byte(c.Line()))})
	}
	tx := &Transaction{TrID: c.TrID, Verb: c.Verb, Time: c.Time, Status: StatusPending}
	// The arguments are copied: c.Args may live in c itself (argBuf), and
	// the transaction would then keep the whole command, payload included,
	// until the session ends.
	switch n := len(c.Args); {
	case n == 0:
	case n <= 2:
		tx.Args = tx.buf[:n:n]
		copy(tx.Args, c.Args)
	default:
		tx.Args = slices.Clone(c.Args)
	}
	if !had {
		s.remember(c.TrID)
	}
	if s.open == nil {
		s.open = map[int64]*Transaction{}
	}
	s.open[c.TrID] = tx
	if len(s.Transactions) < s.a.lim.MaxTransactions {
		s.Transactions = append(s.Transactions, tx)
	} else {
		s.UnlistedTransactions++
	}
	return tx
}

// remember records the order TrIDs were opened in, evicting the oldest
// beyond Limits.MaxPending so the matching state stays bounded.
func (s *Session) remember(trid int64) {
	max := s.a.lim.MaxPending
	if len(s.ring) < max {
		if s.ring == nil {
			// Most sessions open a few dozen transactions: start with
			// room for some rather than growing from one.
			s.ring = make([]int64, 0, min(max, 16))
		}
		s.ring = append(s.ring, trid)
		return
	}
	old := s.ring[s.ringHead]
	if tx, ok := s.open[old]; ok {
		if tx.Replies == 0 {
			s.EvictedPending++
			s.anomaly(Anomaly{Kind: "evicted", Time: tx.Time, Detail: "unanswered transaction evicted from matching: too many open TrIDs"})
		}
		delete(s.open, old)
		delete(s.opByTrID, old)
	}
	s.ring[s.ringHead] = trid
	s.ringHead = (s.ringHead + 1) % max
}

// match finds the transaction a server line with a TrID answers.
func (s *Session) match(c *Command) *Transaction {
	tx := s.open[c.TrID]
	if tx == nil {
		return nil
	}
	if tx.Replies == 0 {
		tx.Latency = c.Time.Sub(tx.Time)
	}
	tx.Replies++
	if n := len(tx.ReplyVerbs); n == 0 {
		tx.ReplyVerbs = append(tx.buf[2:2:3], c.Verb)
	} else if tx.ReplyVerbs[n-1] != c.Verb && n < 16 {
		tx.ReplyVerbs = append(tx.ReplyVerbs, c.Verb)
	}
	if c.ErrorCode > 0 {
		tx.Status = StatusError
		tx.ErrorCode = c.ErrorCode
	} else if tx.Status == StatusPending {
		tx.Status = StatusOK
	}
	if tx.Verb == "MSG" {
		// A MSG's arguments tell only whether it awaits a reply
		// (settleUnanswered); answered, it lets them go, and the line
		// they were cut from with them, for the rest of the session.
		tx.Args = nil
		tx.buf[0], tx.buf[1] = "", ""
	}
	return tx
}

// settleUnanswered closes what the end of the session decides: a MSG with
// acknowledgement type N is answered only on failure (NAK), so one that
// got no reply was delivered (commands/msg.md).
func (s *Session) settleUnanswered() {
	for _, tx := range s.Transactions {
		if tx.Status == StatusPending && tx.Verb == "MSG" && len(tx.Args) > 0 && tx.Args[0] == "N" {
			tx.Status = StatusOK
		}
	}
}
