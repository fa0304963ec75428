package main

import (
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/msnsniff/msnsniff/dissect"
	"github.com/msnsniff/msnsniff/reassembly"
	"golang.org/x/term"
)

// progressInterval is how often the progress line is redrawn: four times a
// second moves smoothly enough to watch, and each redraw costs a few atomic
// loads and one write to the terminal.
const progressInterval = 250 * time.Millisecond

// eraseLine goes back to the start of the line and erases it: a carriage
// return, then ECMA-48 EL (erase to the end of the line), which every
// terminal but "dumb" knows. The progress line is drawn after it, and
// erased with it.
const eraseLine = "\r\x1b[K"

// progress draws a progress line on stderr while capture files are read:
// bytes read and percent of the files' total size, packets, sessions, rate
// and time left, e.g.
//
//	msnsniff: 123.4 MB of 200.0 MB (61.7%)  712,345 packets  18,204 sessions  41.2 MB/s  ETA 0:02
//
// It redraws the line from its own goroutine every progressInterval,
// reading counters that the reading goroutines keep atomically, once per
// read of a file and once per session, never per packet. Percent and ETA are left out when a size is
// not known (stdin). A nil *progress draws nothing: all its methods may be
// called on nil.
type progress struct {
	w        io.Writer // the terminal
	fd       int       // of w, for its width
	sources  []*reassembly.Source
	sessions atomic.Int64 // Open calls of the Sink
	now      func() time.Time
	start    time.Time

	quit   chan struct{}
	exited chan struct{}

	mu      sync.Mutex // guards what follows, and the writes to the terminal
	drawn   bool       // the line is on the screen
	midLine bool       // the output shares the terminal and ended inside a line
	stopped bool
	failed  bool // a write to the terminal failed: draw no more
}

// startProgress starts the progress line of a read of sources on stderr. It
// returns nil, and draws nothing, when quiet, when there is nothing to
// read, when stderr is not a terminal, or when the terminal is "dumb" (no
// cursor control). Call stop when the read is done, before anything else
// is written to stderr.
func startProgress(stderr io.Writer, sources []*reassembly.Source, quiet bool) *progress {
	if quiet || len(sources) == 0 {
		return nil
	}
	f, ok := stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) || os.Getenv("TERM") == "dumb" {
		return nil
	}
	p := newProgress(f, int(f.Fd()), sources, time.Now)
	go p.loop(time.NewTicker(progressInterval))
	return p
}

// newProgress returns a progress line on w (a terminal of descriptor fd, or
// -1 to never cut the line to a width), not yet started.
func newProgress(w io.Writer, fd int, sources []*reassembly.Source, now func() time.Time) *progress {
	return &progress{w: w, fd: fd, sources: sources, now: now, start: now(),
		quit: make(chan struct{}), exited: make(chan struct{})}
}

// loop redraws the line at every tick until stop.
func (p *progress) loop(t *time.Ticker) {
	defer close(p.exited)
	defer t.Stop()
	for {
		select {
		case <-p.quit:
			return
		case <-t.C:
			p.draw(false)
		}
	}
}

// stop ends the progress line: it is drawn a last time, with the final
// counts, and erased, so that what follows on stderr starts on a clean line.
func (p *progress) stop() {
	if p == nil {
		return
	}
	close(p.quit)
	<-p.exited
	p.draw(true)
}

// draw redraws the line, and erases it after when last.
func (p *progress) draw(last bool) {
	line := p.line()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped || p.failed {
		return
	}
	p.stopped = last
	if p.midLine {
		// Drawing now would overwrite the start of an output line.
		return
	}
	if p.fd >= 0 {
		if width, _, err := term.GetSize(p.fd); err == nil && width > 1 && len(line) >= width {
			// A line as wide as the terminal wraps, and \r would then
			// redraw only its last row.
			line = line[:width-1]
		}
	}
	s := eraseLine + line
	if last {
		s += eraseLine
	}
	if _, err := io.WriteString(p.w, s); err != nil {
		p.failed = true
		return
	}
	p.drawn = !last
}

