package main

import (
	"os"
	"strings"
	"testing"
)

// TestReadme keeps README.md true: every "console" block's command is run
// and each run of output lines it shows (between "..." lines) must appear
// in the real output, in order. (The usage text and the verb table are
// checked by TestReadmeUsage and TestReadmeVerbTable.)
func TestReadme(t *testing.T) {
	text, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir("../..")
	blocks := strings.Split(string(text), "```")
	checked := 0
	for i := 1; i < len(blocks); i += 2 {
		b := blocks[i]
		switch {
		case strings.HasPrefix(b, "console\n"):
			lines := strings.Split(strings.TrimSuffix(strings.TrimPrefix(b, "console\n"), "\n"), "\n")
			cmd, ok := strings.CutPrefix(lines[0], "$ go run ./cmd/msnsniff ")
			if !ok {
				t.Errorf("console block does not start with $ go run ./cmd/msnsniff: %q", lines[0])
				continue
			}
			out, stderr, code := runCLI(t, nil, strings.Fields(cmd)...)
			if code != 0 {
				t.Errorf("%s: exit %d: %s", cmd, code, stderr)
				continue
			}
			rest := out
			var chunks []string
			cur := []string{}
			for _, l := range append(lines[1:], "...") {
				if l == "..." {
					if len(cur) > 0 {
						chunks = append(chunks, strings.Join(cur, "\n"))
					}
					cur = cur[:0]
					continue
				}
				cur = append(cur, l)
			}
			for _, chunk := range chunks {
				i := strings.Index(rest, chunk)
				if i < 0 {
					t.Errorf("README shows output of %q that it does not print:\n%s", cmd, chunk)
					break
				}
				rest = rest[i+len(chunk):]
			}
			checked++
		}
	}
	if checked < 3 {
		t.Errorf("only %d README blocks checked", checked)
	}
}
