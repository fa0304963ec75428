package report

import (
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/msnsniff/msnsniff/dissect"
)

// NewSession converts a dissected session into its report.
func NewSession(s *dissect.Session) Session {
	return newSession(s, nil)
}

// newSession is NewSession with the transactions in txs's storage, when
// it is large enough: the JSON report reuses it from one session to the
// next.
func newSession(s *dissect.Session, txs []Transaction) Session {
	txs = slices.Grow(txs[:0], len(s.Transactions))
	if txs == nil {
		txs = []Transaction{} // not nil: no transactions are []
	}
	r := Session{
		ID:                   s.ID,
		Kind:                 string(s.Kind),
		KindEvidence:         s.KindEvidence,
		Client:               s.Conn.Client.String(),
		Server:               s.Conn.Server.String(),
		Start:                Time{s.StartTime},
		End:                  Time{s.EndTime},
		Closed:               s.Closed,
		Partial:              !s.Conn.SYN,
		DetectedBy:           s.Conn.DetectedBy,
		Commands:             DirCount{int64(s.Commands[dissect.C2S]), int64(s.Commands[dissect.S2C])},
		Bytes:                DirCount{s.Bytes[dissect.C2S], s.Bytes[dissect.S2C]},
		LostBytes:            s.Lost[dissect.C2S] + s.Lost[dissect.S2C],
		UnknownSizeGaps:      s.UnknownGaps[dissect.C2S] + s.UnknownGaps[dissect.S2C],
		UnmatchedReplies:     s.UnmatchedReplies,
		EvictedPending:       s.EvictedPending,
		UnlistedTransactions: s.UnlistedTransactions,
		Redirects:            []Redirect{},
		Transactions:         txs,
		GroupOps:             []GroupOp{},
		Groups:               []Group{},
		Errors:               []Error{},
		Anomalies:            []Anomaly{},
	}
	if r.DetectedBy == "" {
		r.DetectedBy = "port"
	}
	r.Transport = s.Conn.Transport
	if r.Transport == "" {
		r.Transport = "tcp"
	}
	r.HTTPConnections = nonNil(s.HTTPConnections)
	r.UnlistedHTTPConnections = s.UnlistedHTTPConnections
	r.EmptyPolls = s.EmptyPolls
	if s.Parent > 0 {
		r.Parent = ptr(s.Parent)
	}
	if s.Auth != nil {
		r.User = s.Auth.User
	}
	r.LinkNote = s.LinkNote
	if s.Cookie != "" {
		r.CookieRef = ptr(CookieRef(s.Cookie))
	}
	r.Invitations = []Invitation{}
	for _, in := range s.Invitations {
		x := Invitation{Time: Time{in.Time}, SessionID: in.SessionID, To: in.To, Inviter: in.Inviter, Friendly: in.Friendly, CookieRef: CookieRef(in.Cookie)}
		if in.Session > 0 {
			x.Session = ptr(in.Session)
		}
		r.Invitations = append(r.Invitations, x)
	}
	if ch := s.Chat; ch != nil {
		r.Chat = &Chat{SessionID: ch.SessionID, Invited: nonNil(ch.Invited), Participants: participants(ch.Participants), Messages: messageCounts(ch)}
	}
	if s.HasContacts() || s.ListVersion != "" {
		r.Contacts = &Contacts{ListVersion: s.ListVersion, AtLogin: contactEntries(s.ContactsAtLogin()), AtEnd: contactEntries(s.ContactsAtEnd()),
			Changes: []ContactChange{}, Unlisted: s.UnlistedContactChanges, Dropped: s.DroppedContacts()}
		if s.ListNotSent {
			r.Contacts.Note = "the client's cached list (version " + s.ListVersion + ") was current, so the server sent none: the lists at login are unknown"
		}
		for _, c := range s.ContactChanges {
			r.Contacts.Changes = append(r.Contacts.Changes, ContactChange{Time: Time{c.Time}, TrID: c.TrID, Op: c.Op, List: c.List, Contact: c.Contact, Group: c.Group, Server: c.Server})
		}
	}
	if pres := s.Presence(); len(pres) > 0 || len(s.OwnStatus) > 0 {
		r.Presence = &Presence{Own: presenceEvents(s.OwnStatus), Contacts: []ContactPresence{}}
		for _, p := range pres {
			r.Presence.Contacts = append(r.Presence.Contacts, ContactPresence{User: p.User, PSM: p.PSM, Media: p.Media, Events: presenceEvents(p.Events), UnlistedEvents: p.UnlistedEvents})
		}
	}
	r.Version = Version{Offered: nonNil(s.Version.Offered), Refused: s.Version.Refused, RulesSource: s.Version.Source}
	if s.Version.Selected != "" {
		r.Version.Selected = ptr(s.Version.Selected)
	}
	if s.Version.Number > 0 {
		r.Version.Rules = ptr("MSNP" + strconv.Itoa(s.Version.Number))
	}
	if a := s.Auth; a != nil {
		r.Auth = &Auth{Method: a.Method, User: a.User, Result: string(a.Result), Offered: nonNil(a.Offered), ErrorCode: code(a.ErrorCode),
			Policy: a.Policy, ChallengeSeen: a.ChallengeSeen, ResponseSeen: a.ResponseSeen}
	}
	for _, x := range s.Redirects {
		rd := Redirect{TrID: x.TrID, Type: x.Type, To: x.To}
		if x.From != "" {
			rd.From = ptr(x.From)
		}
		if x.Session > 0 {
			rd.Session = ptr(x.Session)
		}
		r.Redirects = append(r.Redirects, rd)
	}
	for _, t := range s.Transactions {
		tx := Transaction{TrID: t.TrID, Verb: t.Verb, Time: Time{t.Time}, Status: string(t.Status), ErrorCode: code(t.ErrorCode),
			Replies: t.Replies, ReplyVerbs: nonNil(t.ReplyVerbs)}
		if t.Replies > 0 {
			tx.LatencyUS = ptr(t.Latency.Microseconds())
		}
		r.Transactions = append(r.Transactions, tx)
	}
	for _, op := range s.GroupOps {
		g := GroupOp{TrID: op.TrID, Op: op.Op, Status: string(op.Status), ErrorCode: code(op.ErrorCode)}
		if op.GroupID != "" {
			g.GroupID = ptr(op.GroupID)
		}
		if op.Name != "" {
			g.Name = ptr(op.Name)
		}
		if op.Contact != "" {
			g.Contact = ptr(op.Contact)
		}
		r.GroupOps = append(r.GroupOps, g)
	}
	for _, g := range s.Groups() {
		r.Groups = append(r.Groups, Group{ID: g.ID, Name: g.Name})
	}
	slices.SortFunc(r.Groups, func(a, b Group) int { return compareIDs(a.ID, b.ID) })
	for _, e := range s.Errors {
		r.Errors = append(r.Errors, Error{TrID: e.TrID, Code: e.Code, Name: e.Name, Verb: e.Verb, Time: Time{e.Time}})
	}
	for i := range s.Anomalies {
		r.Anomalies = append(r.Anomalies, NewAnomaly(&s.Anomalies[i]))
	}
	if o := s.Out; o != nil {
		r.Out = &Out{Dir: o.Dir.String(), Time: Time{o.Time}, Reason: o.Reason}
	}
	return r
}