// line returns the progress line with the counts now.
func (p *progress) line() string {
	var read, size, packets int64
	for _, s := range p.sources {
		r, n, k := s.Progress()
		read += r
		packets += k
		if size >= 0 {
			size += n
		}
		if n < 0 {
			size = -1
		}
	}
	return formatProgress(read, size, packets, p.sessions.Load(), p.now().Sub(p.start))
}

// formatProgress formats the progress line: read bytes of size (-1 when
// not known), packets and sessions so far, elapsed time since the start.
func formatProgress(read, size, packets, sessions int64, elapsed time.Duration) string {
	var b strings.Builder
	b.WriteString("msnsniff: ")
	b.WriteString(formatBytes(read))
	if size >= 0 {
		pct := 100.0
		if size > 0 && read < size {
			pct = float64(read) * 100 / float64(size)
		}
		b.WriteString(" of " + formatBytes(size) + " (" + strconv.FormatFloat(pct, 'f', 1, 64) + "%)")
	}
	b.WriteString("  " + formatCount(packets) + " packets  " + formatCount(sessions) + " sessions")
	if elapsed <= 0 || read <= 0 {
		return b.String()
	}
	rate := float64(read) / elapsed.Seconds()
	b.WriteString("  " + formatBytes(int64(rate)) + "/s")
	if size >= 0 {
		left := time.Duration(float64(max(size-read, 0)) / rate * float64(time.Second))
		b.WriteString("  ETA " + formatETA(left))
	}
	return b.String()
}

// formatBytes writes n bytes in decimal units with one decimal: "512 B",
// "4.9 kB", "123.4 MB", "1.2 GB".
func formatBytes(n int64) string {
	const units = "kMGTPE"
	if n < 1000 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, i := float64(n)/1000, 0
	// Round first, so that 999,960 bytes is "1.0 MB", not "1000.0 kB".
	for v >= 999.95 && i < len(units)-1 {
		v /= 1000
		i++
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + units[i:i+1] + "B"
}

// formatCount writes n, not negative, with a comma between thousands:
// "712,345".
func formatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// formatETA writes d, rounded up to the second, as m:ss, or h:mm:ss from an
// hour on.
func formatETA(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	h, m, sec := s/3600, s/60%60, s%60
	pad := func(n int64) string {
		if n < 10 {
			return "0" + strconv.FormatInt(n, 10)
		}
		return strconv.FormatInt(n, 10)
	}
	if h > 0 {
		return strconv.FormatInt(h, 10) + ":" + pad(m) + ":" + pad(sec)
	}
	return strconv.FormatInt(m, 10) + ":" + pad(sec)
}

// sink returns s, counting the sessions it opens for the line.
func (p *progress) sink(s reassembly.Sink) reassembly.Sink {
	if p == nil {
		return s
	}
	return countingSink{s: s, n: &p.sessions}
}

// countingSink counts the connections its Sink is given to open.
type countingSink struct {
	s reassembly.Sink
	n *atomic.Int64
}

// Open implements reassembly.Sink.
func (c countingSink) Open(ci dissect.ConnInfo) reassembly.Stream {
	c.n.Add(1)
	return c.s.Open(ci)
}

// output returns w, the report's output, so that it can share the terminal
// with the line: when w is a terminal, each write first erases the line,
// and the line is not drawn again while w's output ends inside a line.
func (p *progress) output(w io.Writer) io.Writer {
	if p == nil {
		return w
	}
	if f, ok := w.(*os.File); !ok || !term.IsTerminal(int(f.Fd())) {
		return w
	}
	return &sharedOutput{w: w, p: p}
}

// sharedOutput is an output that shares the terminal with the progress
// line.
type sharedOutput struct {
	w io.Writer
	p *progress
}

func (o *sharedOutput) Write(b []byte) (int, error) {
	p := o.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		if _, err := io.WriteString(p.w, eraseLine); err != nil {
			p.failed = true
		}
		p.drawn = false
	}
	n, err := o.w.Write(b)
	if n > 0 {
		p.midLine = b[n-1] != '\n'
	}
	return n, err
}
