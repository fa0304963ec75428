package dissect

import "testing"

func TestSniff(t *testing.T) {
	tests := []struct {
		in         string
		ok, client bool
	}{
		{"VER 1 MSNP8 CVR0\r\n", true, true},
		{"VER 1 MSNP8\r\n", true, false},
		{"USR 1 alice@hotmail.com 17262740.1050826919.32308\r\n", true, true},
		{"ANS 1 bob@hotmail.com 849102291.520491113 11752013\r\n", true, true},
		{"JOI bob@hotmail.com Bob 0\r\n", true, false},
		{"MSG bob@hotmail.com Bob 120\r\nMIME-Version: 1.0\r\n", true, false},
		{"NLN NLN bob@hotmail.com Bob 0\r\n", true, false},
		{"GET / HTTP/1.1\r\nHost: x\r\n", false, false},
		{"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", false, false},
		{"SSH-2.0-OpenSSH_9.2\r\n", false, false},
		{"VER 1 HTTP\r\n", false, false},
		{"VER 1 MSNP8", false, false},
		{"FOO 1 x\r\n", false, false},
		{"", false, false},
	}
	for _, tt := range tests {
		ok, client := Sniff([]byte(tt.in))
		if ok != tt.ok || (ok && client != tt.client) {
			t.Errorf("Sniff(%q) = %v, %v; want %v, %v", tt.in, ok, client, tt.ok, tt.client)
		}
	}
}

func FuzzSniff(f *testing.F) {
	f.Add([]byte("VER 1 MSNP8 CVR0\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		Sniff(b)
	})
}
