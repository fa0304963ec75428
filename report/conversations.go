package report

import (
	"cmp"
	"encoding/base64"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/msnsniff/msnsniff/dissect"
)

// dupWindow is how far apart in packet time the sender's and a receiver's
// copies of one message may be and still be taken for the same message:
// the switchboard relays at once, so a second is ample; 5 s allows for a
// slow server and for clock differences between merged capture files.
const dupWindow = 5 * time.Second

// BuildConversations joins the switchboard sessions that belong to the
// same chat — the same switchboard address and session id, seen by the
// caller (CAL ... RINGING) and by the invited (RNG/ANS) — into
// conversations, ordered by their first session's start.
func BuildConversations(ss []*dissect.Session) []Conversation {
	type conv struct {
		start time.Time
		ss    []*dissect.Session
	}
	byKey := map[string]*conv{}
	var all []*conv
	for _, s := range ss {
		if s.Chat == nil || s.Kind != dissect.KindSwitchboard {
			continue
		}
		key := conversationKey(s)
		cv := byKey[key]
		if cv == nil {
			cv = &conv{start: s.StartTime}
			byKey[key] = cv
			all = append(all, cv)
		}
		cv.ss = append(cv.ss, s)
		if s.StartTime.Before(cv.start) {
			cv.start = s.StartTime
		}
	}
	slices.SortStableFunc(all, func(a, b *conv) int { return a.start.Compare(b.start) })
	out := make([]Conversation, 0, len(all))
	for i, cv := range all {
		c := conversationOf(cv.ss)
		c.ID = i + 1
		out = append(out, c)
	}
	return out
}

// conversationKey names the chat switchboard session s belongs to: its
// server and session id, or the session alone when no id was seen.
func conversationKey(s *dissect.Session) string {
	if s.Chat.SessionID == "" {
		return "session " + strconv.Itoa(s.ID)
	}
	return s.Conn.Server.String() + " " + s.Chat.SessionID
}

// conversationOf merges the sessions of one chat into its conversation,
// ID left 0. It sorts ss by session ID.
func conversationOf(ss []*dissect.Session) Conversation {
	var g merger
	return g.conversation(ss)
}

// A merger merges the sessions of chats into conversations, reusing its
// buffers from one conversation to the next, so that the JSON report,
// which encodes each conversation before it builds the next, does not
// allocate them anew (the messages alone, 184 bytes each, were 5% of all
// the bytes allocated on the 200 MB benchmark capture). What it returns is valid until its next call; it is not safe
// for concurrent use.
type merger struct {
	sessions []int
	ms, kept []sessMsg
	first    []stamp
	out      []Message
	// decoded holds the sessions' messages that ms points to.
	decoded []dissect.Message
}

// conversation is conversationOf.
func (g *merger) conversation(ss []*dissect.Session) Conversation {
	slices.SortFunc(ss, func(a, b *dissect.Session) int { return cmp.Compare(a.ID, b.ID) })
	c := Conversation{Server: ss[0].Conn.Server.String(), SessionID: ss[0].Chat.SessionID}
	c.Sessions = slices.Grow(g.sessions[:0], len(ss)) // not nil: ss is not empty
	for _, s := range ss {
		c.Sessions = append(c.Sessions, s.ID)
		c.UnlistedMessages += s.Chat.UnlistedMessages
	}
	g.sessions = c.Sessions
	c.Participants = mergeParticipants(ss)
	c.Messages = g.messages(ss)
	return c
}

func mergeParticipants(ss []*dissect.Session) []Participant {
	byUser := map[string]*Participant{}
	var order []string
	for _, s := range ss {
		for _, p := range s.Chat.Participants {
			q := byUser[p.User]
			if q == nil {
				q = &Participant{User: p.User}
				byUser[p.User] = q
				order = append(order, p.User)
			}
			if q.Friendly == "" {
				q.Friendly = p.Friendly
			}
			if !p.Joined.IsZero() && (q.Joined == nil || p.Joined.Before(q.Joined.Time)) {
				q.Joined = &Time{p.Joined}
			}
			if !p.Left.IsZero() && (q.Left == nil || p.Left.After(q.Left.Time) || (p.Self && q.How == "closed")) {
				q.Left, q.How = &Time{p.Left}, p.How
			}
		}
	}
	out := make([]Participant, 0, len(order))
	for _, u := range order {
		out = append(out, *byUser[u])
	}
	slices.SortStableFunc(out, func(a, b Participant) int {
		switch {
		case a.Joined == nil && b.Joined == nil:
			return 0
		case a.Joined == nil:
			return 1
		case b.Joined == nil:
			return -1
		}
		return a.Joined.Compare(b.Joined.Time)
	})
	return out
}

// sessMsg is a message of a session, with its time: sorting compares
// the times without reaching into every message.
type sessMsg struct {
	s *dissect.Session
	m *dissect.Message
	t stamp
}

// sameMessage reports whether two copies carry the same message.
func sameMessage(a, b *dissect.Message) bool {
	return a.From == b.From && a.Type == b.Type && a.ContentType == b.ContentType && a.Text == b.Text && a.Size == b.Size &&
		a.Time.Sub(b.Time).Abs() <= dupWindow
}

func mergeMessages(ss []*dissect.Session) []Message {
	var g merger
	return g.messages(ss)
}

