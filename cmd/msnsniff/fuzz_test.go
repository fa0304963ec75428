package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/msnsniff/msnsniff/dissect"
	"github.com/msnsniff/msnsniff/internal/capgen"
	"github.com/msnsniff/msnsniff/report"
)

// maxFuzzInput bounds the capture files the fuzz targets read. The largest
// seed is under 8 KB; 64 KiB leaves room for mutations that add records
// while every run stays short, so that memory use can be checked.
const maxFuzzInput = 64 << 10

// maxFuzzAlloc bounds what one run of the pipeline may allocate in all (both
// output formats): the 512 KiB read buffer and a 256 KiB packet buffer per
// run, the analysis of at most 64 KiB of packets and the output. A length
// taken from the file without a check would allocate far more.
const maxFuzzAlloc = 64 << 20

// FuzzPcap runs the whole pipeline, msnsniff -T json and -T ndjson, on
// arbitrary bytes read as a capture file from stdin. It is seeded with the
// pcap files of testdata/ and testdata/malformed/ (and impaired pcap
// versions of msnp7-login), and checks the properties of checkPipeline.
func FuzzPcap(f *testing.F) {
	addFuzzSeeds(f, false)
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > maxFuzzInput {
			return
		}
		checkPipeline(t, in)
	})
}

// FuzzPcapng is FuzzPcap seeded with pcapng files: those of
// testdata/malformed/ and the pcapng form of every transcript of testdata/.
func FuzzPcapng(f *testing.F) {
	addFuzzSeeds(f, true)
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > maxFuzzInput {
			return
		}
		checkPipeline(t, in)
	})
}

// addFuzzSeeds adds the seed corpus of FuzzPcap or FuzzPcapng.
func addFuzzSeeds(f *testing.F, pcapng bool) {
	var paths []string
	for _, pattern := range []string{"*.pcap", "malformed/*.pcap", "malformed/*.pcap.gz"} {
		if pcapng {
			pattern = strings.Replace(pattern, ".pcap", ".pcapng", 1)
		}
		m, err := filepath.Glob(testdata + pattern)
		if err != nil {
			f.Fatal(err)
		}
		paths = append(paths, m...)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// testdata/ ships no pcapng files: make them from the transcripts.
	// Impaired captures of one transcript reach the reassembly paths.
	texts, err := filepath.Glob(testdata + "*.txt")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range texts {
		tr, err := dissect.ReadTranscript(p)
		if err != nil {
			f.Fatal(err)
		}
		opts := []capgen.Options{{}}
		if filepath.Base(p) == "msnp7-login.txt" {
			opts = append(opts,
				capgen.Options{Segment: 7, Reorder: 0.3, Duplicate: 0.3, Seed: 1, WrapSeq: true},
				capgen.Options{Link: capgen.LinuxSLL, NoHandshake: true, NoFIN: true},
				capgen.Options{Link: capgen.RawIP, Snaplen: 80},
			)
		}
		for i, opt := range opts {
			if i == 0 && !pcapng {
				continue // shipped in testdata/
			}
			var b bytes.Buffer
			if err := capgen.Write(&b, tr, opt, pcapng); err != nil {
				f.Fatal(err)
			}
			f.Add(b.Bytes())
		}
	}
}

// checkPipeline runs msnsniff on capture bytes given on stdin, in JSON and
// NDJSON, and checks: no panic; exit code 0, or 1 exactly when the report
// lists an error (the file could not be read to its end); stdout a valid
// report in both formats, the same in both; every stderr line prefixed
// msnsniff:; and a bounded amount allocated.
func checkPipeline(t *testing.T, in []byte) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	out, stderr, code := runCLI(t, in, "-T", "json", "-r", "-")
	ndOut, ndStderr, ndCode := runCLI(t, in, "-T", "ndjson", "-r", "-")
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > maxFuzzAlloc {
		t.Errorf("%d bytes of input: %d bytes allocated, limit %d", len(in), n, maxFuzzAlloc)
	}

	if code != exitOK && code != exitInput {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	if ndCode != code || ndStderr != stderr {
		t.Errorf("-T ndjson: exit %d, stderr %q; -T json: exit %d, stderr %q", ndCode, ndStderr, code, stderr)
	}
	for _, l := range strings.SplitAfter(stderr, "\n") {
		if l != "" && (!strings.HasPrefix(l, "msnsniff: ") || !strings.HasSuffix(l, "\n")) {
			t.Errorf("stderr line %q is not a msnsniff: line", l)
		}
	}

	var r report.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("-T json output is not JSON: %v\n%s", err, out)
	}
	if (code == exitInput) != (len(r.Capture.Errors) > 0) {
		t.Errorf("exit %d with capture.errors %q", code, r.Capture.Errors)
	}
	for _, f := range r.Capture.Files {
		if f.Complete != (code == exitOK) {
			t.Errorf("exit %d with file %+v", code, f)
		}
	}

	lines := strings.Split(strings.TrimSuffix(ndOut, "\n"), "\n")
	sessions := 0
	for i, l := range lines {
		var rec struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("-T ndjson line %d is not JSON: %v\n%s", i+1, err, l)
		}
		switch rec.Type {
		case "session":
			sessions++
		case "command", "anomaly":
		case "summary":
			var s report.SummaryRecord
			if err := json.Unmarshal([]byte(l), &s); err != nil {
				t.Fatalf("-T ndjson summary: %v\n%s", err, l)
			}
			if i != len(lines)-1 {
				t.Errorf("-T ndjson summary on line %d of %d", i+1, len(lines))
			}
			if s.Packets != r.Capture.Packets || len(s.Errors) != len(r.Capture.Errors) || len(s.Anomalies) != len(r.Capture.Anomalies) {
				t.Errorf("-T ndjson summary: %d packets, %d errors, %d anomaly kinds; -T json: %d, %d, %d",
					s.Packets, len(s.Errors), len(s.Anomalies), r.Capture.Packets, len(r.Capture.Errors), len(r.Capture.Anomalies))
			}
		default:
			t.Errorf("-T ndjson line %d has type %q", i+1, rec.Type)
		}
	}
	if !strings.Contains(lines[len(lines)-1], `"type":"summary"`) {
		t.Errorf("-T ndjson does not end with a summary: %q", lines[len(lines)-1])
	}
	if sessions != len(r.Sessions) {
		t.Errorf("-T ndjson: %d sessions, -T json: %d", sessions, len(r.Sessions))
	}

	// The text formats, for a terminal: the same verdict, and nothing off
	// the wire reaches the terminal unescaped.
	for _, args := range [][]string{{}, {"--chats"}, {"-T", "transcript", "-v"}} {
		text, textStderr, textCode := runCLI(t, in, append(args, "-r", "-")...)
		if textCode != code || textStderr != stderr {
			t.Errorf("%q: exit %d, stderr %q; -T json: exit %d, stderr %q", args, textCode, textStderr, code, stderr)
		}
		if i := unsafeForTerminal(text); i >= 0 {
			t.Errorf("%q: byte %d of the output is unsafe for a terminal: %q", args, i, text[max(0, i-40):min(len(text), i+40)])
		}
	}
}

// unsafeForTerminal returns the offset of the first thing in s that text
// output must not write to a terminal (a control character other than a
// line break or a tab, DEL, a C1 control, invalid UTF-8), or -1.
func unsafeForTerminal(s string) int {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r < 0x20 && r != '\n' && r != '\t') || (r >= 0x7f && r <= 0x9f) || (r == utf8.RuneError && n == 1) {
			return i
		}
		i += n
	}
	return -1
}
