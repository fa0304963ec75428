package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

const transcript = "@conn 192.168.0.2:50000 10.0.0.1:1863\nC: VER 1 MSNP8 CVR0\nS: VER 1 MSNP8\nC: OUT\n"

func TestRun(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.txt")
	if err := os.WriteFile(good, []byte(transcript), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.pcap")
	pcapMagic, pcapngMagic := "\xd4\xc3\xb2\xa1", "\x0a\x0d\x0d\x0a"
	tests := []struct {
		name       string
		args       []string
		stdin      string
		code       int
		stdoutHead string // prefix of stdout
		stderr     string // substring of stderr
	}{
		{"pcap to stdout", []string{good}, "", 0, pcapMagic, ""},
		{"pcapng from stdin", []string{"--pcapng", "-"}, transcript, 0, pcapngMagic, ""},
		{"every flag", []string{"--segment", "3", "--reorder", "0.5", "--duplicate", "0.5", "--seed", "7", "--wrap-seq",
			"--no-handshake", "--no-fin", "--link", "sll", "--snaplen", "60", "--start", "2001-02-03T04:05:06Z", "--step", "2s", good}, "", 0, pcapMagic, ""},
		{"to file", []string{"-o", out, good}, "", 0, "", ""},
		{"no argument", nil, "", 2, "", "msnpgen: want exactly one TRANSCRIPT argument, got 0"},
		{"two arguments", []string{good, good}, "", 2, "", "got 2"},
		{"unknown flag", []string{"--bogus", good}, "", 2, "", "unknown flag: --bogus"},
		{"bad link", []string{"--link", "token-ring", good}, "", 2, "", `msnpgen: --link: "token-ring" is not`},
		{"bad start", []string{"--start", "yesterday", good}, "", 2, "", "msnpgen: --start:"},
		{"zero step", []string{"--step", "0s", good}, "", 2, "", "msnpgen: --step: 0s is not positive"},
		{"zero segment", []string{"--segment", "0", good}, "", 2, "", "msnpgen: --segment: 0 is not positive"},
		{"huge segment", []string{"--segment", "70000", good}, "", 2, "", "msnpgen: capgen: invalid options: segment 70000"},
		{"zero snaplen", []string{"--snaplen", "0", good}, "", 2, "", "msnpgen: --snaplen: 0 is not positive"},
		{"bad probability", []string{"--reorder", "1.5", good}, "", 2, "", "reorder probability 1.5 not in [0, 1]"},
		{"isn and wrap", []string{"--isn", "5", "--wrap-seq", good}, "", 2, "", "msnpgen: cannot set both --isn and --wrap-seq"},
		{"missing file", []string{filepath.Join(dir, "nope.txt")}, "", 1, "", "msnpgen: open "},
		{"bad transcript", []string{"-"}, "hello\n", 1, "", "msnpgen: stdin: transcript line 1:"},
		{"unwritable output", []string{"-o", filepath.Join(dir, "no", "such", "dir"), good}, "", 1, "", "msnpgen: open "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, strings.NewReader(tt.stdin), &stdout, &stderr)
			if code != tt.code {
				t.Errorf("run(%q) = %d, want %d; stderr:\n%s", tt.args, code, tt.code, stderr.String())
			}
			if !strings.HasPrefix(stdout.String(), tt.stdoutHead) || tt.stdoutHead == "" && stdout.Len() != 0 {
				t.Errorf("run(%q) stdout starts %q, want %q", tt.args, stdout.String()[:min(8, stdout.Len())], tt.stdoutHead)
			}
			if !strings.Contains(stderr.String(), tt.stderr) || tt.stderr == "" && stderr.Len() != 0 {
				t.Errorf("run(%q) stderr = %q, want it to contain %q", tt.args, stderr.String(), tt.stderr)
			}
		})
	}
	b, err := os.ReadFile(out)
	if err != nil || !strings.HasPrefix(string(b), pcapMagic) {
		t.Errorf("-o %s: %d bytes, %v", out, len(b), err)
	}
	var again bytes.Buffer
	if run([]string{good}, nil, &again, new(bytes.Buffer)); !bytes.Equal(again.Bytes(), b) {
		t.Errorf("stdout and -o output differ")
	}
}

func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--help"}, nil, &stdout, &stderr); code != 0 || stdout.Len() != 0 {
		t.Fatalf("--help: code %d, %d bytes on stdout", code, stdout.Len())
	}
	golden := filepath.Join("testdata", "help.golden")
	if *update {
		if err := os.WriteFile(golden, stderr.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := stderr.String(); got != string(want) {
		t.Errorf("--help =\n%s\nwant\n%s", got, want)
	}
}
