package dissect

import (
	"os"
	"strings"
	"testing"
)

func TestParseTranscriptMSNP7(t *testing.T) {
	text, err := os.ReadFile("../testdata/msnp7-login.txt")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := ParseTranscript(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Conns) != 2 {
		t.Fatalf("conns = %d, want 2", len(tr.Conns))
	}
	var msg []byte
	for _, e := range tr.Events {
		if strings.HasPrefix(string(e.Data), "MSG Hotmail Hotmail 367\r\n") {
			msg = e.Data
		}
	}
	if want := len("MSG Hotmail Hotmail 367\r\n") + 367; len(msg) != want {
		t.Fatalf("MSG event is %d bytes, want %d", len(msg), want)
	}
	if !strings.HasSuffix(string(msg), "$$\r\n\r\n") {
		t.Errorf("MSG payload ends %q", msg[len(msg)-10:])
	}
	if got := len(tr.Events); got != 6+45-2 {
		t.Logf("events = %d", got)
	}
}

func TestParseTranscriptPayloadWithoutCRLF(t *testing.T) {
	text := "C: QRY 10 msmsgs@msnmsgr.com 32\n29409134351025259292b7c01a1b2c3d\nS: QRY 10\n"
	tr, err := ParseTranscript([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"QRY 10 msmsgs@msnmsgr.com 32\r\n29409134351025259292b7c01a1b2c3d", "QRY 10\r\n"}
	if len(tr.Events) != len(want) {
		t.Fatalf("events = %d, want %d", len(tr.Events), len(want))
	}
	for i, w := range want {
		if got := string(tr.Events[i].Data); got != w {
			t.Errorf("event %d = %q, want %q", i, got, w)
		}
	}
}

func TestParseTranscriptErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"no prefix", "VER 1 MSNP7\n", "expected C: or S:"},
		{"bad conn", "@conn x y\n", "bad address"},
		{"payload past end", "S: MSG Hotmail Hotmail 100\nabc\n", "runs past the end"},
		{"payload inside line", "S: MSG Hotmail Hotmail 2\nabcdef\n", "ends inside"},
		{"bad length", "S: MSG Hotmail Hotmail x\n", "payload length"},
		{"unknown directive", "@foo\n", "unknown directive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTranscript([]byte(tt.text))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseTranscript(%q) error = %v, want %q", tt.text, err, tt.want)
			}
		})
	}
}

func TestEscapeRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain", "back\\slash", "\x1b[2J", "a\r\nb", "\x00\xff\xc2\x85ok", "héllo", "tab\there"} {
		esc := EscapeText(nil, []byte(s))
		if got := string(UnescapeText(string(esc))); got != s {
			t.Errorf("UnescapeText(EscapeText(%q)) = %q (escaped %q)", s, got, esc)
		}
		for _, c := range esc {
			if (c < 0x20 && c != '\t') || c == 0x7f {
				t.Errorf("EscapeText(%q) = %q keeps a control byte", s, esc)
			}
		}
		if NeedsEscape([]byte(s)) != (string(esc) != s) {
			t.Errorf("NeedsEscape(%q) disagrees with EscapeText", s)
		}
	}
}
