package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"
)

// Targets of issue 7 that the ratios are printed against.
const (
	targetVsDecode      = 0.5 // msnsniff's throughput over the decode loop's
	targetVsTsharkConv  = 15  // msnsniff's speed-up over tshark -z conv,tcp
	targetVsTsharkMsnms = 50  // msnsniff's speed-up over tshark -Y msnms
)

// msnsniffPackage is what the harness builds when --msnsniff is not given.
const msnsniffPackage = "github.com/msnsniff/msnsniff/cmd/msnsniff"

// tool is one program the harness measures.
type tool struct {
	name string
	argv func(file string) []string
}

// sample is one measured run.
type sample struct {
	wall   time.Duration
	cpu    time.Duration // user + system
	maxRSS int64         // bytes
}

// runBench implements "msnbench run".
func runBench(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("msnbench run", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: msnbench run [flags] FILE...\n\n")
		fmt.Fprintf(stderr, "Measures, as separate processes and several rounds interleaved, a pcapgo read loop,\na read + DecodingLayerParser loop, msnsniff -T json -o /dev/null -q, and tshark\n(-q -z conv,tcp and -Y msnms) when installed; prints medians of wall time, MB/s\n(10^6 bytes of file per second) and peak RSS (wait4 rusage), and the ratios.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	var (
		rounds   = fs.Int("rounds", 3, "measure each tool on each file `N` times")
		msnsniff = fs.String("msnsniff", "", "msnsniff binary to measure (default: go build it from the current module into a temporary directory)")
		format   = fs.String("format", "json", "msnsniff output `format` (-T)")
		tshark   = fs.String("tshark", "tshark", "tshark binary; empty to skip tshark")
		only     = fs.StringSlice("tools", nil, "measure only these `tools`: read, decode, msnsniff, tshark-conv, tshark-msnms,\nmsnsniff-nolimit (msnsniff --memory-limit 0), msnsniff-table (msnsniff's default table format), and stages (msnsniff stopped after\nreassembly, dissection and the NDJSON report: stage-reassembly, stage-dissect,\nstage-ndjson); default all but the stages, msnsniff-nolimit and msnsniff-table")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "msnbench: %v (see msnbench run -h)\n", err)
		return exitUsage
	}
	files := fs.Args()
	if len(files) == 0 || *rounds < 1 {
		fmt.Fprintln(stderr, "msnbench: run needs at least one FILE and --rounds >= 1")
		return exitUsage
	}
	sizes := make([]int64, len(files))
	for i, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			fmt.Fprintf(stderr, "msnbench: %v\n", err)
			return exitFail
		}
		sizes[i] = fi.Size()
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "msnbench: %v\n", err)
		return exitFail
	}
	tools := []tool{
		{"read loop", func(f string) []string { return []string{self, "loop", "read", f} }},
		{"decode loop", func(f string) []string { return []string{self, "loop", "decode", f} }},
	}
	keys := []string{"read", "decode"}
	for _, st := range stageNames {
		tools = append(tools, tool{"msnsniff to " + st, func(f string) []string { return []string{self, "stage", st, f} }})
		keys = append(keys, "stage-"+st)
	}
	tools = append(tools, tool{"msnsniff", func(f string) []string { return []string{*msnsniff, "-T", *format, "-o", os.DevNull, "-q", f} }},
		tool{"msnsniff --memory-limit 0", func(f string) []string {
			return []string{*msnsniff, "--memory-limit", "0", "-T", *format, "-o", os.DevNull, "-q", f}
		}},
		tool{"msnsniff -T table", func(f string) []string { return []string{*msnsniff, "-T", "table", "-o", os.DevNull, "-q", f} }})
	keys = append(keys, "msnsniff", "msnsniff-nolimit", "msnsniff-table")
	if *tshark != "" {
		if path, err := exec.LookPath(*tshark); err == nil {
			tools = append(tools,
				tool{"tshark -z conv,tcp", func(f string) []string { return []string{path, "-r", f, "-q", "-z", "conv,tcp"} }},
				tool{"tshark -Y msnms", func(f string) []string {
					return []string{path, "-r", f, "-Y", "msnms", "-T", "fields", "-e", "frame.number"}
				}})
			keys = append(keys, "tshark-conv", "tshark-msnms")
		} else {
			fmt.Fprintf(stderr, "msnbench: %s not found; tshark not measured\n", *tshark)
		}
	}
	if len(*only) == 0 {
		// The stages, msnsniff without its memory limit and its table
		// format are measured on request only.
		for _, k := range keys {
			if !strings.HasPrefix(k, "stage-") && k != "msnsniff-nolimit" && k != "msnsniff-table" {
				*only = append(*only, k)
			}
		}
	}
	if slices.Contains(*only, "stages") {
		for _, st := range stageNames {
			*only = append(*only, "stage-"+st)
		}
	}
	{
		var kept []tool
		var keptKeys []string
		for i, k := range keys {
			if slices.Contains(*only, k) {
				kept, keptKeys = append(kept, tools[i]), append(keptKeys, k)
			}
		}
		tools, keys = kept, keptKeys
	}
	if slices.ContainsFunc(keys, func(k string) bool { return strings.HasPrefix(k, "msnsniff") }) && *msnsniff == "" {
		dir, err := os.MkdirTemp("", "msnbench")
		if err != nil {
			fmt.Fprintf(stderr, "msnbench: %v\n", err)
			return exitFail
		}
		defer os.RemoveAll(dir)
		*msnsniff = filepath.Join(dir, "msnsniff")
		build := exec.Command("go", "build", "-o", *msnsniff, msnsniffPackage)
		build.Stdout, build.Stderr = stderr, stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(stderr, "msnbench: go build %s: %v (run from the repository, or give --msnsniff)\n", msnsniffPackage, err)
			return exitFail
		}
	}

	// Warm the page cache so that every round reads from memory: the
	// figures are of the programs, not of the disk.
	for _, f := range files {
		if err := warm(f); err != nil {
			fmt.Fprintf(stderr, "msnbench: %v\n", err)
			return exitFail
		}
	}

	loadStart := loadAvg()
	nameWidth := 0
	for _, t := range tools {
		nameWidth = max(nameWidth, len(t.name))
	}
	samples := make([][][]sample, len(files)) // [file][tool][round]
	for i := range files {
		samples[i] = make([][]sample, len(tools))
	}
	for r := range *rounds {
		for i, f := range files {
			for j, t := range tools {
				s, err := measure(t.argv(f))
				if err != nil {
					fmt.Fprintf(stderr, "msnbench: %s on %s: %v\n", t.name, f, err)
					return exitFail
				}
				samples[i][j] = append(samples[i][j], s)
				fmt.Fprintf(stderr, "round %d/%d  %-*s %-28s %7.2fs  %6.0f MiB\n", r+1, *rounds, nameWidth, t.name, filepath.Base(f),
					s.wall.Seconds(), float64(s.maxRSS)/(1<<20))
			}
		}
	}

	fmt.Fprintf(stdout, "machine: %s/%s, %d CPUs, %s; %d rounds, medians\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel(), *rounds)
	fmt.Fprintf(stdout, "load average (1 min) before %s, after %s: figures are only sound on an otherwise idle machine\n", loadStart, loadAvg())
	med := make([][]sample, len(files))
	for i, f := range files {
		med[i] = make([]sample, len(tools))
		for j := range tools {
			med[i][j] = median(samples[i][j])
		}
		fmt.Fprintf(stdout, "\n%s (%.1f MB)\n", f, float64(sizes[i])/1e6)
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "tool\tseconds\tMB/s\tpeak RSS MiB\tCPU s\tCPU/wall\tMB/CPU-s\tseconds, all rounds\t")
		for j, t := range tools {
			s := med[i][j]
			mb := float64(sizes[i]) / 1e6
			lo, hi := wallRange(samples[i][j])
			fmt.Fprintf(tw, "%s\t%.2f\t%.1f\t%.0f\t%.2f\t%.2f\t%.1f\t%.2f-%.2f\t\n", t.name, s.wall.Seconds(), mb/s.wall.Seconds(),
				float64(s.maxRSS)/(1<<20), s.cpu.Seconds(), s.cpu.Seconds()/s.wall.Seconds(), mb/s.cpu.Seconds(), lo.Seconds(), hi.Seconds())
		}
		tw.Flush()
		ratios(stdout, tools, med[i])
	}
	if len(files) > 1 {
		fmt.Fprintf(stdout, "\ngrowth against %s (time ratio / size ratio, 1.00 is linear; RSS ratio, 1.00 is flat):\n", files[0])
		for i := 1; i < len(files); i++ {
			size := float64(sizes[i]) / float64(sizes[0])
			fmt.Fprintf(stdout, "  %s (x%.2f size):\n", files[i], size)
			tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "    tool\twall\tCPU\tRSS\t")
			for j, t := range tools {
				a, b := med[0][j], med[i][j]
				fmt.Fprintf(tw, "    %s\t%.2f\t%.2f\tx%.2f\t\n", t.name, b.wall.Seconds()/a.wall.Seconds()/size,
					b.cpu.Seconds()/a.cpu.Seconds()/size, float64(b.maxRSS)/float64(a.maxRSS))
			}
			tw.Flush()
		}
	}
	return exitOK
}

