package report

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/msnsniff/msnsniff/dissect"
)

// Format names an output format.
type Format string

// The output formats.
const (
	FormatTable      Format = "table"
	FormatJSON       Format = "json"
	FormatNDJSON     Format = "ndjson"
	FormatTranscript Format = "transcript"
)

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case FormatTable, FormatJSON, FormatNDJSON, FormatTranscript:
		return f, nil
	}
	return "", fmt.Errorf("unknown format %q (want table, json, ndjson or transcript)", s)
}

// Options control the renderers.
type Options struct {
	Format Format
	// Raw turns off the escaping of wire strings in text output.
	Raw bool
	// Verbose adds detail: every transaction in tables, times in
	// transcripts.
	Verbose bool
	// Flush makes streaming formats flush after each record (live use).
	Flush bool
	// Chats makes the table format print only the conversations, as
	// "time · sender · text" per message.
	Chats bool
	// StreamTables makes the table format print each session's details as
	// the session ends (live capture); Close then prints the capture line,
	// the overview, the conversations and the users without repeating the
	// details.
	StreamTables bool
	// Redact replaces credentials (authentication responses, tickets,
	// nonces, Passport cookies, switchboard cookies) with Redacted tokens
	// in command arguments and payloads.
	Redact bool
}

// maxPooledPayload is the largest payload buffer of a command copy kept
// for reuse; larger ones are left to the collector.
const maxPooledPayload = 16 << 10

// Output renders the dissector's results. It is a dissect.Handler: the
// streaming formats (ndjson, transcript) write as results arrive; json and
// table spool each session once it is final (jsonstream.go) and write at
// Close.
type Output struct {
	opt       Options
	w         *bufio.Writer
	err       error
	nd        *ndjsonWriter
	tr        *transcriptWriter
	js        *jsonReport
	anomalies map[string]int64
	// wk renders NDJSON and JSON on its own goroutine (async.go); werr is
	// its first error, read after wk.wait.
	wk   *worker
	werr error
	// cmds recycles the worker's copies of commands (Command).
	cmds sync.Pool
	// held are ended sessions whose record waits until no later
	// connection can link to them (dissect.Session.AwaitingLinks, at most
	// dissect.LinkWindow of packet time), so that
	// the NDJSON session record is the final one, the same as in -T json.
	// With Flush (live capture, -l) records are written at once instead:
	// a referral followed later then shows only in the later session's
	// parent.
	held []*dissect.Session
	// heldFirst is the earliest end of the held sessions, and settled
	// the dissector's LinksSettled when they were last looked at.
	heldFirst time.Time
	settled   uint64
	now       time.Time     // newest packet time of a command or session end
	tp        *tablePrinter // of the tables printed as sessions end (live)
}

// NewOutput returns an Output writing to w.
func NewOutput(w io.Writer, opt Options) *Output {
	o := &Output{opt: opt, w: bufio.NewWriterSize(w, 64<<10)}
	switch opt.Format {
	case FormatNDJSON:
		o.nd = newNDJSONWriter(o.w)
		if !opt.Flush {
			o.wk = newWorker(o.render)
		}
	case FormatTranscript:
		o.tr = &transcriptWriter{w: o.w, raw: opt.Raw, verbose: opt.Verbose}
		if !opt.Flush {
			o.wk = newWorker(o.render)
		}
	case FormatJSON, FormatTable:
		// Tables are written from the JSON report's spool too, which
		// then holds sessions and conversations as the tables show them
		// (tablespool.go), read back one at a time.
		o.js = newJSONReport()
		if opt.Format == FormatTable {
			o.js.tab = newTableSpool(opt)
		}
		o.wk = newWorker(o.js.encode)
		o.js.emit = o.wk.put
	}
	return o
}

// render writes one NDJSON record or a command of the transcript, on the
// worker's goroutine.
func (o *Output) render(e *event) {
	if o.werr != nil {
		return
	}
	n := o.nd
	switch e.kind {
	case evCommand:
		if o.tr != nil {
			// Only the session's ID and connection are read, which do
			// not change once it is open.
			o.werr = o.tr.command(e.s, e.c, e.complete)
		} else {
			o.werr = n.command(e.c)
		}
		if cap(e.c.Payload) <= maxPooledPayload {
			o.cmds.Put(e.c)
		}
	case evAnomaly:
		o.werr = n.anomaly(e.id, e.a)
	case evSession:
		o.werr = n.session(e.s)
	case evSessionReport:
		r := SessionRecord{Type: "session", Session: *e.r}
		o.werr = n.write(appendSessionRecord(n.buf[:0], &r))
	}
}

