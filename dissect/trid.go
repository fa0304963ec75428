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
	if old := s.open.get(c.TrID); old != nil && old.Replies == 0 && old.Status == StatusPending {
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
	s.open.put(c.TrID, tx, s.a.lim.MaxPending, s.evict)
	if len(s.Transactions) < s.a.lim.MaxTransactions {
		s.Transactions = append(s.Transactions, tx)
	} else {
		s.UnlistedTransactions++
	}
	return tx
}

// evict takes the transaction of a TrID forgotten by the matching to
// keep it bounded (Limits.MaxPending).
func (s *Session) evict(trid int64, tx *Transaction) {
	if tx.Replies == 0 {
		s.EvictedPending++
		s.anomaly(Anomaly{Kind: "evicted", Time: tx.Time, Detail: "unanswered transaction evicted from matching: too many open TrIDs"})
	}
	delete(s.opByTrID, trid)
}

// trids is a session's TrID matching state: the transaction open under
// each TrID, which every server line carrying the TrID answers, and the
// order the TrIDs were opened in, so that beyond Limits.MaxPending the
// oldest is forgotten.
//
// Clients number their commands 1, 2, 3... (msnp-grammar.md §1.1), so the
// TrIDs in the order they were opened are nearly always sorted. While they
// are, a lookup is a search of that order, the newest first, and there is
// no map: a map per session cost a few cache misses on every command, its
// allocations, and more memory than the order alone. The first TrID that
// is not above all those before it (a reused or a lower one) turns on the
// map, made from the order, for the rest of the session.
type trids struct {
	// ids holds the TrIDs in the order they were opened, as a ring once
	// it is full: ids[head] is then the oldest.
	ids  []int64
	head int
	// txs holds the transaction of each of ids while m is nil.
	txs []*Transaction
	m   map[int64]*Transaction
}

// at returns the index in ids of the kth oldest TrID.
func (t *trids) at(k int) int {
	if k += t.head; k >= len(t.ids) {
		k -= len(t.ids)
	}
	return k
}

// len returns the number of TrIDs open.
func (t *trids) len() int {
	if t.m != nil {
		return len(t.m)
	}
	return len(t.ids)
}

// get returns the transaction open under trid, or nil.
func (t *trids) get(trid int64) *Transaction {
	if t.m != nil {
		return t.m[trid]
	}
	n := len(t.ids)
	if n == 0 {
		return nil
	}
	if i := t.at(n - 1); t.ids[i] == trid {
		return t.txs[i]
	} else if trid > t.ids[i] || trid < t.ids[t.head] {
		return nil
	}
	// ids in order from the oldest are sorted: search them.
	lo, hi := 0, n-1
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if t.ids[t.at(mid)] < trid {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if i := t.at(lo); t.ids[i] == trid {
		return t.txs[i]
	}
	return nil
}

// put opens tx under trid, in place of any transaction open under it.
// A TrID not open yet is added to the order; beyond max, the oldest is
// forgotten, and evict is given it and its transaction.
func (t *trids) put(trid int64, tx *Transaction, max int, evict func(int64, *Transaction)) {
	if t.m == nil {
		if n := len(t.ids); n > 0 && trid <= t.ids[t.at(n-1)] {
			t.m = make(map[int64]*Transaction, n+1)
			for i, id := range t.ids {
				t.m[id] = t.txs[i]
			}
			t.txs = nil
		}
	}
	if t.m != nil {
		if _, had := t.m[trid]; had {
			t.m[trid] = tx
			return
		}
	}
	if len(t.ids) < max {
		if t.ids == nil {
			// Most sessions open a few dozen transactions: start with
			// room for some rather than growing from one.
			t.ids = make([]int64, 0, min(max, 16))
			t.txs = make([]*Transaction, 0, min(max, 16))
		}
		t.ids = append(t.ids, trid)
		if t.m != nil {
			t.m[trid] = tx
		} else {
			t.txs = append(t.txs, tx)
		}
		return
	}
	old := t.ids[t.head]
	if t.m != nil {
		if otx, ok := t.m[old]; ok {
			evict(old, otx)
			delete(t.m, old)
		}
		t.m[trid] = tx
	} else {
		evict(old, t.txs[t.head])
		t.txs[t.head] = tx
	}
	t.ids[t.head] = trid
	if t.head++; t.head == max {
		t.head = 0
	}
}

// match finds the transaction a server line with a TrID answers.
func (s *Session) match(c *Command) *Transaction {
	tx := s.open.get(c.TrID)
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

// acks is a chat's messages awaiting an ACK or NAK: the offset in the
// chat's log of each, by the TrID of its MSG. Like trids, it keeps the
// TrIDs in the order they came while they only grow, a sorted slice to
// search, and turns to a map at the first one that does not. An answered
// message is marked, and the marked ones are dropped once they are most
// of those kept.
type acks struct {
	ids  []int64
	offs []int // an offset, or answered
	dead int   // entries answered
	m    map[int64]int
}

// answered marks an entry of acks.offs; offsets are -1 (a message not
// listed) or more.
const answered = -2

// put records that the message at off awaits an answer to trid, in place
// of any other.
func (a *acks) put(trid int64, off int) {
	if a.m == nil {
		if n := len(a.ids); n == 0 || trid > a.ids[n-1] {
			a.ids = append(a.ids, trid)
			a.offs = append(a.offs, off)
			return
		}
		a.m = make(map[int64]int, len(a.ids)-a.dead+1)
		for i, id := range a.ids {
			if a.offs[i] != answered {
				a.m[id] = a.offs[i]
			}
		}
		a.ids, a.offs, a.dead = nil, nil, 0
	}
	a.m[trid] = off
}

// take returns the offset of the message awaiting an answer to trid, and
// forgets it.
func (a *acks) take(trid int64) (int, bool) {
	if a.m != nil {
		off, ok := a.m[trid]
		if ok {
			delete(a.m, trid)
		}
		return off, ok
	}
	i, ok := slices.BinarySearch(a.ids, trid)
	if !ok || a.offs[i] == answered {
		return 0, false
	}
	off := a.offs[i]
	a.offs[i] = answered
	if a.dead++; a.dead*2 > len(a.ids) {
		n := 0
		for j, id := range a.ids {
			if a.offs[j] != answered {
				a.ids[n], a.offs[n] = id, a.offs[j]
				n++
			}
		}
		a.ids, a.offs, a.dead = a.ids[:n], a.offs[:n], 0
	}
	return off, true
}

// len returns the number of messages awaiting an answer.
func (a *acks) len() int {
	if a.m != nil {
		return len(a.m)
	}
	return len(a.ids) - a.dead
}