// ratios prints msnsniff's standing against the targets, by wall time
// and, as a check on a busy machine, by CPU time.
func ratios(w io.Writer, tools []tool, med []sample) {
	idx := func(name string) int {
		return slices.IndexFunc(tools, func(t tool) bool { return t.name == name })
	}
	m := idx("msnsniff")
	if m < 0 {
		return
	}
	mark := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	line := func(what string, other int, target float64, unit string) {
		if other < 0 {
			return
		}
		r := med[other].wall.Seconds() / med[m].wall.Seconds()
		c := med[other].cpu.Seconds() / med[m].cpu.Seconds()
		fmt.Fprintf(w, "%s: %.3g%s by wall time, %.3g%s by CPU time", what, r, unit, c, unit)
		if target > 0 {
			fmt.Fprintf(w, " (target >= %g%s: %s)", target, unit, mark(r >= target))
		}
		fmt.Fprintln(w)
	}
	line("msnsniff throughput / decode loop's", idx("decode loop"), targetVsDecode, "")
	line("msnsniff throughput / read loop's", idx("read loop"), 0, "")
	line("msnsniff speed-up over tshark -z conv,tcp", idx("tshark -z conv,tcp"), targetVsTsharkConv, "x")
	line("msnsniff speed-up over tshark -Y msnms", idx("tshark -Y msnms"), targetVsTsharkMsnms, "x")
}

