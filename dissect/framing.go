package dissect

import (
	"bytes"
	"time"
)

// lineSink receives what a framer cuts out of one direction's bytes.
type lineSink interface {
	// line is called with one complete line, its LF included. It returns
	// the number of payload bytes announced by the line, -1 for none, or
	// -3 when the line cannot be trusted to frame what follows (an
	// announced length above the limit) and the framer must resynchronise.
	// line is a view valid only during the call. inSync is false while the
	// framer is resynchronising; the sink then says whether the line is
	// a plausible command (return >= -1) or must be skipped (return -2).
	line(t time.Time, off int64, line []byte, inSync bool) int
	// payload delivers the next bytes of the current payload (a view).
	payload(b []byte)
	// payloadEnd says the current payload is over; lost counts bytes of it
	// that were never captured.
	payloadEnd(t time.Time, lost int)
	// event reports a framing anomaly at stream offset off.
	event(kind string, t time.Time, off int64, n int, detail string, quote []byte)
}

// framer splits one direction of an MSNP stream into lines and payloads,
// wherever segment boundaries fall (msnp-grammar.md §1): a line ends in
// CRLF; a payload is exactly the announced number of bytes and no line end
// follows it. Memory is bounded by the maximum line length.
type framer struct {
	maxLine int
	off     int64 // stream offset of the next byte fed
	partial []byte
	pOff    int64     // offset of partial's first byte
	pTime   time.Time // time of partial's first byte
	cut     bool      // discarding the rest of an over-long line
	need    int       // payload bytes still expected
	lost    int       // payload bytes lost to gaps
	sync    bool      // false: skipping to the next plausible command
	skipped int       // bytes skipped while out of sync, not yet reported
	skipOff int64
	skipT   time.Time
}

func newFramer(maxLine int, inSync bool) framer {
	return framer{maxLine: maxLine, sync: inSync}
}

// feed consumes b, which arrived at time t.
func (f *framer) feed(s lineSink, t time.Time, b []byte) {
	for len(b) > 0 {
		if f.need > 0 {
			k := min(f.need, len(b))
			s.payload(b[:k])
			f.need -= k
			f.off += int64(k)
			b = b[k:]
			if f.need == 0 {
				s.payloadEnd(t, f.lost)
				f.lost = 0
			}
			continue
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			f.keep(s, t, b)
			return
		}
		seg := b[:i+1]
		b = b[i+1:]
		if f.cut {
			f.cut = false
			f.off += int64(len(seg))
			continue
		}
		var line []byte
		var off int64
		lt := t
		if len(f.partial) > 0 {
			if len(f.partial)+len(seg) > f.maxLine {
				f.tooLong(s, lt)
				f.partial = f.partial[:0]
				f.off += int64(len(seg))
				continue
			}
			f.partial = append(f.partial, seg...)
			line, off, lt = f.partial, f.pOff, f.pTime
		} else {
			if len(seg) > f.maxLine {
				f.pOff, f.pTime, f.partial = f.off, t, append(f.partial[:0], seg[:f.maxLine]...)
				f.tooLong(s, t)
				f.partial = f.partial[:0]
				f.off += int64(len(seg))
				continue
			}
			line, off = seg, f.off
		}
		f.off += int64(len(seg))
		n := s.line(lt, off, line, f.sync)
		f.partial = f.partial[:0]
		if n == -3 {
			f.sync = false
			continue
		}
		if n == -2 {
			if f.skipped == 0 {
				f.skipOff, f.skipT = off, lt
			}
			f.skipped += len(line)
			continue
		}
		if !f.sync {
			f.resynced(s, lt)
		}
		if n > 0 {
			f.need = n
		} else if n == 0 {
			s.payloadEnd(lt, 0)
		}
	}
}

// keep holds an incomplete line until its LF arrives.
func (f *framer) keep(s lineSink, t time.Time, b []byte) {
	if f.cut {
		f.off += int64(len(b))
		return
	}
	if len(f.partial) == 0 {
		f.pOff, f.pTime = f.off, t
	}
	if len(f.partial)+len(b) > f.maxLine {
		f.partial = append(f.partial, b[:f.maxLine-len(f.partial)]...)
		f.tooLong(s, t)
		f.partial = f.partial[:0]
		f.cut = true
		f.off += int64(len(b))
		return
	}
	f.partial = append(f.partial, b...)
	f.off += int64(len(b))
}

func (f *framer) tooLong(s lineSink, t time.Time) {
	s.event("line_too_long", f.pTime, f.pOff, len(f.partial), "line longer than the limit; skipped to the next LF", f.partial)
}

func (f *framer) resynced(s lineSink, t time.Time) {
	f.sync = true
	if f.skipped > 0 {
		s.event("resync", f.skipT, f.skipOff, f.skipped, "bytes skipped before the next command line", nil)
		f.skipped = 0
	}
}

// gap accounts for n bytes that were never captured at time t; n 0 means
// an unknown number. A gap of known size that fits inside a payload of
// known length is skipped by length and framing stays in sync. Any other
// gap ends the current payload (the rest of it counts as lost: it was not
// received as part of it) and cuts the current line, and framing
// resynchronises at the next plausible command line: a gap of unknown
// size may have held the payload's end, and the next command's start.
// The stream offset moves past a gap of known size only.
func (f *framer) gap(s lineSink, t time.Time, n int) {
	n = max(n, 0)
	if f.need > 0 {
		if n > 0 && n <= f.need {
			// Inside a payload of known length: skip it and stay in sync.
			f.need -= n
			f.lost += n
			f.off += int64(n)
			if f.need == 0 {
				s.payloadEnd(t, f.lost)
				f.lost = 0
			}
			return
		}
		if n > 0 {
			n -= f.need
			f.off += int64(f.need)
		}
		f.lost += f.need
		f.need = 0
		s.payloadEnd(t, f.lost)
		f.lost = 0
	}
	if len(f.partial) > 0 {
		s.event("truncated_line", f.pTime, f.pOff, len(f.partial), "line cut by a gap", f.partial)
		f.partial = f.partial[:0]
	}
	f.cut = false
	f.off += int64(n)
	f.sync = false
}

// end reports what is left unfinished when the stream ends.
func (f *framer) end(s lineSink, t time.Time) {
	if f.need > 0 {
		f.lost += f.need
		f.need = 0
		s.payloadEnd(t, f.lost)
		f.lost = 0
	}
	if len(f.partial) > 0 && !f.cut {
		s.event("truncated_line", f.pTime, f.pOff, len(f.partial), "stream ended inside a line", f.partial)
		f.partial = f.partial[:0]
	}
	if f.skipped > 0 {
		s.event("resync", f.skipT, f.skipOff, f.skipped, "bytes skipped and no command line followed", nil)
		f.skipped = 0
	}
}
