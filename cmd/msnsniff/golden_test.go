package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/msnsniff/msnsniff/dissect"
	"github.com/msnsniff/msnsniff/internal/capgen"
)

var update = flag.Bool("update", false, "rewrite the golden files and generated captures in testdata/")

const testdata = "../../testdata/"

// captures are the transcripts in testdata/ that are shipped as pcap files
// too, generated with capgen's default options.
var captures = []string{"msnp7-login", "cvr0-example", "msnp2-example", "msnp3-example", "msnp4-example",
	"msnp5-example", "msnp6-example", "msnp8-example", "msnp9-example", "msnp10-example", "msnp11-example",
	"msnp12-example", "msnp13-example", "msnp14-example", "msnp15-session", "msnp18-session", "msnp21-session",
	"msnp2-chat", "msnp8-multiparty", "msnp8-invite", "msnp9-p2p", "ns-missing", "broken-anomalies", "hostile-names"}

// goldenCase is one golden output: a capture, the msnsniff arguments and
// the golden file's suffix.
type goldenCase struct {
	name, suffix string
	args         []string
}

// sbPorts adds the switchboard port of the chat transcripts (1865, as in
// the spec's examples).
var sbPorts = []string{"--port", "1863", "--port", "1865"}

func goldenCases() []goldenCase {
	var cs []goldenCase
	for _, name := range captures {
		cs = append(cs, goldenCase{name, "json", append([]string{"-T", "json"}, sbPorts...)})
	}
	for _, f := range []string{"table", "ndjson", "transcript"} {
		cs = append(cs, goldenCase{"msnp7-login", f, []string{"-T", f}})
	}
	for _, name := range []string{"msnp2-chat", "msnp8-multiparty", "msnp8-invite", "msnp9-p2p", "ns-missing"} {
		cs = append(cs,
			goldenCase{name, "table", sbPorts},
			goldenCase{name, "chats", append([]string{"--chats"}, sbPorts...)},
			goldenCase{name, "transcript", append([]string{"-T", "transcript"}, sbPorts...)})
	}
	cs = append(cs, goldenCase{"broken-anomalies", "table", nil})
	return cs
}

func readTranscript(t *testing.T, name string) *dissect.Transcript {
	t.Helper()
	tr, err := dissect.ReadTranscript(testdata + name + ".txt")
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func generate(t *testing.T, tr *dissect.Transcript, opt capgen.Options, pcapng bool) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := capgen.Write(&b, tr, opt, pcapng); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestShippedCapturesReproducible checks that each shipped capture is what
// its transcript generates, so the two never drift apart.
func TestShippedCapturesReproducible(t *testing.T) {
	for _, name := range captures {
		want := generate(t, readTranscript(t, name), capgen.Options{}, false)
		path := testdata + name + ".pcap"
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what %s.txt generates; run go test ./cmd/msnsniff -update", path, name)
		}
	}
}

