package report

import (
	"strings"
	"testing"

	"github.com/msnsniff/msnsniff/dissect"
)

func TestRedactCommand(t *testing.T) {
	tests := []struct {
		name    string
		dir     dissect.Dir
		verb    string
		args    []string
		payload string
		secret  []string // values that must be gone
		kept    []string // values that must stay
	}{
		{"md5 response", dissect.C2S, "USR", []string{"MD5", "S", "61ed83ed9d177e0c99b83a2138623a4b"}, "", []string{"61ed83ed9d177e0c99b83a2138623a4b"}, []string{"MD5"}},
		{"md5 salt", dissect.S2C, "USR", []string{"MD5", "S", "1013928519.693957190"}, "", []string{"1013928519.693957190"}, nil},
		{"twn token", dissect.C2S, "USR", []string{"TWN", "S", "t=AAA$$&p=BBB$$"}, "", []string{"t=AAA$$&p=BBB$$"}, nil},
		{"sso nonce", dissect.S2C, "USR", []string{"SSO", "S", "MBI_KEY_OLD", "Nonce123=="}, "", []string{"Nonce123=="}, []string{"MBI_KEY_OLD"}},
		{"sso response", dissect.C2S, "USR", []string{"SSO", "S", "t=ticket", "Resp=="}, "", []string{"t=ticket", "Resp=="}, nil},
		{"sha circle", dissect.C2S, "USR", []string{"SHA", "A", "Q2lyY2xl"}, "", []string{"Q2lyY2xl"}, nil},
		{"sb login", dissect.C2S, "USR", []string{"alice@hotmail.com", "17262740.1050826919.32308"}, "", []string{"17262740.1050826919.32308"}, []string{"alice@hotmail.com"}},
		{"sb answer", dissect.C2S, "ANS", []string{"bob@hotmail.com", "849102291.520491113", "11752013"}, "", []string{"849102291.520491113"}, []string{"11752013"}},
		{"xfr sb", dissect.S2C, "XFR", []string{"SB", "10.0.0.9:1865", "CKI", "17262740.1050826919.32308"}, "", []string{"17262740.1050826919.32308"}, []string{"10.0.0.9:1865"}},
		{"rng", dissect.S2C, "RNG", []string{"11752013", "10.0.0.9:1865", "CKI", "849102291.520491113", "alice@hotmail.com", "Alice"}, "", []string{"849102291.520491113"}, []string{"alice@hotmail.com"}},
		{"profile", dissect.S2C, "MSG", []string{"Hotmail", "Hotmail", "60"}, "MIME-Version: 1.0\r\nMSPAuth: 8SECRETabc$$\r\nkv: 11\r\n\r\n", []string{"8SECRETabc$$"}, []string{"kv: 11"}},
		{"invite cookie", dissect.S2C, "MSG", []string{"a", "b", "9"}, "Content-Type: text/x-msmsgsinvite\r\n\r\nInvitation-Command: ACCEPT\r\nAuthCookie: 99887766\r\n\r\n", []string{"99887766"}, []string{"ACCEPT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &dissect.Command{Dir: tt.dir, Verb: tt.verb, HasTrID: true, TrID: 7, Args: tt.args, Payload: []byte(tt.payload), PayloadLen: len(tt.payload)}
			before := c.Line() + string(c.Payload)
			r := redactCommand(c)
			got := r.Line() + string(r.Payload)
			for _, s := range tt.secret {
				if strings.Contains(got, s) {
					t.Errorf("redacted %q still holds %q", got, s)
				}
				if !strings.Contains(got, Redacted(s)) {
					t.Errorf("redacted %q lacks %s", got, Redacted(s))
				}
			}
			for _, s := range tt.kept {
				if !strings.Contains(got, s) {
					t.Errorf("redacted %q lost %q", got, s)
				}
			}
			if c.Line()+string(c.Payload) != before {
				t.Errorf("redactCommand changed its input")
			}
		})
	}
}

func TestRedactedStable(t *testing.T) {
	if Redacted("x") != Redacted("x") || Redacted("x") == Redacted("y") {
		t.Error("Redacted is not a stable, value-specific token")
	}
	if got := Redacted("abc"); len(got) != len("[redacted:12345678]") || strings.ContainsAny(got, " \r\n") {
		t.Errorf("Redacted(abc) = %q: not a single token", got)
	}
}