// Command implements dissect.Handler.
func (o *Output) Command(s *dissect.Session, c *dissect.Command) {
	if o.err != nil {
		return
	}
	if o.js != nil {
		o.js.command(s, c)
		return
	}
	if c.Time.After(o.now) {
		o.now = c.Time
	}
	// The held sessions are looked at again only when one of them may
	// have become free: a link was followed or forgotten since, or the
	// oldest has waited LinkWindow. Looking at every command cost a
	// cache miss per held session per command (1 s on the 1 GB capture).
	if len(o.held) > 0 {
		if g := s.LinksSettled(); g != o.settled || o.now.Sub(o.heldFirst) > dissect.LinkWindow {
			o.settled = g
			o.release(false)
		}
	}
	// Whether the payload was wholly captured is decided before
	// redaction, which changes its length.
	complete := c.PayloadLen <= 0 || (len(c.Payload) >= c.PayloadLen && c.PayloadLost == 0)
	if o.opt.Redact {
		c = redactCommand(c)
	}
	switch {
	case o.wk != nil:
		// The worker writes it later: the dissector reuses c, so the
		// worker gets a copy, which it gives back once written.
		x, _ := o.cmds.Get().(*dissect.Command)
		if x == nil {
			x = new(dissect.Command)
		}
		c.CloneInto(x)
		e := event{kind: evCommand, c: x}
		if o.tr != nil {
			e.s, e.complete = s, complete
		}
		o.wk.put(e)
		return
	case o.nd != nil:
		o.setErr(o.nd.command(c))
	case o.tr != nil:
		o.setErr(o.tr.command(s, c, complete))
	default:
		return
	}
	if o.opt.Flush {
		o.setErr(o.w.Flush())
	}
}

// Anomaly implements dissect.Handler.
func (o *Output) Anomaly(s *dissect.Session, a *dissect.Anomaly) {
	if o.anomalies == nil {
		o.anomalies = map[string]int64{}
	}
	o.anomalies[a.Kind]++
	if o.err != nil || o.nd == nil {
		return
	}
	if len(o.held) > 0 {
		o.release(false)
	}
	if o.wk != nil {
		o.wk.put(event{kind: evAnomaly, id: s.ID, a: a})
		return
	}
	o.setErr(o.nd.anomaly(s.ID, a))
}

// SessionEnd implements dissect.Handler.
func (o *Output) SessionEnd(s *dissect.Session) {
	if o.err != nil {
		return
	}
	if s.EndTime.After(o.now) {
		o.now = s.EndTime
	}
	o.settled = s.LinksSettled()
	switch {
	case o.nd != nil:
		o.held = append(o.held, s)
		o.release(false)
	case o.tr != nil:
	case o.js != nil:
		if o.opt.Format == FormatTable && o.opt.StreamTables && !o.opt.Chats {
			o.held = append(o.held, s)
			o.release(false)
		}
		o.js.sessionEnd(s)
	}
}

// release renders the held sessions that no connection can link to any
// more, in the order they ended; all of them when closing.
func (o *Output) release(closing bool) {
	kept := o.held[:0]
	for _, s := range o.held {
		if !closing && !o.opt.Flush && s.AwaitingLinks() > 0 && o.now.Sub(s.EndTime) <= dissect.LinkWindow {
			kept = append(kept, s)
			continue
		}
		switch {
		case o.nd == nil:
			// A table printed as the session ends (live).
			if o.tp == nil {
				o.tp = &tablePrinter{w: o.w, raw: o.opt.Raw}
			}
			r := NewSession(s)
			o.tp.session(&r, o.opt.Verbose)
			o.setErr(o.tp.err)
			o.setErr(o.w.Flush())
		case o.wk != nil && !closing && s.AwaitingLinks() > 0:
			// Given up waiting, but a connection delivered late could
			// still link to s while the worker reads it: hand over a copy.
			r := NewSession(s)
			o.wk.put(event{kind: evSessionReport, r: &r})
		case o.wk != nil:
			o.wk.put(event{kind: evSession, s: s})
		default:
			o.setErr(o.nd.session(s))
			if o.opt.Flush {
				o.setErr(o.w.Flush())
			}
		}
	}
	clear(o.held[len(kept):])
	o.held = kept
	o.heldFirst = time.Time{}
	for i, s := range kept {
		if i == 0 || s.EndTime.Before(o.heldFirst) {
			o.heldFirst = s.EndTime
		}
	}
}

// AnomalyTotals counts every anomaly reported so far, by kind, in name
// order, whatever the format.
func (o *Output) AnomalyTotals() []Count {
	out := make([]Count, 0, len(o.anomalies))
	for k, n := range o.anomalies {
		out = append(out, Count{Name: k, Count: n})
	}
	slices.SortFunc(out, func(a, b Count) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// Close writes what is written at the end — the JSON document, the
// tables, or the NDJSON summary — and flushes. It returns the first write
// error.
func (o *Output) Close(c Capture) error {
	if o.js != nil {
		o.js.close()
	}
	if len(o.held) > 0 && o.err == nil {
		o.release(true)
	}
	if o.wk != nil {
		o.wk.wait()
		o.wk = nil
		o.setErr(o.werr)
	}
	if o.err != nil {
		return o.err
	}
	switch o.opt.Format {
	case FormatJSON:
		o.setErr(o.js.write(o.w, c))
	case FormatTable:
		o.setErr(o.js.writeTables(o.w, c, o.opt))
	case FormatNDJSON:
		o.setErr(o.nd.summary(c))
	}
	o.setErr(o.w.Flush())
	return o.err
}

func (o *Output) setErr(err error) {
	if err != nil && o.err == nil {
		o.err = err
	}
}
