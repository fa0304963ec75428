package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/msnsniff/msnsniff/dissect"
	"github.com/msnsniff/msnsniff/reassembly"
	"github.com/msnsniff/msnsniff/report"
)

// The stages run msnsniff's pipeline in process and stop it after one
// step, so that the harness can tell what each step costs: reading and
// reassembly into a sink that only counts ("reassembly"), then the
// dissector with a handler that keeps nothing ("dissect"), then the NDJSON
// report written to io.Discard ("ndjson").
var stageNames = []string{"reassembly", "dissect", "ndjson"}

// extraStages are run on request (msnbench stage json FILE), not by the
// harness: the whole JSON report or the tables, in process, for
// profiling.
var extraStages = []string{"json", "table"}

// runStage implements "msnbench stage NAME FILE".
func runStage(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 || !isStage(args[0]) {
		fmt.Fprintf(stderr, "Usage: msnbench stage %s FILE\n", joinNames(append(slices.Clone(stageNames), extraStages...)))
		return exitUsage
	}
	src, err := reassembly.Open(args[1], nil)
	if err != nil {
		fmt.Fprintf(stderr, "msnbench: %v\n", err)
		return exitFail
	}
	defer src.Close()
	// MSNBENCH_CPUPROFILE=FILE writes a CPU profile of the stage, for
	// finding where its time goes (go tool pprof FILE).
	if path := os.Getenv("MSNBENCH_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintf(stderr, "msnbench: %v\n", err)
			return exitFail
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "msnbench: %v\n", err)
			return exitFail
		}
		defer pprof.StopCPUProfile()
	}
	// MSNBENCH_HEAPPROFILE=FILE writes a heap profile halfway through
	// (after MSNBENCH_HEAPPROFILE_AFTER, default 1s), for finding what the
	// stage keeps in memory while it runs.
	if path := os.Getenv("MSNBENCH_HEAPPROFILE"); path != "" {
		after, err := time.ParseDuration(cmp.Or(os.Getenv("MSNBENCH_HEAPPROFILE_AFTER"), "1s"))
		if err != nil {
			fmt.Fprintf(stderr, "msnbench: MSNBENCH_HEAPPROFILE_AFTER: %v\n", err)
			return exitUsage
		}
		time.AfterFunc(after, func() {
			if f, err := os.Create(path); err == nil {
				runtime.GC()
				pprof.WriteHeapProfile(f)
				f.Close()
			}
		})
	}
	var (
		sink reassembly.Sink
		cs   = &countSink{}
		out  *report.Output
	)
	switch args[0] {
	case "reassembly":
		sink = cs
	case "dissect":
		sink = analyzerSink{dissect.NewAnalyzer(nopHandler{}, dissect.Limits{})}
	case "ndjson", "json", "table":
		out = report.NewOutput(io.Discard, report.Options{Format: report.Format(args[0])})
		sink = analyzerSink{dissect.NewAnalyzer(out, dissect.Limits{})}
	}
	e := reassembly.NewEngine(sink, reassembly.Options{})
	if err := reassembly.Run([]*reassembly.Source{src}, e); err != nil {
		fmt.Fprintf(stderr, "msnbench: %v\n", err)
		return exitFail
	}
	if out != nil {
		if err := out.Close(report.Capture{}); err != nil {
			fmt.Fprintf(stderr, "msnbench: %v\n", err)
			return exitFail
		}
	}
	st := e.Stats()
	fmt.Fprintf(stdout, "packets %d connections %d bytes fed %d\n", st.Packets, st.Connections, cs.bytes)
	return exitOK
}

func isStage(s string) bool {
	return slices.Contains(stageNames, s) || slices.Contains(extraStages, s)
}

func joinNames(ns []string) string {
	s := ""
	for i, n := range ns {
		if i > 0 {
			s += "|"
		}
		s += n
	}
	return s
}

// countSink counts the bytes reassembly delivers and keeps nothing.
type countSink struct{ bytes int64 }

func (c *countSink) Open(dissect.ConnInfo) reassembly.Stream   { return c }
func (c *countSink) Feed(_ dissect.Dir, _ time.Time, b []byte) { c.bytes += int64(len(b)) }
func (c *countSink) Gap(dissect.Dir, time.Time, int)           {}
func (c *countSink) End(time.Time, bool)                       {}

// nopHandler drops what the dissector reports.
type nopHandler struct{}

func (nopHandler) Command(*dissect.Session, *dissect.Command) {}
func (nopHandler) Anomaly(*dissect.Session, *dissect.Anomaly) {}
func (nopHandler) SessionEnd(*dissect.Session)                {}

// analyzerSink hands connections to the dissector, as msnsniff does.
type analyzerSink struct{ a *dissect.Analyzer }

func (s analyzerSink) Open(c dissect.ConnInfo) reassembly.Stream { return s.a.Open(c) }
