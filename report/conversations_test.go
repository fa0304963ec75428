package report

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/msnsniff/msnsniff/dissect"
)

// naiveMerge is mergeMessages as first written: every message compared
// with every message kept before it.
func naiveMerge(ss []*dissect.Session) []Message {
	var ms []sessMsg
	for _, s := range ss {
		for _, m := range messagesOf(s.Chat) {
			ms = append(ms, sessMsg{s: s, m: m})
		}
	}
	slices.SortStableFunc(ms, func(a, b sessMsg) int { return a.m.Time.Compare(b.m.Time) })
	out := []Message{}
	kept := []sessMsg{}
	for _, x := range ms {
		dup := false
		for i := range kept {
			k := &kept[i]
			if k.s == x.s || !sameMessage(k.m, x.m) {
				continue
			}
			if x.m.Dir == dissect.C2S && k.m.Dir == dissect.S2C {
				out[i] = newMessage(x.s, x.m)
				*k = x
			}
			dup = true
			break
		}
		if !dup {
			kept = append(kept, x)
			out = append(out, newMessage(x.s, x.m))
		}
	}
	return out
}

// messagesOf returns copies of a chat's messages.
func messagesOf(ch *dissect.Chat) []*dissect.Message {
	var out []*dissect.Message
	for m := range ch.Messages() {
		c := *m
		out = append(out, &c)
	}
	return out
}

// chatOf makes a chat of messages ms.
func chatOf(ms []*dissect.Message) *dissect.Chat {
	ch := &dissect.Chat{}
	for _, m := range ms {
		ch.AddMessage(m)
	}
	return ch
}

// randomChat makes the sessions of one chat: each message sent on one
// connection and, most of the time, relayed to the others up to a few
// seconds later (sometimes later than dupWindow), with repeated texts so
// that near copies abound.
func randomChat(r *rand.Rand) []*dissect.Session {
	n := 2 + r.IntN(3)
	ss := make([]*dissect.Session, n)
	ms := make([][]*dissect.Message, n)
	t := time.Date(2005, 3, 14, 12, 0, 0, 0, time.UTC)
	texts := []string{"hi", "hello", "ok", "lol"}
	for range r.IntN(300) {
		t = t.Add(time.Duration(r.IntN(4000)) * time.Millisecond)
		from := r.IntN(n)
		text := texts[r.IntN(len(texts))]
		user := []string{"a@x", "b@x", "c@x", "d@x"}[from]
		ms[from] = append(ms[from], &dissect.Message{Time: t, Dir: dissect.C2S, From: user, Type: "text", Text: text, Size: 10})
		for j := range ss {
			if j != from && r.IntN(5) > 0 {
				d := time.Duration(r.IntN(8000)) * time.Millisecond
				ms[j] = append(ms[j], &dissect.Message{Time: t.Add(d - 2*time.Second), Dir: dissect.S2C, From: user, Type: "text", Text: text, Size: 10})
			}
		}
	}
	for i := range ss {
		slices.SortStableFunc(ms[i], func(a, b *dissect.Message) int { return a.Time.Compare(b.Time) })
		ss[i] = &dissect.Session{ID: i + 1, Chat: chatOf(ms[i])}
	}
	return ss
}

// TestMergeMessagesWindow holds the windowed merge to the all-pairs one:
// on chats of several sessions, of one session, and of one session whose
// packet times go back; with a fresh merger and with one reused from
// chat to chat, as the JSON report does.
func TestMergeMessagesWindow(t *testing.T) {
	var reused merger
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 7))
		ss := randomChat(r)
		ms := messagesOf(ss[1].Chat)
		for range len(ms) / 10 {
			i, j := r.IntN(len(ms)), r.IntN(len(ms))
			ms[i], ms[j] = ms[j], ms[i]
		}
		back := []*dissect.Session{{ID: 9, Chat: chatOf(ms)}}
		for _, tt := range []struct {
			name string
			ss   []*dissect.Session
		}{{"sessions", ss}, {"one session", ss[:1]}, {"times going back", back}} {
			want := naiveMerge(tt.ss)
			if d := cmp.Diff(want, mergeMessages(tt.ss)); d != "" {
				t.Fatalf("seed %d, %s: windowed merge differs (-all pairs +windowed):\n%s", seed, tt.name, d)
			}
			if d := cmp.Diff(want, reused.messages(tt.ss)); d != "" {
				t.Fatalf("seed %d, %s: reused merger differs (-all pairs +reused):\n%s", seed, tt.name, d)
			}
		}
	}
}

func BenchmarkMergeMessages(b *testing.B) {
	ss := randomChat(rand.New(rand.NewPCG(1, 7)))
	for ss[0].Chat.NumMessages() < 2000 {
		more := randomChat(rand.New(rand.NewPCG(uint64(ss[0].Chat.NumMessages()), 7)))
		for i := range min(len(ss), len(more)) {
			for m := range more[i].Chat.Messages() {
				ss[i].Chat.AddMessage(m)
			}
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		mergeMessages(ss)
	}
}
