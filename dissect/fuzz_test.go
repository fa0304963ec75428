package dissect

import (
	"os"
	"strings"
	"testing"
)

// FuzzSession feeds arbitrary bytes to both directions of a session. The
// first byte picks the split sizes, whether the stream starts in sync and
// the version negotiated first;
// the rest is cut in two at the second byte, client then server. It checks
// that nothing panics, that what is kept is bounded, and that the commands
// and anomalies do not depend on how the input is split.
func FuzzSession(f *testing.F) {
	if text, err := os.ReadFile("../testdata/msnp7-login.txt"); err == nil {
		if tr, err := ParseTranscript(text); err == nil {
			var c2s, s2c []byte
			for _, e := range tr.Events {
				if e.Dir == C2S {
					c2s = append(c2s, e.Data...)
				} else {
					s2c = append(s2c, e.Data...)
				}
			}
			f.Add(append([]byte{3, byte(min(len(c2s), 255))}, append(c2s[:min(len(c2s), 255)], s2c...)...))
		}
	}
	f.Add([]byte("\x00\x05PNG\r\nQNG 50\r\n"))
	f.Add([]byte("\x01\x00MSG a b 5\r\nhelloNLN NLN a b\r\n"))
	f.Add([]byte("\x02\x00MSG a b 99999999999\r\n\r\n\n\n"))
	f.Add([]byte("\x07\x0bADL 1 3\r\nabcADL 1 OK\r\nADL 0 2\r\nxyPUT 2 OK 1\r\nz"))
	f.Add([]byte("\x81\x17MSG 2 A 10\r\nhello worldPNG\r\nMSG a b 5\r\nhelloNLN NLN a@b.c A\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 2 {
			return
		}
		mode, cut := in[0], int(in[1])
		body := in[2:]
		cut = min(cut, len(body))
		c2s, s2c := string(body[:cut]), string(body[cut:])
		// Bits 4-6 pick the version negotiated first, so that command
		// parsing runs under every generation's rules.
		if v := []string{"", "MSNP2", "MSNP7", "MSNP8", "MSNP10", "MSNP12", "MSNP14", "MSNP21"}[mode>>4&7]; v != "" {
			c2s, s2c = "VER 1 "+v+" CVR0\r\n"+c2s, "VER 1 "+v+"\r\n"+s2c
		}
		lim := Limits{MaxLine: 64, MaxPayload: 256, RetainPayload: 32, MaxPending: 4, MaxTransactions: 8}
		sizes := [][]int{{1}, {2}, {3, 1}, {5}, {7, 2}, {11}, {1, 1, 30}, {64}}[mode&7]
		// Bit 7 puts a gap of unknown size in the middle of each direction.
		gap := mode&0x80 != 0
		whole, wk := runStreamSync(t, c2s, s2c, nil, lim, mode&8 == 0, gap)
		split, sk := runStreamSync(t, c2s, s2c, sizes, lim, mode&8 == 0, gap)
		if strings.Join(whole, "\n") != strings.Join(split, "\n") {
			t.Fatalf("split %v changes the commands:\n%q\nvs\n%q", sizes, whole, split)
		}
		if strings.Join(wk, ",") != strings.Join(sk, ",") {
			t.Fatalf("split %v changes the anomalies: %v vs %v", sizes, wk, sk)
		}
	})
}

// runStreamSync is runStream with a choice of starting in sync (a SYN was
// seen) or not, and of a gap of unknown size in the middle of each
// direction.
func runStreamSync(t testing.TB, c2s, s2c string, sizes []int, lim Limits, syn, gap bool) ([]string, []string) {
	r := &recorder{}
	a := NewAnalyzer(r, lim)
	s := a.Open(ConnInfo{SYN: syn, Start: t0})
	for d, in := range []string{c2s, s2c} {
		b := []byte(in)
		gapAt := -1
		if gap {
			gapAt = len(b) / 2
		}
		for i, fed := 0, 0; len(b) > 0; i++ {
			if fed == gapAt {
				s.Gap(Dir(d), t0, 0)
			}
			k := len(b)
			if len(sizes) > 0 {
				k = min(sizes[i%len(sizes)], len(b))
			}
			if fed < gapAt {
				k = min(k, gapAt-fed)
			}
			s.Feed(Dir(d), t0, b[:k])
			b = b[k:]
			fed += k
		}
	}
	s.End(t0, true)
	var cmds, kinds []string
	for _, c := range r.cmds {
		if len(c.Payload) > lim.RetainPayload {
			t.Fatalf("kept %d payload bytes, limit %d", len(c.Payload), lim.RetainPayload)
		}
		cmds = append(cmds, c.Dir.Prefix()+" "+c.Line()+"|"+string(c.Payload))
	}
	for _, a := range r.anomalies {
		kinds = append(kinds, a.Kind)
	}
	if len(s.Transactions) > lim.MaxTransactions || s.open.len() > lim.MaxPending {
		t.Fatalf("transactions %d, open %d over the limits", len(s.Transactions), s.open.len())
	}
	return cmds, kinds
}

// FuzzPayloads feeds arbitrary payloads to the parsers of MSG and MSNP21
// payloads: MIME headers, nested header bodies, MSNP21 header blocks, the
// P2P binary header and SLP start line, and the message classifier. It
// checks that nothing panics and that what is kept is bounded by the input.
func FuzzPayloads(f *testing.F) {
	f.Add([]byte("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Arial\r\n\r\nhello"))
	f.Add([]byte("Content-Type: text/x-msmsgsinvite\r\n\r\nInvitation-Command: INVITE\r\nInvitation-Cookie: 1\r\n"))
	f.Add([]byte("Content-Type: application/x-msnmsgrp2p\r\nP2P-Dest: a@b.c\r\n\r\n" + string(make([]byte, 48)) + "INVITE MSNMSGR:a@b.c MSNSLP/1.0\r\n\x00\x00\x00\x00"))
	f.Add([]byte("Routing: 1.0\r\nTo: 1:a@b.c\r\n\r\nReliability: 1.0\r\n\r\nMessaging: 2.0\r\nContent-Type: text/plain\r\n\r\nhi"))
	f.Add([]byte("Content-Type: text/x-msnmsgr-datacast\r\n\r\nID: 1\r\n"))
	f.Add([]byte("MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: a@b.c\r\n\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		hs, body, ok := ParseMIME(b)
		if ok && (len(hs) > maxHeaders || len(body) > len(b)) {
			t.Fatalf("ParseMIME kept %d headers, body %d of %d bytes", len(hs), len(body), len(b))
		}
		if err := sameAsParseMIME(b, classifyHeaders[:]); err != "" {
			t.Fatal(err)
		}
		if hs := ParseHeaders(b); len(hs) > maxHeaders {
			t.Fatalf("ParseHeaders kept %d headers", len(hs))
		}
		if bs, rest, _ := ParseBlocks(b); len(bs) > maxBlocks || len(rest) > len(b) {
			t.Fatalf("ParseBlocks kept %d blocks", len(bs))
		}
		if h, ok := ParseP2P(b); ok && (uint64(h.Length) > uint64(len(b)) || len(h.SLP) > maxSLPLine) {
			t.Fatalf("ParseP2P: length %d of %d bytes, SLP %d bytes", h.Length, len(b), len(h.SLP))
		}
		m := &Message{}
		if text := classify(m, b, nil, nil); len(text) > maxText || len(text) > len(b) {
			t.Fatalf("classify kept %d text bytes of %d", len(text), len(b))
		}
	})
}
