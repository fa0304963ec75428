package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// terminalSafe reports the first byte of out that a terminal would act on:
// a control byte other than LF and TAB, DEL, or invalid UTF-8.
func terminalSafe(out string) (int, bool) {
	for i := 0; i < len(out); {
		c := out[i]
		if (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f {
			return i, false
		}
		r, n := utf8.DecodeRuneInString(out[i:])
		if r == utf8.RuneError && n <= 1 || (r >= 0x80 && r <= 0x9f) {
			return i, false
		}
		i += n
	}
	return 0, true
}

// TestHostileNamesEscaped: escape sequences and invalid UTF-8 in friendly
// and group names reach the terminal only made visible, in every text
// output; --raw passes them through; JSON keeps them exactly.
func TestHostileNamesEscaped(t *testing.T) {
	path := testdata + "hostile-names.pcap"
	for _, args := range [][]string{{}, {"-T", "transcript"}, {"-v", "-T", "transcript"}, {"--no-redact", "-T", "transcript"}, {"--chats"}} {
		out, stderr, code := runCLI(t, nil, append(args, path)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		if i, ok := terminalSafe(out); !ok {
			t.Errorf("%v: output byte %d is unsafe: %q", args, i, out[max(0, i-20):min(len(out), i+20)])
		}
		if i, ok := terminalSafe(stderr); !ok {
			t.Errorf("%v: stderr byte %d is unsafe", args, i)
		}
		if len(args) > 0 && args[len(args)-1] == "transcript" && !strings.Contains(out, `\x1b[2JBob\xff\xfe`) {
			t.Errorf("%v: the raw ESC and invalid UTF-8 of the ILN line are not shown escaped:\n%s", args, out)
		}
	}
	table, _, _ := runCLI(t, nil, path)
	if !strings.Contains(table, `Red\x1b[31mGroup`) {
		t.Errorf("table does not show the group name escaped:\n%s", table)
	}
	raw, _, _ := runCLI(t, nil, "--raw", "--no-redact", "-T", "transcript", path)
	if !strings.Contains(raw, "\x1b[2JBob\xff\xfe") {
		t.Errorf("--raw does not pass the wire bytes through")
	}
	nd, _, _ := runCLI(t, nil, "-T", "ndjson", path)
	found := false
	for _, line := range strings.Split(strings.TrimSpace(nd), "\n") {
		var m struct {
			Verb       string  `json:"verb"`
			LineBase64 *string `json:"line_base64"`
			Decoded    []string
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("bad NDJSON %q: %v", line, err)
		}
		if m.Verb == "ILN" {
			if m.LineBase64 == nil {
				t.Fatalf("ILN with invalid UTF-8 has no line_base64: %s", line)
			}
			b, _ := base64.StdEncoding.DecodeString(*m.LineBase64)
			if !bytes.Equal(b, []byte("ILN 6 NLN bob@hotmail.com \x1b[2JBob\xff\xfe 268435492")) {
				t.Errorf("line_base64 = %q", b)
			}
			found = true
		}
	}
	if !found {
		t.Error("no ILN command in the NDJSON")
	}
	js, _, _ := runCLI(t, nil, "-T", "json", path)
	if !strings.Contains(js, `Bob\u001b]0;owned\u0007`) {
		t.Errorf("JSON does not keep the decoded friendly name exactly")
	}
}
