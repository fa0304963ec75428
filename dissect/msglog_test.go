package dissect

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// randMessage makes a message with every field drawn from values that
// stress the encoding: times far apart and going back, TrIDs of any sign,
// Dir values beyond the two, strings shared and not, empty and long.
func randMessage(r *rand.Rand) *Message {
	pick := func(vs ...string) string { return vs[r.IntN(len(vs))] }
	str := func() string {
		switch r.IntN(4) {
		case 0:
			return ""
		case 1:
			return "u" + strconv.Itoa(r.IntN(400)) + "@x" // more than maxRefs distinct
		case 2:
			return strings.Repeat("é\x00\r\n", r.IntN(40))
		}
		return pick("A", "N", "text", "text/plain; charset=UTF-8", "FN=Arial; EF=; CO=0; CS=0; PF=0")
	}
	m := &Message{
		Dir:         Dir(pick2(r, 0, 1, 2, 3, 255)),
		From:        str(),
		TrID:        []int64{0, 1, -1, 1 << 40, -1 << 62, 4294967295}[r.IntN(6)],
		Ack:         str(),
		Type:        str(),
		ContentType: str(),
		Text:        str(),
		Format:      str(),
		TypingUser:  str(),
		Size:        r.IntN(1 << 20),
	}
	switch r.IntN(5) {
	case 0:
		m.Time = time.Unix(r.Int64N(1<<33)-1<<32, r.Int64N(1e9)).UTC()
	case 1:
		m.Time = time.Date(300000, 1, 2, 3, 4, 5, 6, time.UTC) // a pcapng can say so
	case 2:
		m.Time = time.Time{}.UTC()
	default:
		m.Time = time.Date(2005, 3, 14, 12, 0, r.IntN(1000), r.IntN(1e9), time.UTC)
	}
	switch r.IntN(3) {
	case 0:
		m.Acked = &delivered
	case 1:
		m.Acked = &notDelivered
	}
	if r.IntN(4) == 0 {
		m.Invite = &Invite{Command: str(), Cookie: str(), Application: str(), AppGUID: str(), File: str(), FileSize: str(), CancelCode: str()}
	}
	if r.IntN(4) == 0 {
		m.P2P = &P2PHeader{SessionID: r.Uint32(), Identifier: r.Uint32(), Offset: r.Uint64(), TotalSize: r.Uint64(), Length: r.Uint32(),
			Flags: r.Uint32(), AckedIdentifier: r.Uint32(), AckedUniqueID: r.Uint32(), AckedDataSize: r.Uint64(), Footer: r.Uint32(),
			SLP: str(), SLPContentType: str()}
	}
	return m
}

func pick2(r *rand.Rand, vs ...int) int { return vs[r.IntN(len(vs))] }

// TestMessageLogRoundTrip holds the encoded messages of a chat to the
// messages added: every field back, in order, with ACKs and NAKs set
// after the fact, and the heads equal to the messages without their text.
func TestMessageLogRoundTrip(t *testing.T) {
	for seed := range uint64(100) {
		r := rand.New(rand.NewPCG(seed, 3))
		var ch Chat
		var want []Message
		var offs []int
		for range r.IntN(400) {
			m := randMessage(r)
			offs = append(offs, logAdd(&ch.log, m, m.Text))
			want = append(want, *m)
			if len(want) > 1 && r.IntN(3) == 0 {
				i := r.IntN(len(want))
				ok := r.IntN(2) == 0
				ch.setAcked(offs[i], ok)
				want[i].Acked = &notDelivered
				if ok {
					want[i].Acked = &delivered
				}
			}
		}
		ch.setAcked(-1, true) // a message not listed: nothing to do
		if ch.NumMessages() != len(want) {
			t.Fatalf("seed %d: %d messages, want %d", seed, ch.NumMessages(), len(want))
		}
		var got, heads []Message
		for m := range ch.Messages() {
			got = append(got, *m)
		}
		for m := range ch.MessageHeads() {
			heads = append(heads, *m)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("seed %d: decoded messages differ (-added +decoded):\n%s", seed, d)
		}
		for i := range want {
			want[i].Text, want[i].Invite, want[i].P2P = "", nil, nil
		}
		if d := cmp.Diff(want, heads); d != "" {
			t.Fatalf("seed %d: heads differ (-added +decoded):\n%s", seed, d)
		}
		// The counts by type are those of the messages, in the order
		// each type first came.
		var types []TypeCount
		for _, m := range want {
			i := slices.IndexFunc(types, func(c TypeCount) bool { return c.Type == m.Type })
			if i < 0 {
				i = len(types)
				types = append(types, TypeCount{Type: m.Type})
			}
			types[i].N++
		}
		if d := cmp.Diff(types, ch.MessageTypes()); d != "" {
			t.Fatalf("seed %d: counts by type differ (-added +counted):\n%s", seed, d)
		}
		// Stopping early stops.
		n := 0
		for range ch.Messages() {
			n++
			break
		}
		if len(want) > 0 && n != 1 {
			t.Fatalf("seed %d: break ran %d bodies", seed, n)
		}
	}
}

// TestMessageLogLocation checks that decoded times keep the location of
// the capture's times, so that they print and compare the same.
func TestMessageLogLocation(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	var ch Chat
	in := time.Date(2005, 3, 14, 12, 0, 0, 5, loc)
	ch.AddMessage(&Message{Time: in})
	for m := range ch.Messages() {
		if m.Time != in {
			t.Errorf("time %v (%v), want %v (%v)", m.Time, m.Time.Location(), in, in.Location())
		}
	}
}

// TestMessageLogSize checks the point of the encoding: a text message
// takes its text and a few bytes.
func TestMessageLogSize(t *testing.T) {
	var ch Chat
	t0 := time.Date(2005, 3, 14, 12, 0, 0, 0, time.UTC)
	text := "hello there, how are you"
	for i := range 1000 {
		ch.AddMessage(&Message{Time: t0.Add(time.Duration(i) * 1700 * time.Millisecond), Dir: Dir(i % 2), From: "a@b.c",
			TrID: int64(i + 2), Ack: "A", Type: "text", ContentType: "text/plain; charset=UTF-8",
			Format: "FN=Arial; EF=; CO=0; CS=0; PF=0", Text: text, Size: 130})
	}
	if per := len(ch.log.buf) / 1000; per > len(text)+20 {
		t.Errorf("%d bytes a message, want at most %d", per, len(text)+20)
	}
}
