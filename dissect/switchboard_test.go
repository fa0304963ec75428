package dissect

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestParticipantLast holds Chat.participant, which checks the handle it
// returned last against a copy kept in the chat, to a search of the
// participants: handles of every length around the copy's room, some the
// prefix of another, some leaving and coming back.
func TestParticipantLast(t *testing.T) {
	var handles []string
	for _, n := range []int{1, 5, 46, 47, 48, 49, 90} {
		h := strings.Repeat("u", n)
		handles = append(handles, h, h[:n-1]+"v", "x"+h[1:])
	}
	for seed := range uint64(50) {
		r := rand.New(rand.NewPCG(seed, 11))
		var ch Chat
		t0 := time.Date(2005, 3, 14, 12, 0, 0, 0, time.UTC)
		for i := range 300 {
			user := handles[r.IntN(len(handles))]
			var want *Participant
			for k := len(ch.Participants) - 1; k >= 0; k-- {
				if p := ch.Participants[k]; p.User == user && p.Left.IsZero() {
					want = p
					break
				}
			}
			got := ch.participant(user)
			if got.User != user || (want != nil && got != want) || (want == nil && got != ch.Participants[len(ch.Participants)-1]) {
				t.Fatalf("seed %d, step %d: participant(%q) = %p %q, want %p", seed, i, user, got, got.User, want)
			}
			if r.IntN(8) == 0 {
				got.Left = t0.Add(time.Duration(i) * time.Second)
			}
		}
	}
}
