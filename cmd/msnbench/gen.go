package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/msnsniff/msnsniff/internal/capgen"
)

// Impairments of the benchmark capture, as issue 7 states them: 1%
// reordering, 1% retransmission, 0.5% loss.
const (
	defaultReorder    = 0.01
	defaultRetransmit = 0.01
	defaultLoss       = 0.005
)

// defaultTemplates are the login examples of every protocol version page,
// MSNP2 to MSNP14 (testdata/README.md), relative to the repository root.
var defaultTemplates = []string{"testdata/msnp*-example.txt", "testdata/msnp7-login.txt"}

// runGen implements "msnbench gen".
func runGen(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("msnbench gen", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: msnbench gen -o FILE [flags]\n\n")
		fmt.Fprintf(stderr, "Writes a deterministic synthetic pcap of many interleaved MSNP users (DS, NS and\nswitchboard sessions built from the transcripts in --templates).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	var (
		output    = fs.StringP("output", "o", "", "write the capture to `FILE` (required)")
		sizeStr   = fs.String("size", "200MB", "capture `SIZE`: bytes, or with kB, MB, GB (powers of 1000) or KiB, MiB, GiB")
		seed      = fs.Int64("seed", 1, "seed `N` of every random choice")
		templates = fs.StringSlice("templates", defaultTemplates, "`GLOB`s of the transcripts users replay (logins ending in the client's OUT); repeatable")
		reorder   = fs.Float64("reorder", defaultReorder, "probability `P` that a data segment swaps places with the next one in its direction")
		retrans   = fs.Float64("retransmit", defaultRetransmit, "probability `P` that a data segment is sent twice")
		loss      = fs.Float64("loss", defaultLoss, "probability `P` that a packet is left out of the capture")
		arrival   = fs.Duration("arrival", capgen.DefaultArrival, "mean packet time between two users' arrivals (sets how many are active at once)")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "msnbench: %v (see msnbench gen -h)\n", err)
		return exitUsage
	}
	size, err := parseSize(*sizeStr)
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "msnbench: --size: %v\n", err)
		return exitUsage
	case *output == "":
		fmt.Fprintln(stderr, "msnbench: gen needs -o FILE")
		return exitUsage
	case fs.NArg() != 0:
		fmt.Fprintf(stderr, "msnbench: gen takes no arguments, got %q\n", fs.Args())
		return exitUsage
	}
	tpls, err := loadTemplates(*templates)
	if err != nil {
		fmt.Fprintf(stderr, "msnbench: %v\n", err)
		return exitFail
	}
	f, err := os.Create(*output)
	if err != nil {
		fmt.Fprintf(stderr, "msnbench: %v\n", err)
		return exitFail
	}
	start := time.Now()
	st, err := capgen.WriteWorkload(f, capgen.WorkloadOptions{
		Templates: tpls, Size: size, Seed: *seed,
		Reorder: *reorder, Duplicate: *retrans, Loss: *loss, Arrival: *arrival,
	})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(stderr, "msnbench: %s: %v\n", *output, err)
		return exitFail
	}
	elapsed := time.Since(start)
	fmt.Fprintf(stdout, "%s: %d bytes, %d packets (%d dropped), %d users, %d connections (%d switchboard), %s of traffic\n",
		*output, st.Bytes, st.Packets, st.Dropped, st.Users, st.Conns, st.Chats, st.Last.Sub(st.First).Round(time.Second))
	fmt.Fprintf(stdout, "generated in %.1fs (%.0f MB/s), at most %d users held at once, peak RSS %.0f MiB\n",
		elapsed.Seconds(), float64(st.Bytes)/1e6/elapsed.Seconds(), st.MaxActive, float64(selfMaxRSS())/(1<<20))
	return exitOK
}

// loadTemplates parses the transcripts the globs name, in name order.
func loadTemplates(globs []string) ([]*capgen.Template, error) {
	var names []string
	for _, g := range globs {
		m, err := filepath.Glob(g)
		if err != nil {
			return nil, fmt.Errorf("--templates %q: %w", g, err)
		}
		names = append(names, m...)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	tpls, err := capgen.LoadTemplates(names)
	if err != nil {
		return nil, err
	}
	if len(tpls) == 0 {
		return nil, fmt.Errorf("no transcript matches --templates %q (run from the repository root)", globs)
	}
	return tpls, nil
}

// parseSize parses a size such as "200MB", "1GB", "512MiB" or "1048576".
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1},
	}
	mult := int64(1)
	num := s
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = n, u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || !(v > 0) || v*float64(mult) > 1<<50 {
		return 0, fmt.Errorf("bad size %q (want e.g. 200MB, 1GB, 512MiB)", s)
	}
	return int64(v * float64(mult)), nil
}

// selfMaxRSS returns this process's peak resident set in bytes.
func selfMaxRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss << 10 // kilobytes on Linux
}