// NewAnomaly converts a dissector anomaly.
func NewAnomaly(a *dissect.Anomaly) Anomaly {
	r := Anomaly{Kind: a.Kind, Time: Time{a.Time}, Dir: a.Dir.String(), Offset: a.Offset, Bytes: a.Bytes, Line: a.Line, Detail: a.Detail}
	if !utf8.ValidString(a.Line) {
		r.LineBase64 = ptr(base64.StdEncoding.EncodeToString([]byte(a.Line)))
	}
	return r
}

// compareIDs orders group ids numerically when both are numbers (MSNP7-9
// ids), else as strings (MSNP10+ GUIDs).
func compareIDs(a, b string) int {
	x, errA := strconv.Atoi(a)
	y, errB := strconv.Atoi(b)
	if errA == nil && errB == nil {
		return cmp.Compare(x, y)
	}
	if (errA == nil) != (errB == nil) {
		if errA == nil {
			return -1
		}
		return 1
	}
	return cmp.Compare(a, b)
}

func ptr[T any](v T) *T { return &v }

func code(c int) *int {
	if c == 0 {
		return nil
	}
	return &c
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// SortSessions orders sessions by start time, then ID.
func SortSessions(ss []Session) {
	slices.SortStableFunc(ss, func(a, b Session) int {
		if c := a.Start.Compare(b.Start.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// CookieRef returns a stable reference to a credential: "sha256:" and the
// first 8 hex digits of its SHA-256, enough to link the sessions that used
// it without revealing it.
func CookieRef(v string) string {
	if v == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(v))
	return "sha256:" + hex.EncodeToString(sum[:4])
}

func participants(ps []*dissect.Participant) []Participant {
	out := []Participant{}
	for _, p := range ps {
		out = append(out, Participant{User: p.User, Friendly: p.Friendly, Joined: timePtr(p.Joined), Left: timePtr(p.Left), How: p.How})
	}
	return out
}

func timePtr(t time.Time) *Time {
	if t.IsZero() {
		return nil
	}
	return &Time{t}
}

func messageCounts(ch *dissect.Chat) []Count {
	ts := ch.MessageTypes()
	out := make([]Count, len(ts))
	for i, t := range ts {
		out[i] = Count{Name: t.Type, Count: int64(t.N)}
	}
	slices.SortFunc(out, func(a, b Count) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

func contactEntries(cs []dissect.Contact) []ContactEntry {
	out := make([]ContactEntry, 0, len(cs))
	for _, c := range cs {
		out = append(out, ContactEntry{User: c.Handle, Friendly: c.Friendly, ID: c.ID, Lists: nonNil(dissect.ListNames(c.Lists)), Groups: nonNil(c.Groups)})
	}
	return out
}

func presenceEvents(es []dissect.PresenceEvent) []PresenceEvent {
	out := make([]PresenceEvent, 0, len(es))
	for _, e := range es {
		out = append(out, PresenceEvent{Time: Time{e.Time}, Verb: e.Verb, Status: e.Status, Friendly: e.Friendly})
	}
	return out
}