// messages merges the messages of a chat's sessions: in time order, each
// message once.
func (g *merger) messages(ss []*dissect.Session) []Message {
	n := 0
	for _, s := range ss {
		n += s.Chat.NumMessages()
	}
	// The previous conversation's messages are done with; clearing them
	// lets their strings go.
	clear(g.out)
	out := slices.Grow(g.out[:0], n)
	if out == nil {
		out = []Message{} // not nil: no messages are []
	}
	if len(ss) == 1 {
		// A session has no copies of its own messages to merge.
		for m := range ss[0].Chat.Messages() {
			out = append(out, newMessage(ss[0], m))
		}
		// They are in the order they were seen, which is time order
		// unless packet times went back (merged capture files).
		byTime := func(a, b Message) int { return a.Time.Compare(b.Time.Time) }
		if !slices.IsSortedFunc(out, byTime) {
			slices.SortStableFunc(out, byTime)
		}
	} else {
		out = g.merge(out, ss, n)
	}
	g.out = out
	return out
}

// merge appends to out the messages of several sessions, n in all, in
// time order, each message once.
func (g *merger) merge(out []Message, ss []*dissect.Session, n int) []Message {
	ms := slices.Grow(g.ms[:0], n)
	// Every message is decoded into decoded before ms points into it, so
	// that it is not moved while pointed to.
	decoded := slices.Grow(g.decoded[:0], n)
	for _, s := range ss {
		for m := range s.Chat.Messages() {
			decoded = append(decoded, *m)
		}
	}
	i := 0
	for _, s := range ss {
		for range s.Chat.NumMessages() {
			m := &decoded[i]
			i++
			ms = append(ms, sessMsg{s: s, m: m, t: stampOf(m.Time)})
		}
	}
	slices.SortStableFunc(ms, func(a, b sessMsg) int { return a.t.compare(b.t) })
	kept := slices.Grow(g.kept[:0], n)
	// first[i] is the time of the message kept[i] was first set to:
	// non-decreasing, and a replacement (the sender's copy) is at most
	// dupWindow later, so kept messages whose first time is more than
	// 2*dupWindow before x cannot be copies of x. Only the window is
	// compared: a long chat costs n log n, not n².
	first := slices.Grow(g.first[:0], n)
	for _, x := range ms {
		from, _ := slices.BinarySearchFunc(first, stampOf(x.m.Time.Add(-2*dupWindow)), stamp.compare)
		dup := false
		for i := from; i < len(kept); i++ {
			k := &kept[i]
			if k.s == x.s || !sameMessage(k.m, x.m) {
				continue
			}
			if x.m.Dir == dissect.C2S && k.m.Dir == dissect.S2C {
				// The sender's copy replaces a receiver's seen first.
				out[i] = newMessage(x.s, x.m)
				*k = x
			}
			dup = true
			break
		}
		if !dup {
			kept = append(kept, x)
			first = append(first, x.t)
			out = append(out, newMessage(x.s, x.m))
		}
	}
	// Drop the pointers to the sessions, which are done with.
	clear(ms)
	clear(kept)
	clear(decoded)
	g.ms, g.kept, g.first, g.decoded = ms, kept, first, decoded
	return out
}

func newMessage(s *dissect.Session, m *dissect.Message) Message {
	r := Message{Time: Time{m.Time}, From: m.From, Type: m.Type, ContentType: m.ContentType, Format: m.Format,
		Ack: m.Ack, Acked: m.Acked, Session: s.ID, Size: m.Size}
	if utf8.ValidString(m.Text) {
		r.Text = m.Text
	} else {
		r.TextBase64 = ptr(base64.StdEncoding.EncodeToString([]byte(m.Text)))
	}
	if in := m.Invite; in != nil {
		r.Invite = &Invite{Command: in.Command, Cookie: in.Cookie, Application: in.Application, AppGUID: in.AppGUID,
			File: in.File, FileSize: in.FileSize, CancelCode: in.CancelCode}
	}
	if p := m.P2P; p != nil {
		r.P2P = &P2P{SessionID: p.SessionID, Identifier: p.Identifier, Offset: p.Offset, TotalSize: p.TotalSize,
			Length: p.Length, Flags: p.Flags, AppID: p.Footer, SLP: p.SLP, SLPContentType: p.SLPContentType}
	}
	return r
}

// BuildUsers lists every user seen logging in: their sessions, the
// conversations they took part in, their peers, and their contact lists
// at the first login and at the end of the last notification session.
func BuildUsers(ss []*dissect.Session, convs []Conversation) []User {
	byUser := map[string]*User{}
	get := func(u string) *User {
		x := byUser[u]
		if x == nil {
			x = &User{User: u, Sessions: []int{}, Conversations: []int{}, Peers: []string{}}
			byUser[u] = x
		}
		return x
	}
	sorted := slices.Clone(ss)
	slices.SortFunc(sorted, func(a, b *dissect.Session) int { return cmp.Compare(a.ID, b.ID) })
	for _, s := range sorted {
		if s.Auth == nil || s.Auth.User == "" {
			continue
		}
		u := get(s.Auth.User)
		u.Sessions = append(u.Sessions, s.ID)
		if s.Kind == dissect.KindNotification && s.HasContacts() && !s.ListNotSent {
			if u.ContactsAtLogin == nil {
				u.ContactsAtLogin = contactEntries(s.ContactsAtLogin())
			}
			u.ContactsAtEnd = contactEntries(s.ContactsAtEnd())
		}
	}
	for _, c := range convs {
		for _, p := range c.Participants {
			u := byUser[p.User]
			if u == nil {
				continue
			}
			u.Conversations = append(u.Conversations, c.ID)
			for _, q := range c.Participants {
				if q.User != p.User && !slices.Contains(u.Peers, q.User) {
					u.Peers = append(u.Peers, q.User)
				}
			}
		}
	}
	out := make([]User, 0, len(byUser))
	for _, u := range byUser {
		slices.Sort(u.Peers)
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b User) int { return cmp.Compare(a.User, b.User) })
	return out
}
