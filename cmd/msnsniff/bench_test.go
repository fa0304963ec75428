package main

import (
	"bytes"
	"io"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/msnsniff/msnsniff/internal/capgen"
)

// benchCaptureSize is the size of the in-memory capture of the pipeline
// benchmark: about 2,500 connections of some 500 users, large enough for
// steady state and small enough to build in a second.
const benchCaptureSize = 16 << 20

// benchCapture returns a synthetic capture of many interleaved users, as
// msnbench gen writes (1% reordering, 1% retransmission, 0.5% loss).
func benchCapture(tb testing.TB, size int64) []byte {
	tb.Helper()
	names, err := filepath.Glob("../../testdata/msnp*-example.txt")
	if err != nil || len(names) == 0 {
		tb.Fatalf("no templates: %v", err)
	}
	tpls, err := capgen.LoadTemplates(names)
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := capgen.WriteWorkload(&buf, capgen.WorkloadOptions{
		Templates: tpls, Size: size, Seed: 1, Reorder: 0.01, Duplicate: 0.01, Loss: 0.005,
	}); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkPipeline runs the whole of msnsniff on an in-memory capture:
// reading, reassembly, dissection and the report, written to io.Discard.
// Bytes are those of the capture file.
func BenchmarkPipeline(b *testing.B) {
	capture := benchCapture(b, benchCaptureSize)
	for _, format := range []string{"json", "ndjson", "table"} {
		for _, procs := range []int{1, runtime.GOMAXPROCS(0)} {
			b.Run(format+"/procs="+strconv.Itoa(procs), func(b *testing.B) {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
				b.SetBytes(int64(len(capture)))
				b.ReportAllocs()
				for b.Loop() {
					var stderr bytes.Buffer
					if code := run([]string{"-T", format, "-q", "-r", "-"}, bytes.NewReader(capture), io.Discard, &stderr); code != exitOK {
						b.Fatalf("exit code %d: %s", code, stderr.String())
					}
				}
			})
			if procs == runtime.GOMAXPROCS(0) {
				break
			}
		}
	}
}
