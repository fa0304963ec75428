package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/msnsniff/msnsniff/dissect"
	"github.com/msnsniff/msnsniff/reassembly"
	"github.com/msnsniff/msnsniff/report"
	"github.com/spf13/pflag"
)

// Exit codes (compare wireshark's ws_exit_codes.h).
const (
	exitOK    = 0 // the analysis finished; anomalies are reported, not fatal
	exitInput = 1 // an input, capture or output failure
	exitUsage = 2 // a usage error
)

const usageHead = `Usage: msnsniff [flags] [FILE...]

Reads pcap or pcapng captures, reassembles the MSNP (MSN Messenger) TCP
connections in them and reports each session: version negotiation,
authentication, redirects, transactions matched by TrID, contact-group
operations, errors and anomalies.

Examples:
  msnsniff capture.pcap                     tables on stdout
  msnsniff -T json capture.pcap             one JSON document
  msnsniff -T ndjson -r a.pcap -r b.pcapng  one JSON object per command
  msnsniff -T transcript capture.pcap       the C:/S: transcript form
  tcpdump -w - port 1863 | msnsniff -r -    read a capture from stdin
  msnsniff --port 1863 --port 1864 x.pcap   MSNP on more than one port

Flags:
`

const usageTail = `
Exit status: 0 when the analysis finished (anomalies in the traffic are
reported, not fatal), 1 when an input or output failed (what could be read
is still analysed and reported), 2 on a usage error.
`

type config struct {
	files   []string
	format  report.Format
	output  string
	ports   []uint16
	raw     bool
	verbose bool
	quiet   bool
	flush   bool
}

// parseFlags reads the command line. help is true when -h was given.
func parseFlags(args []string, stderr io.Writer) (cfg config, help bool, err error) {
	fs := pflag.NewFlagSet("msnsniff", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	var (
		reads  []string
		format string
		ports  []int
	)
	fs.StringArrayVarP(&reads, "read", "r", nil, "read packets from `FILE` (pcap or pcapng; - is stdin); repeatable")
	fs.StringVarP(&format, "format", "T", "table", "output `format`: table, json, ndjson or transcript")
	fs.StringVarP(&cfg.output, "output", "o", "", "write the output to `FILE` instead of stdout")
	fs.IntSliceVar(&ports, "port", []int{1863}, "TCP `port` of MSNP servers; repeatable")
	fs.BoolVar(&cfg.raw, "raw", false, "print wire strings unescaped in table and transcript output")
	fs.BoolVarP(&cfg.verbose, "verbose", "v", false, "more detail (packet times in transcripts)")
	fs.BoolVarP(&cfg.quiet, "quiet", "q", false, "no anomaly summary on stderr")
	fs.BoolVarP(&cfg.flush, "line-buffered", "l", false, "flush the output after each record")
	fs.BoolVarP(&help, "help", "h", false, "show this help")
	if err := fs.Parse(args); err != nil {
		return cfg, false, err
	}
	if help {
		fmt.Fprint(stderr, usageHead)
		fmt.Fprint(stderr, fs.FlagUsages())
		fmt.Fprint(stderr, usageTail)
		return cfg, true, nil
	}
	if cfg.format, err = report.ParseFormat(format); err != nil {
		return cfg, false, err
	}
	for _, p := range ports {
		if p < 1 || p > 65535 {
			return cfg, false, fmt.Errorf("--port %d: not a TCP port", p)
		}
		cfg.ports = append(cfg.ports, uint16(p))
	}
	cfg.files = append(reads, fs.Args()...)
	if len(cfg.files) == 0 {
		return cfg, false, errors.New("no capture given: name a pcap or pcapng file (or -r - for stdin)")
	}
	if n := countStdin(cfg.files); n > 1 {
		return cfg, false, errors.New("stdin (-) can be read only once")
	}
	return cfg, false, nil
}

func countStdin(files []string) int {
	n := 0
	for _, f := range files {
		if f == "-" {
			n++
		}
	}
	return n
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, help, err := parseFlags(args, stderr)
	if help {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "msnsniff: %v\nRun 'msnsniff -h' for usage.\n", err)
		return exitUsage
	}
	code := exitOK
	fail := func(err error) {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "msnsniff: %s\n", line)
		}
		code = exitInput
	}

	out := stdout
	if cfg.output != "" {
		f, err := os.Create(cfg.output)
		if err != nil {
			fail(err)
			return code
		}
		defer f.Close()
		out = f
	}

	var sources []*reassembly.Source
	var inputErrs []string
	for _, name := range cfg.files {
		src, err := reassembly.Open(name, stdin)
		if err != nil {
			fail(err)
			inputErrs = append(inputErrs, err.Error())
			continue
		}
		defer src.Close()
		sources = append(sources, src)
	}

	rep := report.NewOutput(out, report.Options{Format: cfg.format, Raw: cfg.raw, Verbose: cfg.verbose, Flush: cfg.flush})
	an := dissect.NewAnalyzer(rep, dissect.Limits{})
	eng := reassembly.NewEngine(sink{an}, reassembly.Options{Ports: cfg.ports})
	if err := reassembly.Run(sources, eng); err != nil {
		fail(err)
		inputErrs = append(inputErrs, strings.Split(err.Error(), "\n")...)
	}
	capture := captureReport(sources, eng.Stats(), inputErrs)
	capture.Anomalies = report.AnomalyTotals(rep.Sessions())
	if err := rep.Close(capture); err != nil {
		fail(fmt.Errorf("writing output: %w", err))
	}
	if cfg.output != "" {
		if f, ok := out.(*os.File); ok {
			if err := f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
				fail(fmt.Errorf("writing output: %w", err))
			}
		}
	}
	if !cfg.quiet {
		summarizeAnomalies(stderr, capture.Anomalies)
	}
	return code
}

// sink hands the connections reassembly finds to the dissector.
type sink struct{ a *dissect.Analyzer }

func (s sink) Open(c dissect.ConnInfo) reassembly.Stream { return s.a.Open(c) }

func summarizeAnomalies(w io.Writer, counts []report.Count) {
	if len(counts) == 0 {
		return
	}
	var total int64
	parts := make([]string, 0, len(counts))
	for _, c := range counts {
		total += c.Count
		parts = append(parts, fmt.Sprintf("%s %d", c.Name, c.Count))
	}
	fmt.Fprintf(w, "msnsniff: %d anomalies: %s\n", total, strings.Join(parts, ", "))
}

// captureReport fills the capture section from the sources and the
// engine's counts.
func captureReport(sources []*reassembly.Source, st reassembly.Stats, errs []string) report.Capture {
	c := report.Capture{Files: []report.File{}, Errors: slices.Clip(errs)}
	if c.Errors == nil {
		c.Errors = []string{}
	}
	for _, s := range sources {
		info := s.Info()
		c.Files = append(c.Files, report.File{Name: info.Name, Format: info.Format, LinkType: info.LinkType,
			Packets: info.Packets, Bytes: info.Bytes, Complete: info.Complete})
	}
	c.Packets, c.Bytes = st.Packets, st.Bytes
	if !st.First.IsZero() {
		c.First = &report.Time{Time: st.First}
		c.Last = &report.Time{Time: st.Last}
	}
	c.Connections = int(st.Connections)
	for _, k := range st.Skipped() {
		c.Skipped = append(c.Skipped, report.Count{Name: k.Name, Count: k.Count})
	}
	if c.Skipped == nil {
		c.Skipped = []report.Count{}
	}
	return c
}
