package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/msnsniff/msnsniff/dissect"
	"github.com/msnsniff/msnsniff/reassembly"
)

func TestFormatProgress(t *testing.T) {
	tests := []struct {
		name                          string
		read, size, packets, sessions int64
		elapsed                       time.Duration
		want                          string
	}{
		{"brief example", 123_400_000, 200_000_000, 712_345, 18_204, 3 * time.Second,
			"msnsniff: 123.4 MB of 200.0 MB (61.7%)  712,345 packets  18,204 sessions  41.1 MB/s  ETA 0:02"},
		{"start", 0, 200_000_000, 0, 0, 0,
			"msnsniff: 0 B of 200.0 MB (0.0%)  0 packets  0 sessions"},
		{"nothing read yet", 0, 200_000_000, 0, 0, time.Second,
			"msnsniff: 0 B of 200.0 MB (0.0%)  0 packets  0 sessions"},
		{"done", 4884, 4884, 60, 2, 10 * time.Millisecond,
			"msnsniff: 4.9 kB of 4.9 kB (100.0%)  60 packets  2 sessions  488.4 kB/s  ETA 0:00"},
		{"stdin", 5_500_000_000, -1, 12_345_678, 1_000, 100 * time.Second,
			"msnsniff: 5.5 GB  12,345,678 packets  1,000 sessions  55.0 MB/s"},
		{"file grew", 300, 200, 3, 1, time.Second,
			"msnsniff: 300 B of 200 B (100.0%)  3 packets  1 sessions  300 B/s  ETA 0:00"},
		{"empty file", 0, 0, 0, 0, time.Second,
			"msnsniff: 0 B of 0 B (100.0%)  0 packets  0 sessions"},
		{"hours left", 1_000_000, 10_000_000_000, 1, 0, time.Second,
			"msnsniff: 1.0 MB of 10.0 GB (0.0%)  1 packets  0 sessions  1.0 MB/s  ETA 2:46:39"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := formatProgress(tt.read, tt.size, tt.packets, tt.sessions, tt.elapsed)
			if got != tt.want {
				t.Errorf("formatProgress(%d, %d, %d, %d, %v) = %q, want %q",
					tt.read, tt.size, tt.packets, tt.sessions, tt.elapsed, got, tt.want)
			}
		})
	}
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {999, "999 B"}, {1000, "1.0 kB"}, {4884, "4.9 kB"},
		{999_949, "999.9 kB"}, {999_950, "1.0 MB"}, {123_456_789, "123.5 MB"},
		{1_000_000_000_000, "1.0 TB"}, {1 << 62, "4.6 EB"},
	}
	for _, tt := range tests {
		if got := formatBytes(tt.n); got != tt.want {
			t.Errorf("formatBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestFormatCount(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0"}, {999, "999"}, {1000, "1,000"}, {712345, "712,345"}, {1234567, "1,234,567"},
	}
	for _, tt := range tests {
		if got := formatCount(tt.n); got != tt.want {
			t.Errorf("formatCount(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestFormatETA(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0:00"}, {time.Millisecond, "0:01"}, {2 * time.Second, "0:02"}, {59*time.Minute + 59*time.Second, "59:59"},
		{time.Hour, "1:00:00"}, {100*time.Hour + 5*time.Second, "100:00:05"},
	}
	for _, tt := range tests {
		if got := formatETA(tt.d); got != tt.want {
			t.Errorf("formatETA(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// lockedBuffer is a bytes.Buffer that one goroutine writes while another
// reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// waitFor waits up to 10 seconds for cond to hold.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-timeout:
			t.Fatalf("waited 10s for %s", what)
		case <-time.After(time.Millisecond):
		}
	}
}

// nullSink discards every connection.
type nullSink struct{}

func (nullSink) Open(dissect.ConnInfo) reassembly.Stream { return nil }

// fakeClock is a clock that moves a second at each reading.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// openSources opens the named captures of testdata.
func openSources(t *testing.T, names ...string) []*reassembly.Source {
	t.Helper()
	var sources []*reassembly.Source
	for _, n := range names {
		s, err := reassembly.Open(testdata+n, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		sources = append(sources, s)
	}
	return sources
}

// TestProgressLoop checks the redraws of the ticker goroutine, and the line
// while and after the files are read.
func TestProgressLoop(t *testing.T) {
	sources := openSources(t, "msnp2-chat.pcap")
	var w lockedBuffer
	clock := &fakeClock{}
	p := newProgress(&w, -1, sources, clock.now)
	go p.loop(time.NewTicker(time.Millisecond))
	waitFor(t, "3 redraws", func() bool { return strings.Count(w.String(), eraseLine) >= 3 })
	if err := reassembly.Run(sources, reassembly.NewEngine(p.sink(nullSink{}), reassembly.Options{})); err != nil {
		t.Fatal(err)
	}
	p.stop()
	got := w.String()
	// Open read the file, whole as it is smaller than the read buffer,
	// but no packet yet.
	first := eraseLine + "msnsniff: 12.0 kB of 12.0 kB (100.0%)  0 packets  0 sessions  12.0 kB/s  ETA 0:00"
	if !strings.HasPrefix(got, first) {
		t.Errorf("progress starts %q, want %q", got, first)
	}
	last := eraseLine + "msnsniff: 12.0 kB of 12.0 kB (100.0%)  119 packets  6 sessions"
	if i := strings.LastIndex(got, eraseLine+"msnsniff: "); i < 0 || !strings.HasPrefix(got[i:], last) || !strings.HasSuffix(got, eraseLine) {
		t.Errorf("progress ends %q, want %q... and then %q", got[max(i, 0):], last, eraseLine)
	}
	p.draw(false)
	if w.String() != got {
		t.Errorf("a stopped progress line drew %q", strings.TrimPrefix(w.String(), got))
	}
}

// TestProgressSharedOutput checks that output to the terminal of the line
// erases it first, and that the line is not drawn over an unfinished
// output line.
func TestProgressSharedOutput(t *testing.T) {
	var w lockedBuffer
	clock := &fakeClock{}
	p := newProgress(&w, -1, nil, clock.now)
	out := &sharedOutput{w: &w, p: p}
	line := "msnsniff: 0 B of 0 B (100.0%)  0 packets  0 sessions"
	p.draw(false)
	fmt.Fprint(out, "a line\nand half")
	p.draw(false)
	fmt.Fprint(out, " of one\n")
	p.draw(false)
	p.draw(true)
	fmt.Fprint(out, "after\n")
	want := eraseLine + line + eraseLine + "a line\nand half" + " of one\n" +
		eraseLine + line + eraseLine + line + eraseLine + "after\n"
	if got := w.String(); got != want {
		t.Errorf("terminal got %q, want %q", got, want)
	}
}

// ptyPair opens a pseudo-terminal of cols columns and returns its master
// side, the slave side (the terminal msnsniff writes to), and a function
// that returns all the master read from the slave once the slave has
// written what it had to.
func ptyPair(t *testing.T, cols uint16) (tty *os.File, drain func() string) {
	t.Helper()
	t.Setenv("TERM", "xterm")
	master, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	if err := pty.Setsize(master, &pty.Winsize{Rows: 24, Cols: cols}); err != nil {
		t.Fatal(err)
	}
	var got lockedBuffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(&got, master) // until the slave is closed
	}()
	const sentinel = "<end of test output>"
	drain = func() string {
		if _, err := io.WriteString(tty, sentinel); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the output through the pseudo-terminal", func() bool { return strings.Contains(got.String(), sentinel) })
		tty.Close()
		<-done
		master.Close()
		s, _, _ := strings.Cut(got.String(), sentinel)
		// The terminal turns "\n" into "\r\n".
		return strings.ReplaceAll(s, "\r\n", "\n")
	}
	t.Cleanup(func() {
		tty.Close()
		master.Close()
	})
	return tty, drain
}

// runReport runs msnsniff -T json on args with stdout and stderr buffers,
// and returns its report's packets and sessions.
func runReport(t *testing.T, stdin []byte, args ...string) (stdout string, packets, sessions int64) {
	t.Helper()
	out, stderr, code := runCLI(t, stdin, append([]string{"-T", "json"}, args...)...)
	if code != exitOK || stderr != "" {
		t.Fatalf("msnsniff %s: exit %d, stderr %q", strings.Join(args, " "), code, stderr)
	}
	var rep struct {
		Capture  struct{ Packets int64 }
		Sessions []json.RawMessage
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	return out, rep.Capture.Packets, int64(len(rep.Sessions))
}

// progressDraw matches a drawing of the progress line, or its erasure.
var progressDraw = regexp.MustCompile("\r\x1b\\[K(msnsniff: [^\r\n\x1b]*)?")

// splitProgress returns the progress lines drawn on a terminal that got
// term, and what else it got. Each line must be erased before anything
// else is written, and the last one at the end.
func splitProgress(t *testing.T, term string) (lines []string, rest string) {
	t.Helper()
	for _, m := range progressDraw.FindAllStringSubmatchIndex(term, -1) {
		if m[2] < 0 {
			continue
		}
		lines = append(lines, term[m[2]:m[3]])
		if !strings.HasPrefix(term[m[1]:], eraseLine) {
			t.Errorf("progress line %q followed by %q, want it erased first", term[m[2]:m[3]], term[m[1]:min(m[1]+20, len(term))])
		}
	}
	if len(lines) == 0 {
		t.Fatalf("no progress line on the terminal: %q", term)
	}
	return lines, progressDraw.ReplaceAllString(term, "")
}

// TestProgressTerminal runs msnsniff with stderr on a pseudo-terminal: the
// line shows bytes and percent of both files, packets, sessions and rate,
// is erased at the end, and goes nowhere else.
func TestProgressTerminal(t *testing.T) {
	files := []string{"msnp2-chat.pcap", "gateway-msnp2-chat.pcap"}
	var size int64
	args := []string{"-T", "json"}
	for _, f := range files {
		fi, err := os.Stat(testdata + f)
		if err != nil {
			t.Fatal(err)
		}
		size += fi.Size()
		args = append(args, "-r", testdata+f)
	}
	want, packets, sessions := runReport(t, nil, args[2:]...)
	if packets < 100 || sessions < 2 {
		t.Fatalf("report of %v: %d packets, %d sessions; want a test with more", files, packets, sessions)
	}

	tty, drain := ptyPair(t, 200)
	var stdout bytes.Buffer
	code := run(args, nil, &stdout, tty)
	got := drain()
	if code != exitOK {
		t.Errorf("exit %d", code)
	}
	if stdout.String() != want {
		t.Errorf("stdout differs with the progress line on stderr:\n%s", stdout.String())
	}
	lines, rest := splitProgress(t, got)
	last := lines[len(lines)-1]
	wantLine := regexp.MustCompile(fmt.Sprintf(`^msnsniff: %s of %s \(100\.0%%\)  %s packets  %s sessions  \d+(\.\d)? [kMG]?B/s  ETA 0:00$`,
		regexp.QuoteMeta(formatBytes(size)), regexp.QuoteMeta(formatBytes(size)), formatCount(packets), formatCount(sessions)))
	if !wantLine.MatchString(last) {
		t.Errorf("last progress line %q, want one matching %s", last, wantLine)
	}
	if !strings.HasSuffix(got, last+eraseLine) {
		t.Errorf("terminal ends %q, want the line erased", got[len(got)-min(len(got), 200):])
	}
	if rest != "" {
		t.Errorf("terminal got %q besides the progress line", rest)
	}
}

// TestProgressNarrowTerminal checks that the line is cut to the width of
// the terminal, lest it wrap.
func TestProgressNarrowTerminal(t *testing.T) {
	tty, drain := ptyPair(t, 40)
	var stdout bytes.Buffer
	if code := run([]string{"-T", "json", testdata + "msnp2-chat.pcap"}, nil, &stdout, tty); code != exitOK {
		t.Errorf("exit %d", code)
	}
	lines, _ := splitProgress(t, drain())
	for _, l := range lines {
		if len(l) != 39 {
			t.Errorf("progress line %q on a terminal of 40 columns, want 39 columns", l)
		}
	}
}

// TestProgressStdin checks the line without a size: no percent, no ETA.
func TestProgressStdin(t *testing.T) {
	capture, err := os.ReadFile(testdata + "msnp2-chat.pcap")
	if err != nil {
		t.Fatal(err)
	}
	_, packets, sessions := runReport(t, capture, "-r", "-")
	tty, drain := ptyPair(t, 200)
	var stdout bytes.Buffer
	if code := run([]string{"-T", "json", "-r", "-"}, bytes.NewReader(capture), &stdout, tty); code != exitOK {
		t.Errorf("exit %d", code)
	}
	lines, rest := splitProgress(t, drain())
	if rest != "" {
		t.Errorf("terminal got %q besides the progress line", rest)
	}
	wantLine := regexp.MustCompile(fmt.Sprintf(`^msnsniff: %s  %s packets  %s sessions  \d+(\.\d)? [kMG]?B/s$`,
		regexp.QuoteMeta(formatBytes(int64(len(capture)))), formatCount(packets), formatCount(sessions)))
	if last := lines[len(lines)-1]; !wantLine.MatchString(last) {
		t.Errorf("last progress line %q, want one matching %s", last, wantLine)
	}
}

// TestProgressSharedTerminal runs msnsniff with stdout and stderr on the
// same terminal: the output is whole once the progress lines are taken
// out, and no output byte follows a progress line before it is erased.
func TestProgressSharedTerminal(t *testing.T) {
	args := []string{"-T", "ndjson", "-l", testdata + "msnp2-chat.pcap"}
	want, stderr, code := runCLI(t, nil, args...)
	if code != exitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	tty, drain := ptyPair(t, 200)
	if code := run(args, nil, tty, tty); code != exitOK {
		t.Errorf("exit %d", code)
	}
	if _, rest := splitProgress(t, drain()); rest != want {
		t.Errorf("output on the shared terminal, the progress lines taken out:\n%s\nwant:\n%s", rest, want)
	}
}

// TestProgressOff checks that no progress line is drawn when stderr is a
// pipe, a file, or a terminal and -q is given, and never on stdout.
func TestProgressOff(t *testing.T) {
	capture := testdata + "msnp2-chat.pcap"
	want, _, _ := runReport(t, nil, capture)
	check := func(t *testing.T, stderr *os.File, args ...string) {
		t.Helper()
		var stdout bytes.Buffer
		if code := run(append([]string{"-T", "json"}, append(args, capture)...), nil, &stdout, stderr); code != exitOK {
			t.Errorf("exit %d", code)
		}
		if stdout.String() != want {
			t.Errorf("stdout differs: %q", stdout.String())
		}
	}
	t.Run("pipe", func(t *testing.T) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		check(t, w)
		w.Close()
		if got, err := io.ReadAll(r); err != nil || len(got) != 0 {
			t.Errorf("stderr, a pipe, got %q (%v), want nothing", got, err)
		}
	})
	t.Run("file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "stderr")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		check(t, f)
		if got, err := os.ReadFile(path); err != nil || len(got) != 0 {
			t.Errorf("stderr, a file, got %q (%v), want nothing", got, err)
		}
	})
	t.Run("quiet", func(t *testing.T) {
		tty, drain := ptyPair(t, 200)
		check(t, tty, "-q")
		if got := drain(); got != "" {
			t.Errorf("stderr, a terminal, with -q got %q, want nothing", got)
		}
	})
	t.Run("dumb terminal", func(t *testing.T) {
		tty, drain := ptyPair(t, 200)
		t.Setenv("TERM", "dumb")
		check(t, tty)
		if got := drain(); got != "" {
			t.Errorf("stderr, a dumb terminal, got %q, want nothing", got)
		}
	})
}
