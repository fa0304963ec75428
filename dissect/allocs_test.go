package dissect

import (
	"strconv"
	"testing"
)

// TestSessionAllocs checks that a session in its steady state allocates no
// Command per line (the Analyzer reuses them once the Handler has seen
// them): a PNG and its QNG cost one allocation, the string of QNG's
// argument.
func TestSessionAllocs(t *testing.T) {
	s := NewAnalyzer(nopHandler{}, Limits{}).Open(ConnInfo{SYN: true, Start: t0})
	s.Feed(C2S, t0, []byte("VER 1 MSNP8 CVR0\r\n"))
	s.Feed(S2C, t0, []byte("VER 1 MSNP8 CVR0\r\n"))
	png, qng := []byte("PNG\r\n"), []byte("QNG 50\r\n")
	for range 10 {
		s.Feed(C2S, t0, png)
		s.Feed(S2C, t0, qng)
	}
	allocs := testing.AllocsPerRun(100, func() {
		s.Feed(C2S, t0, png)
		s.Feed(S2C, t0, qng)
	})
	if allocs > 1 {
		t.Errorf("a PNG and a QNG allocate %.1f times, want at most 1", allocs)
	}
	if got := s.Commands[C2S] + s.Commands[S2C]; got != 2+2*(10+101) {
		t.Errorf("%d commands, want %d", got, 2+2*(10+101))
	}
}

// TestMessageAllocs checks what a switchboard MSG costs in allocations in
// the steady state: from the server, the line's arguments, the Message and
// its text; from the client, with its ACK, the same and the transaction.
// The Command, its payload buffer, the format and the ACK's answer are
// reused or shared.
func TestMessageAllocs(t *testing.T) {
	s := NewAnalyzer(nopHandler{}, Limits{}).Open(ConnInfo{SYN: true, Start: t0})
	s.Feed(C2S, t0, []byte("USR 1 a@b.c 123.456\r\n"))
	s.Feed(S2C, t0, []byte("USR 1 OK a@b.c Alice\r\n"))
	p := "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Arial; EF=; CO=0; CS=0; PF=0\r\n\r\nhello there"
	in := []byte("MSG c@d.e Carol " + strconv.Itoa(len(p)) + "\r\n" + p)
	out := []byte("MSG 2 A " + strconv.Itoa(len(p)) + "\r\n" + p)
	ack := []byte("ACK 2\r\n")
	for range 10 {
		s.Feed(S2C, t0, in)
		s.Feed(C2S, t0, out)
		s.Feed(S2C, t0, ack)
	}
	if n := testing.AllocsPerRun(100, func() { s.Feed(S2C, t0, in) }); n > 3 {
		t.Errorf("a MSG from the server allocates %.1f times, want at most 3", n)
	}
	if n := testing.AllocsPerRun(100, func() { s.Feed(C2S, t0, out); s.Feed(S2C, t0, ack) }); n > 4 {
		t.Errorf("a MSG from the client and its ACK allocate %.1f times, want at most 4", n)
	}
	if s.Kind != KindSwitchboard || s.Chat.NumMessages() != 10*2+2*101 {
		t.Fatalf("kind %s, %d messages", s.Kind, s.Chat.NumMessages())
	}
	for m := range s.Chat.Messages() {
		if m.Dir == C2S && (m.Acked == nil || !*m.Acked) {
			t.Fatalf("client message not acknowledged: %+v", m)
		}
	}
}
