package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

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
       msnsniff -i IFACE [flags]

Reads pcap or pcapng captures, or captures live on a network interface,
reassembles the MSNP (MSN Messenger) TCP connections and reports each
session: version negotiation, authentication, redirects, transactions
matched by TrID, contact-group operations, errors and anomalies.

Examples:
  msnsniff capture.pcap                     tables on stdout
  msnsniff -T json capture.pcap             one JSON document
  msnsniff -T ndjson -r a.pcap -r b.pcapng  one JSON object per command
  msnsniff -T transcript capture.pcap       the C:/S: transcript form
  tcpdump -w - port 1863 | msnsniff -r -    read a capture from stdin
  msnsniff --port 1863 --port 1864 x.pcap   MSNP on more than one port
  msnsniff -i eth0 -T ndjson                watch live, a line per command
  msnsniff -i eth0 -w msnp.pcapng           live tables, packets kept as evidence

Live capture (-i) needs root or the CAP_NET_RAW capability. It stops at
Ctrl-C (or SIGTERM), after -c packets or --duration, and then reports.

Flags:
`

const usageTail = `
Exit status: 0 when the analysis finished (anomalies in the traffic are
reported, not fatal), 1 when an input, the capture or an output failed
(what could be read is still analysed and reported), 2 on a usage error.
`

type config struct {
	files    []string
	format   report.Format
	output   string
	ports    []uint16
	raw      bool
	verbose  bool
	quiet    bool
	flush    bool
	write    string // -w
	chats    bool
	redact   bool
	idle     time.Duration
	halfIdle time.Duration
	maxConns int
	memLimit int64 // --memory-limit in bytes; 0 leaves the runtime alone
	noDetect bool
	gateway  gatewayConfig // --gateway-port, --no-gateway

	// Live capture.
	iface     string
	list      bool
	count     int64
	duration  time.Duration
	noPromisc bool
	filter    string
}

// parseFlags reads the command line. help is true when -h was given.
func parseFlags(args []string, stderr io.Writer) (cfg config, help bool, err error) {
	fs := pflag.NewFlagSet("msnsniff", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	var (
		redactOn, redactOff bool
		reads               []string
		format              string
		ports               []int
		memLimit            string
	)
	fs.StringArrayVarP(&reads, "read", "r", nil, "read packets from `FILE` (pcap or pcapng; - is stdin); repeatable")
	fs.StringVarP(&cfg.iface, "interface", "i", "", "capture live on `IFACE` (Linux; root or CAP_NET_RAW)")
	fs.BoolVarP(&cfg.list, "list-interfaces", "D", false, "list the interfaces -i can capture on")
	fs.Int64VarP(&cfg.count, "count", "c", 0, "stop a live capture after `N` packets")
	fs.DurationVar(&cfg.duration, "duration", 0, "stop a live capture after `D` (90s, 10m, 2h)")
	fs.BoolVarP(&cfg.noPromisc, "no-promiscuous-mode", "p", false, "do not put the interface into promiscuous mode")
	fs.StringVarP(&cfg.filter, "filter", "f", "", "capture with the tcpdump filter `EXPR` instead of one made from --port\n(needs a build with -tags libpcap)")
	fs.StringVarP(&format, "format", "T", "table", "output `format`: table, json, ndjson or transcript")
	fs.StringVarP(&cfg.output, "output", "o", "", "write the output to `FILE` instead of stdout")
	fs.StringVarP(&cfg.write, "write", "w", "", "write the packets of the MSNP connections to `FILE`\n(pcapng if it ends in .pcapng, else pcap)")
	fs.IntSliceVar(&ports, "port", []int{1863}, "TCP `port` of MSNP servers; repeatable")
	addGatewayFlags(fs, &cfg.gateway)
	fs.BoolVar(&cfg.noDetect, "no-detect", false, "analyse only the --port (and gateway) ports: no detection of MSNP\nby the first bytes of connections on other ports")
	fs.DurationVar(&cfg.idle, "idle-timeout", reassembly.DefaultIdleTimeout, "end a connection silent for `D` of packet time (reported open)")
	fs.DurationVar(&cfg.halfIdle, "half-close-timeout", reassembly.DefaultHalfCloseTimeout, "end a connection closed one way only (a FIN from one side) and silent for `D`\nof packet time (reported open), at most --idle-timeout")
	fs.IntVar(&cfg.maxConns, "max-connections", reassembly.DefaultMaxConnections, "keep at most `N` connections open: beyond, the least recently active\nare ended early (reported open, anomaly evicted_connection)")
	fs.StringVar(&memLimit, "memory-limit", "90MiB", "keep memory under `SIZE` (MB, MiB, GB...; 0 for none) unless the sessions open\nat once need more; GOMEMLIMIT, when set, replaces the default")
	fs.BoolVar(&cfg.chats, "chats", false, "print the conversations as time, sender and text (table format)")
	fs.BoolVar(&redactOn, "redact", false, "replace credentials (auth responses, tickets, nonces, cookies) with\nstable hash tokens; the default for table and transcript output")
	fs.BoolVar(&redactOff, "no-redact", false, "show credentials; the default for json and ndjson output")
	fs.BoolVar(&cfg.raw, "raw", false, "print wire strings unescaped in table and transcript output")
	fs.BoolVarP(&cfg.verbose, "verbose", "v", false, "more detail (packet times in transcripts)")
	fs.BoolVarP(&cfg.quiet, "quiet", "q", false, "no progress line or anomaly summary on stderr")
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
	if cfg.list {
		return cfg, false, nil
	}
	if cfg.format, err = report.ParseFormat(format); err != nil {
		return cfg, false, err
	}
	switch {
	case redactOn && redactOff:
		return cfg, false, errors.New("cannot set both --redact and --no-redact")
	case redactOn || redactOff:
		cfg.redact = redactOn
	default:
		cfg.redact = cfg.format == report.FormatTable || cfg.format == report.FormatTranscript
	}
	if cfg.idle <= 0 {
		return cfg, false, fmt.Errorf("--idle-timeout %v: not a positive duration", cfg.idle)
	}
	if cfg.halfIdle <= 0 {
		return cfg, false, fmt.Errorf("--half-close-timeout %v: not a positive duration", cfg.halfIdle)
	}
	if cfg.maxConns <= 0 {
		return cfg, false, fmt.Errorf("--max-connections %d: not a positive number", cfg.maxConns)
	}
	if cfg.memLimit, err = parseSize(memLimit); err != nil {
		return cfg, false, fmt.Errorf("--memory-limit %v", err)
	}
	if !fs.Changed("memory-limit") && os.Getenv("GOMEMLIMIT") != "" {
		cfg.memLimit = 0 // the user's GOMEMLIMIT stands
	}
	if cfg.chats && cfg.format != report.FormatTable {
		return cfg, false, errors.New("--chats is a table view: it cannot be combined with -T " + string(cfg.format))
	}
	for _, p := range ports {
		if p < 1 || p > 65535 {
			return cfg, false, fmt.Errorf("--port %d: not a TCP port", p)
		}
		cfg.ports = append(cfg.ports, uint16(p))
	}
	if cfg.ports, err = cfg.gateway.resolve(fs, cfg.ports); err != nil {
		return cfg, false, err
	}
	cfg.files = append(reads, fs.Args()...)
	if err := checkLive(fs, &cfg); err != nil {
		return cfg, false, err
	}
	if len(cfg.files) == 0 && cfg.iface == "" {
		return cfg, false, errors.New("no capture given: name a pcap or pcapng file (or -r - for stdin), or an interface with -i")
	}
	if n := countStdin(cfg.files); n > 1 {
		return cfg, false, errors.New("stdin (-) can be read only once")
	}
	return cfg, false, nil
}

// checkLive checks the flags of live capture against the rest.
func checkLive(fs *pflag.FlagSet, cfg *config) error {
	if cfg.iface == "" {
		for _, name := range []string{"count", "duration", "no-promiscuous-mode", "filter"} {
			if f := fs.Lookup(name); f.Changed {
				return fmt.Errorf("%s applies only to a live capture (-i)", flagName(f))
			}
		}
		return nil
	}
	switch {
	case len(cfg.files) > 0:
		return errors.New("-i cannot be combined with capture files")
	case fs.Changed("count") && cfg.count < 1:
		return fmt.Errorf("-c %d: not a positive number of packets", cfg.count)
	case fs.Changed("duration") && cfg.duration <= 0:
		return fmt.Errorf("--duration %v: not a positive duration", cfg.duration)
	case cfg.filter != "" && !reassembly.HaveLibpcap:
		return errors.New("-f needs msnsniff built with libpcap: go build -tags libpcap ./cmd/msnsniff")
	case cfg.filter == "" && len(slices.Compact(slices.Sorted(slices.Values(cfg.ports)))) > reassembly.MaxFilterPorts:
		return fmt.Errorf("-i takes at most %d --port values", reassembly.MaxFilterPorts)
	}
	return nil
}

// flagName spells a flag as a user would: "-c" or "--duration".
func flagName(f *pflag.Flag) string {
	if f.Shorthand != "" {
		return "-" + f.Shorthand
	}
	return "--" + f.Name
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
	if cfg.list {
		if err := listInterfaces(stdout); err != nil {
			fail(err)
		}
		return code
	}
	defer limitMemory(cfg.memLimit)()

	// A live capture is opened first, so that a missing privilege or
	// interface fails before any output file is made.
	var live *reassembly.Live
	ctx := context.Background()
	if cfg.iface != "" {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		if cfg.duration > 0 {
			ctx, stop = context.WithTimeout(ctx, cfg.duration)
			defer stop()
		}
		if live, err = openLive(cfg, stderr); err != nil {
			fail(err)
			return code
		}
		defer live.Close()
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

	eopt := reassembly.Options{Ports: cfg.ports, IdleTimeout: cfg.idle, HalfCloseTimeout: cfg.halfIdle, NoDetect: cfg.noDetect,
		MaxConnections: cfg.maxConns}
	var dump *reassembly.Dump
	if cfg.write != "" {
		if dump, err = reassembly.CreateDump(cfg.write); err != nil {
			fail(err)
			return code
		}
		eopt.OnPacket = dump.WritePacket
		if live != nil {
			dump.SetLinkType(live.Link())
		}
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

	// Live output is flushed as it is written, each command or session.
	ropt := report.Options{Format: cfg.format, Raw: cfg.raw, Verbose: cfg.verbose, Flush: cfg.flush || live != nil,
		Chats: cfg.chats, Redact: cfg.redact, StreamTables: live != nil}
	// The progress line is for reading files: a live capture has no end.
	var prog *progress
	if live == nil {
		prog = startProgress(stderr, sources, cfg.quiet)
	}
	rep := report.NewOutput(prog.output(out), ropt)
	var capture report.Capture
	var gwCounts []reassembly.Count
	if live != nil {
		capture = captureLive(ctx, cfg, live, rep, eopt, stderr, fail)
	} else {
		an := dissect.NewAnalyzer(rep, dissect.Limits{})
		gw := withGateway(prog.sink(sink{an}), cfg.gateway)
		eng := reassembly.NewEngine(gw, eopt)
		err := reassembly.Run(sources, eng)
		prog.stop()
		if err != nil {
			fail(err)
			inputErrs = append(inputErrs, strings.Split(err.Error(), "\n")...)
		}
		gw.Finish(eng.Clock())
		gwCounts = gw.Stats().Counts()
		capture = captureReport(sources, eng.Stats(), inputErrs)
	}
	if dump != nil {
		if err := dump.Close(); err != nil {
			fail(err)
			capture.Errors = append(capture.Errors, err.Error())
		}
	}
	capture.Anomalies = mergeCounts(rep.AnomalyTotals(), capture.Anomalies)
	capture.Gateway = []report.Count{}
	if len(cfg.gateway.ports) > 0 {
		for _, c := range gwCounts {
			capture.Gateway = append(capture.Gateway, report.Count{Name: c.Name, Count: c.Count})
		}
	}
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

// mergeCounts returns the counts of a and b together, in name order (as
// Output.AnomalyTotals gives them), adding those of the same name.
func mergeCounts(a, b []report.Count) []report.Count {
	out := slices.Clone(a)
	for _, c := range b {
		if i := slices.IndexFunc(out, func(o report.Count) bool { return o.Name == c.Name }); i >= 0 {
			out[i].Count += c.Count
		} else {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(x, y report.Count) int { return strings.Compare(x.Name, y.Name) })
	return out
}

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
	for _, k := range st.Anomalies() {
		c.Anomalies = append(c.Anomalies, report.Count{Name: k.Name, Count: k.Count})
	}
	for _, k := range st.Skipped() {
		c.Skipped = append(c.Skipped, report.Count{Name: k.Name, Count: k.Count})
	}
	if c.Skipped == nil {
		c.Skipped = []report.Count{}
	}
	return c
}