// measure runs argv with stdout to /dev/null and returns its wall time,
// CPU time and peak RSS as wait4 reports them.
func measure(argv []string) (sample, error) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return sample{}, err
	}
	defer null.Close()
	var errBuf bytes.Buffer
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout = null
	cmd.Stderr = &limitedBuffer{b: &errBuf, n: 4096}
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("%w: %s", err, strings.TrimSpace(errBuf.String()))
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return sample{}, errors.New("no rusage")
	}
	return sample{
		wall:   wall,
		cpu:    time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		maxRSS: ru.Maxrss << 10, // kilobytes on Linux
	}, nil
}

// wallRange returns the shortest and the longest wall time of ss: on a
// shared machine the spread says how far the median can be trusted.
func wallRange(ss []sample) (lo, hi time.Duration) {
	for i, s := range ss {
		if i == 0 || s.wall < lo {
			lo = s.wall
		}
		if i == 0 || s.wall > hi {
			hi = s.wall
		}
	}
	return lo, hi
}

// median returns the sample with the median wall time; its RSS and CPU
// are the medians of theirs.
func median(ss []sample) sample {
	mid := func(get func(sample) int64) int64 {
		v := make([]int64, len(ss))
		for i, s := range ss {
			v[i] = get(s)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return sample{
		wall:   time.Duration(mid(func(s sample) int64 { return int64(s.wall) })),
		cpu:    time.Duration(mid(func(s sample) int64 { return int64(s.cpu) })),
		maxRSS: mid(func(s sample) int64 { return s.maxRSS }),
	}
}

// warm reads a file once so that the runs find it in the page cache.
func warm(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(io.Discard, f)
	return err
}

// loadAvg returns the 1-minute load average from /proc/loadavg, or "?".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// cpuModel returns the CPU model from /proc/cpuinfo, or "".
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// limitedBuffer keeps the first n bytes written to it and drops the rest.
type limitedBuffer struct {
	b *bytes.Buffer
	n int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