// runCLI runs msnsniff with args and returns stdout, stderr and the exit
// code.
func runCLI(t *testing.T, stdin []byte, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, bytes.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/msnsniff -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func TestGolden(t *testing.T) {
	for _, gc := range goldenCases() {
		t.Run(gc.name+"/"+gc.suffix, func(t *testing.T) {
			out, stderr, code := runCLI(t, nil, append(gc.args, testdata+gc.name+".pcap")...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			checkGolden(t, testdata+gc.name+"."+gc.suffix+".golden", out)
		})
	}
}

func TestHelpGolden(t *testing.T) {
	out, stderr, code := runCLI(t, nil, "-h")
	if code != 0 || out != "" {
		t.Fatalf("-h: exit %d, stdout %q", code, out)
	}
	checkGolden(t, testdata+"help.golden", stderr)
}

// commandsOf runs -T ndjson on a capture and returns its command and
// anomaly records without times; offsets are kept: they are stream
// positions, which no segmentation changes.
func commandsOf(t *testing.T, pcap []byte, extra ...string) []map[string]any {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.pcap")
	if err := os.WriteFile(path, pcap, 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := runCLI(t, nil, append(append([]string{"-T", "ndjson", path}, sbPorts...), extra...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var cmds []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("bad NDJSON line %q: %v", line, err)
		}
		if m["type"] != "command" && m["type"] != "anomaly" {
			continue
		}
		delete(m, "time")
		cmds = append(cmds, m)
	}
	return cmds
}

// TestSegmentationInvariant cuts the capture's TCP segments down to one
// byte, reorders and duplicates them and wraps the sequence numbers: the
// commands must stay the same.
func TestSegmentationInvariant(t *testing.T) {
	for _, name := range captures {
		tr := readTranscript(t, name)
		want := commandsOf(t, generate(t, tr, capgen.Options{}, false))
		for _, opt := range []capgen.Options{
			{Segment: 1},
			{Segment: 1, Reorder: 0.3, Duplicate: 0.3, Seed: 1},
			{Segment: 3, Reorder: 0.5, Duplicate: 0.2, Seed: 2, WrapSeq: true},
			{Segment: 7, Reorder: 0.2, Seed: 3, Link: capgen.LinuxSLL},
			{Segment: 100, Duplicate: 0.5, Seed: 4, Link: capgen.EthernetVLAN},
			{Link: capgen.RawIP},
			{Link: capgen.Null},
		} {
			for _, ng := range []bool{false, true} {
				got := commandsOf(t, generate(t, tr, opt, ng))
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s with %+v pcapng=%v: commands differ (-clean +impaired):\n%s", name, opt, ng, diff)
				}
			}
		}
	}
}

// TestTranscriptRoundTrip: transcript -> pcap -> -T transcript gives the
// transcript back, less its comments, @wait directives and the blank lines
// between commands (which the parser skips): the expected text is rebuilt
// from the parsed events, a payload's CRLFs as line ends.
func TestTranscriptRoundTrip(t *testing.T) {
	for _, name := range captures {
		if name == "broken-anomalies" {
			continue // its bad MSG line rides in an escaped CRLF of the line before
		}
		tr := readTranscript(t, name)
		var want strings.Builder
		conn := -1
		for _, e := range tr.Events {
			if e.Conn != conn {
				conn = e.Conn
				fmt.Fprintf(&want, "@conn %s %s\n", tr.Conns[conn].Client, tr.Conns[conn].Server)
			}
			line, payload, _ := strings.Cut(string(e.Data), "\r\n")
			esc := func(s string) string { return string(dissect.EscapeText(nil, []byte(s))) }
			fmt.Fprintf(&want, "%s: %s\n", map[dissect.Dir]string{dissect.C2S: "C", dissect.S2C: "S"}[e.Dir], esc(line))
			for payload != "" {
				l, rest, found := strings.Cut(payload, "\r\n")
				want.WriteString(esc(l) + "\n")
				if !found {
					break
				}
				payload = rest
			}
		}
		got, stderr, code := runCLI(t, nil, append([]string{"-T", "transcript", "--no-redact", testdata + name + ".pcap"}, sbPorts...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if diff := cmp.Diff(want.String(), got); diff != "" {
			t.Errorf("%s round trip (-transcript +output):\n%s", name, diff)
		}
		text, _ := os.ReadFile(testdata + name + ".txt")
		for _, l := range strings.Split(got, "\n") {
			if !strings.Contains(string(text), l) {
				t.Errorf("output line %q is not in %s.txt", l, name)
			}
		}
	}
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no input", nil, 2, "no capture given"},
		{"bad format", []string{"-T", "xml", "x.pcap"}, 2, "unknown format"},
		{"bad flag", []string{"--frobnicate"}, 2, "unknown flag"},
		{"bad port", []string{"--port", "70000", "x.pcap"}, 2, "not a TCP port"},
		{"missing file", []string{testdata + "does-not-exist.pcap"}, 1, "does-not-exist.pcap"},
		{"not a capture", []string{testdata + "msnp7-login.txt"}, 1, "msnp7-login.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, nil, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.msg) {
				t.Errorf("run(%q) = %d, stderr %q; want %d with %q", tt.args, code, stderr, tt.code, tt.msg)
			}
			if !strings.HasPrefix(stderr, "msnsniff: ") {
				t.Errorf("stderr %q does not start with msnsniff:", stderr)
			}
		})
	}
}

func TestStdin(t *testing.T) {
	pcap, err := os.ReadFile(testdata + "msnp7-login.pcap")
	if err != nil {
		t.Fatal(err)
	}
	fromFile, _, _ := runCLI(t, nil, "-T", "transcript", testdata+"msnp7-login.pcap")
	fromStdin, stderr, code := runCLI(t, pcap, "-T", "transcript", "-r", "-")
	if code != 0 || fromStdin != fromFile {
		t.Errorf("stdin: exit %d (%s), output differs: %q", code, stderr, fromStdin)
	}
}
