// Command msnbench generates benchmark captures for msnsniff and measures
// msnsniff against a plain read loop, a decode loop and tshark. See
// README.md in this directory.
//
// Usage:
//
//	msnbench gen -o FILE [--size 200MB] [--seed N] [flags]
//	msnbench run [--rounds 3] [flags] FILE...
//	msnbench loop read|decode FILE
//	msnbench stage reassembly|dissect|ndjson|json FILE
//
// gen writes a deterministic synthetic capture of many interleaved MSNP
// users (internal/capgen's workload). run measures each tool on each file
// as a separate process, several rounds interleaved, and prints medians of
// wall time, throughput and peak RSS (from wait4's rusage) with the ratios
// msnsniff's targets are stated in. loop is the read-only and the
// read-and-decode loop that run starts as child processes; stage runs
// msnsniff's pipeline stopped after reassembly, dissection or the NDJSON
// report, which run measures with --tools stages.
package main

import (
	"fmt"
	"io"
	"os"
)

// Exit codes (see shared/conventions.md, "Command line").
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

const usage = `Usage:
  msnbench gen -o FILE [--size 200MB] [--seed N] [flags]   write a benchmark capture
  msnbench run [--rounds 3] [flags] FILE...                measure the tools on captures
  msnbench loop read|decode FILE                           one baseline loop (used by run)
  msnbench stage reassembly|dissect|ndjson|json FILE       msnsniff stopped after one step (used by run; json
                                                           is the whole report in process, for profiling)

Run 'msnbench gen -h' or 'msnbench run -h' for the flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches to a subcommand and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "gen":
		return runGen(args[1:], stdout, stderr)
	case "run":
		return runBench(args[1:], stdout, stderr)
	case "loop":
		return runLoop(args[1:], stdout, stderr)
	case "stage":
		return runStage(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stderr, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "msnbench: unknown command %q\n%s", args[0], usage)
	return exitUsage
}
