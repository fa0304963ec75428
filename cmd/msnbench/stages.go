package main

import (
	"fmt"
	"io"
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

// runStage implements "msnbench stage NAME FILE".
func runStage(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 || !isStage(args[0]) {
		fmt.Fprintf(stderr, "Usage: msnbench stage %s FILE\n", joinNames(stageNames))
		return exitUsage
	}
	src, err := reassembly.Open(args[1], nil)
	if err != nil {
		fmt.Fprintf(stderr, "msnbench: %v\n", err)
		return exitFail
	}
	defer src.Close()
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
	case "ndjson":
		out = report.NewOutput(io.Discard, report.Options{Format: report.FormatNDJSON})
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
	for _, n := range stageNames {
		if s == n {
			return true
		}
	}
	return false
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
