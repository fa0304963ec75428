package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for msnbench when the harness
// starts it as a child process ("loop read FILE").
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && (os.Args[1] == "loop" || os.Args[1] == "stage") {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

const testTemplates = "../../testdata/msnp*-example.txt"

// gen runs "msnbench gen" and returns the file written.
func gen(t *testing.T, dir, name string, args ...string) []byte {
	t.Helper()
	path := filepath.Join(dir, name)
	var stdout, stderr bytes.Buffer
	args = append([]string{"gen", "-o", path, "--templates", testTemplates}, args...)
	if code := run(args, &stdout, &stderr); code != exitOK {
		t.Fatalf("msnbench %q: exit %d: %s", args, code, stderr.String())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGenDeterministic(t *testing.T) {
	dir := t.TempDir()
	a := gen(t, dir, "a.pcap", "--size", "1MB", "--seed", "3")
	b := gen(t, dir, "b.pcap", "--size", "1MB", "--seed", "3")
	c := gen(t, dir, "c.pcap", "--size", "1MB", "--seed", "4")
	if !bytes.Equal(a, b) {
		t.Error("the same seed gave different captures")
	}
	if bytes.Equal(a, c) {
		t.Error("another seed gave the same capture")
	}
	if len(a) < 900_000 || len(a) > 1_100_000 {
		t.Errorf("--size 1MB wrote %d bytes", len(a))
	}
}

// TestRunLoops runs the harness on the read and decode loops and the
// stages (the test binary is their child process) and checks the table.
func TestRunLoops(t *testing.T) {
	dir := t.TempDir()
	gen(t, dir, "x.pcap", "--size", "300kB")
	var stdout, stderr bytes.Buffer
	path := filepath.Join(dir, "x.pcap")
	if code := run([]string{"run", "--rounds", "1", "--tools", "read,decode,stages", path, path}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"read loop", "decode loop", "msnsniff to reassembly", "msnsniff to dissect", "msnsniff to ndjson", "peak RSS MiB", "seconds, all rounds", "growth against"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestLoopCounts(t *testing.T) {
	dir := t.TempDir()
	gen(t, dir, "x.pcap", "--size", "200kB", "--loss", "0")
	path := filepath.Join(dir, "x.pcap")
	var outs []string
	for _, mode := range []string{"read", "decode"} {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"loop", mode, path}, &stdout, &stderr); code != exitOK {
			t.Fatalf("loop %s: exit %d: %s", mode, code, stderr.String())
		}
		outs = append(outs, stdout.String())
	}
	// Every packet of the workload is TCP.
	var packets, nbytes, tcp int64
	for i, out := range outs {
		if _, err := fmt.Sscanf(out, "packets %d bytes %d tcp %d", &packets, &nbytes, &tcp); err != nil {
			t.Fatalf("output %q: %v", out, err)
		}
		if packets == 0 || (i == 1 && tcp != packets) {
			t.Errorf("loop output %q: want every packet TCP", out)
		}
	}
	// The json stage also writes the profiles it is asked for.
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	for _, st := range append(slices.Clone(stageNames), extraStages...) {
		if st == "json" {
			t.Setenv("MSNBENCH_CPUPROFILE", prof)
		}
		var stdout, stderr bytes.Buffer
		if code := run([]string{"stage", st, path}, &stdout, &stderr); code != exitOK {
			t.Fatalf("stage %s: exit %d: %s", st, code, stderr.String())
		}
		var n, conns int64
		if _, err := fmt.Sscanf(stdout.String(), "packets %d connections %d", &n, &conns); err != nil || n != packets || conns == 0 {
			t.Errorf("stage %s: %q, want %d packets and some connections (%v)", st, stdout.String(), packets, err)
		}
	}
	if fi, err := os.Stat(prof); err != nil || fi.Size() == 0 {
		t.Errorf("MSNBENCH_CPUPROFILE: no profile written: %v", err)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"200MB", 200_000_000},
		{"1GB", 1_000_000_000},
		{"1.5GB", 1_500_000_000},
		{"512MiB", 512 << 20},
		{"64KiB", 64 << 10},
		{"300kB", 300_000},
		{"12345", 12345},
		{"12345B", 12345},
	}
	for _, tt := range tests {
		if got, err := parseSize(tt.in); err != nil || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "MB", "-1MB", "0", "1TB", "x"} {
		if got, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", bad, got)
		}
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"frob"}, {"gen"}, {"run"}, {"loop", "read"}, {"stage", "frob", "x"}, {"gen", "-o", "x", "--size", "big"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != exitUsage {
			t.Errorf("msnbench %q: exit %d, want %d", args, code, exitUsage)
		}
		if stdout.Len() != 0 {
			t.Errorf("msnbench %q wrote to stdout: %q", args, stdout.String())
		}
	}
}

// TestWallRange checks the spread the harness prints beside each median.
func TestWallRange(t *testing.T) {
	ss := []sample{{wall: 3 * time.Second}, {wall: time.Second}, {wall: 2 * time.Second}}
	if lo, hi := wallRange(ss); lo != time.Second || hi != 3*time.Second {
		t.Errorf("wallRange = %v, %v, want 1s, 3s", lo, hi)
	}
	if lo, hi := wallRange(ss[:1]); lo != 3*time.Second || hi != 3*time.Second {
		t.Errorf("wallRange of one = %v, %v, want 3s, 3s", lo, hi)
	}
}
