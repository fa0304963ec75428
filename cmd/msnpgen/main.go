// Command msnpgen turns an MSNP transcript into a pcap or pcapng capture
// with real TCP, for testing msnsniff.
//
// Usage:
//
//	msnpgen [flags] TRANSCRIPT
//
// TRANSCRIPT is a file in the form dissect.ParseTranscript reads, or "-"
// for standard input. The capture goes to -o FILE, or to standard output.
// Run "msnpgen --help" for the flags.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/msnsniff/msnsniff/dissect"
	"github.com/msnsniff/msnsniff/internal/capgen"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Exit codes (see shared/conventions.md, "Command line").
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// run runs msnpgen with the command-line arguments args (without the
// program name) and returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("msnpgen", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: msnpgen [flags] TRANSCRIPT\n\n")
		fmt.Fprintf(stderr, "Turns an MSNP transcript (\"-\" for stdin) into a capture file with real TCP.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	var (
		output      = fs.StringP("output", "o", "-", "write the capture to `FILE` (\"-\" for stdout)")
		pcapng      = fs.Bool("pcapng", false, "write pcapng instead of classic pcap")
		linkName    = fs.String("link", "ethernet", "link-layer framing `NAME`: ethernet, vlan, sll, raw or null")
		snaplen     = fs.Int("snaplen", capgen.DefaultSnaplen, "cut frames to `N` bytes")
		start       = fs.String("start", time.Unix(capgen.DefaultStartUnix, 0).UTC().Format(time.RFC3339), "packet `TIME` of the first event (RFC 3339)")
		step        = fs.Duration("step", capgen.DefaultStep, "packet time between events (Go syntax: 1ms, 2s)")
		segment     = fs.Int("segment", capgen.DefaultSegment, "largest TCP payload per segment: `N` bytes, 1 to 65495")
		reorder     = fs.Float64("reorder", 0, "probability `P` that a segment swaps places with the next one in its direction")
		duplicate   = fs.Float64("duplicate", 0, "probability `P` that a segment is sent twice")
		seed        = fs.Int64("seed", 0, "seed `N` of the random choices of --reorder and --duplicate")
		isn         = fs.Uint32("isn", 0, "initial sequence number `N` of both sides (0: a fixed value per connection and side)")
		wrapSeq     = fs.Bool("wrap-seq", false, "start sequence numbers 1000 below 2^32 so that they wrap")
		noHandshake = fs.Bool("no-handshake", false, "start the capture after the TCP handshake")
		noFIN       = fs.Bool("no-fin", false, "leave connections open (no FIN exchange)")
		gateway     = fs.Bool("gateway", false, "carry the MSNP sessions through the MSN HTTP gateway (port 80)")
		chunked     = fs.Bool("chunked", false, "with --gateway, send the response bodies chunked")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "msnpgen: %v (see --help)\n", err)
		return exitUsage
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "msnpgen: "+format+"\n", a...)
		return exitUsage
	}
	if fs.NArg() != 1 {
		return usage("want exactly one TRANSCRIPT argument, got %d (see --help)", fs.NArg())
	}
	link, err := capgen.ParseLink(*linkName)
	if err != nil {
		return usage("--link: %q is not ethernet, vlan, sll, raw or null", *linkName)
	}
	startTime, err := time.Parse(time.RFC3339Nano, *start)
	if err != nil {
		return usage("--start: %v", err)
	}
	if *isn != 0 && *wrapSeq {
		return usage("cannot set both --isn and --wrap-seq")
	}
	if *chunked && !*gateway {
		return usage("--chunked applies only with --gateway")
	}
	opt := capgen.Options{
		Start:       startTime,
		Step:        *step,
		Segment:     *segment,
		Reorder:     *reorder,
		Duplicate:   *duplicate,
		Seed:        *seed,
		ISN:         *isn,
		WrapSeq:     *wrapSeq,
		NoHandshake: *noHandshake,
		NoFIN:       *noFIN,
		Link:        link,
		Snaplen:     *snaplen,
	}
	// The zero values of Step, Segment and Snaplen mean "default" to
	// capgen; on the command line they are mistakes.
	switch {
	case *step <= 0:
		return usage("--step: %v is not positive", *step)
	case *segment <= 0:
		return usage("--segment: %d is not positive", *segment)
	case *snaplen <= 0:
		return usage("--snaplen: %d is not positive", *snaplen)
	}

	fail := func(err error) int {
		fmt.Fprintf(stderr, "msnpgen: %v\n", err)
		return exitFail
	}
	name := fs.Arg(0)
	var text []byte
	if name == "-" {
		text, err = io.ReadAll(stdin)
	} else {
		text, err = os.ReadFile(name)
	}
	if err != nil {
		return fail(err)
	}
	t, err := dissect.ParseTranscript(text)
	if err != nil {
		if name == "-" {
			name = "stdin"
		}
		return fail(fmt.Errorf("%s: %w", name, err))
	}
	if *gateway {
		if t, err = capgen.Gateway(t, capgen.GatewayOptions{Chunked: *chunked}); err != nil {
			return fail(err)
		}
	}
	// Build the whole file first so that a failure leaves no partial
	// output behind.
	var buf bytes.Buffer
	if err := capgen.Write(&buf, t, opt, *pcapng); err != nil {
		if errors.Is(err, capgen.ErrOptions) {
			return usage("%v", err)
		}
		return fail(err)
	}
	if *output == "-" {
		_, err = stdout.Write(buf.Bytes())
	} else {
		err = os.WriteFile(*output, buf.Bytes(), 0o644)
	}
	if err != nil {
		return fail(err)
	}
	return exitOK
}
