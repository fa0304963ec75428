package report

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/msnsniff/msnsniff/dissect"
)

// The JSON report is one document whose sessions are sorted by start and
// whose conversations and users are built from all sessions. Keeping every
// session until the end made -T json hold the whole capture's analysis in
// memory (6.8 GiB for a 1 GB capture). Instead, jsonReport encodes each
// session once it is final, and each conversation once all its sessions
// are, into a spool (memory, then an unlinked temporary file), records
// where in an index sorted on disk (index.go), and copies them into the
// document, in order, at Close. The document is byte for byte the one
// writeJSON writes from all sessions at once (TestJSONStreamMatchesBatch).

const (
	// convGrace is how long, in packet time, a conversation whose
	// sessions have all ended waits for another session of the same chat
	// (a participant's connection ending later, a late ANS, or one that
	// reassembly delivers late: a connection whose first segment was lost
	// can reach the dissector a minute after it started).
	convGrace = 30 * time.Second
	// sweepEvery is how often, in packet time, conversations are checked
	// for completion.
	sweepEvery = time.Second
)

// spoolMemory is how much encoded JSON each spool (the pieces, the index)
// keeps in memory before it moves to a temporary file (a variable for the
// tests). Small, because a held megabyte is two of peak RSS under the
// collector's default pacing: a report under 1 MiB (a capture of a few
// sessions) never touches the disk, and a larger one goes to the file
// early, where 8 MiB held 16 MiB more RSS throughout a long run.
var spoolMemory = 1 << 20

// jsonReport builds the JSON document as sessions end.
type jsonReport struct {
	sp  spool
	buf []byte // an encoding, reused
	// ind indents sessions and conversations as elements of the
	// document's top-level arrays.
	ind *indenter
	// merge builds the conversations, reusing its buffers; txs holds the
	// transactions of the session being encoded.
	merge   merger
	txs     []Transaction
	now     time.Time // newest packet time seen
	swept   time.Time
	pending []*dissect.Session // ended, still awaiting links (Session.AwaitingLinks)
	groups  map[string]*convGroup
	order   []*convGroup // groups not yet final, in creation order
	// endOrd numbers the sessions in the order they ended, until final;
	// a conversation's seq is the smallest of its sessions'.
	endOrd map[int]int
	ends   int
	// finals and finalConvs count the sessions and conversations made
	// final so far.
	finals, finalConvs int
	keyOf              map[int]string // open switchboard sessions' conversation keys, by session ID
	openKeys           map[string]int // switchboard sessions of each key not yet final
	// users holds the user records (users.go) until Close; urec is a
	// buffer for them.
	users recordSorter
	urec  []byte
	// idx holds the index records of the spooled sessions and
	// conversations (index.go) until Close, which sorts them (entries)
	// into sessIdx and convIdx; rec is a buffer for them.
	idx              spool
	entries          recordSorter
	sessIdx, convIdx posIndex
	rec              []byte
	// Set at Close: the capture, and a buffer for reading pieces back
	// (tables).
	cap Capture
	rb  []byte
	err error
	// tab, for the table format, spools sessions as the tables show
	// them instead of as JSON (tablespool.go).
	tab *tableSpool
	// emit hands final sessions and conversations to the encoding side
	// (jsonReport.encode), on the worker goroutine when there is one.
	// Only the encoding side touches sp, enc, entries, users and err
	// until Close.
	emit func(event)
}

// stamp is a time.Time without its location, ordered as Time.Compare
// orders times.
type stamp struct {
	sec  int64
	nsec int32
}

func stampOf(t time.Time) stamp { return stamp{t.Unix(), int32(t.Nanosecond())} }

func (a stamp) compare(b stamp) int {
	if c := cmp.Compare(a.sec, b.sec); c != 0 {
		return c
	}
	return cmp.Compare(a.nsec, b.nsec)
}

type convGroup struct {
	key     string
	seq     int
	start   time.Time
	lastEnd time.Time
	ss      []*dissect.Session
}

// piece is where a spooled encoding is.
type piece struct {
	off int64
	n   int
}

func newJSONReport() *jsonReport {
	j := &jsonReport{groups: map[string]*convGroup{}, keyOf: map[int]string{}, endOrd: map[int]int{}, openKeys: map[string]int{},
		ind: newIndenter("    ", "  ")}
	j.emit = func(e event) { j.encode(&e) }
	return j
}

// encode is the encoding side: it spools a final session or conversation.
func (j *jsonReport) encode(e *event) {
	switch e.kind {
	case evJSONSession:
		s := e.s
		r := newSession(s, j.txs)
		if j.tab != nil {
			j.buf = j.tab.appendSession(j.buf[:0], &r)
		} else {
			j.buf = appendSession(j.ind, j.buf[:0], &r)
		}
		// The transactions are done with: clearing them lets their
		// strings go.
		clear(r.Transactions)
		j.txs = r.Transactions[:0]
		off, n := j.put(j.buf, nil)
		user := ""
		if s.Auth != nil {
			user = s.Auth.User
		}
		j.index(recSession, stampOf(s.StartTime), s.ID, off, n, user)
		j.user(s)
	case evJSONConv:
		c := j.merge.conversation(e.ss)
		var off int64
		var n int
		switch {
		case j.tab == nil:
			j.buf = appendConversation(j.ind, j.buf[:0], &c)
			off, n = j.put(j.buf, []byte(`{`+"\n"+`      "id": 0`))
		case j.tab.chats:
			j.buf = j.tab.appendChat(j.buf[:0], &c)
			off, n = j.put(j.buf, nil)
		default:
			// The tables show only the conversation's row.
			off, n = j.put(nil, nil)
		}
		users := make([]string, len(c.Participants))
		for i, p := range c.Participants {
			users[i] = p.User
		}
		j.putConvRow(&c, users)
		j.index(recConv, stampOf(e.start), e.seq, off, n, users...)
	}
}

// convKey is the conversation a switchboard session belongs to, "" when it
// is alone in its own (no session id seen).
func convKey(s *dissect.Session) string {
	if s.Chat == nil || s.Chat.SessionID == "" {
		return ""
	}
	return conversationKey(s)
}

// command notes what a command of an open session tells: the packet time,
// and the chat a switchboard session belongs to once its session id is
// known (ANS, CAL's RINGING reply).
func (j *jsonReport) command(s *dissect.Session, c *dissect.Command) {
	if c.Time.After(j.now) {
		j.now = c.Time
	}
	if (c.Verb == "ANS" || c.Verb == "CAL") && s.Chat != nil && s.Chat.SessionID != "" {
		j.register(s)
	}
}

// register counts s as an open session of its chat, moving it when its
// session id changed (a second CAL ... RINGING).
func (j *jsonReport) register(s *dissect.Session) {
	k := convKey(s)
	if old, ok := j.keyOf[s.ID]; ok {
		if old == k {
			return
		}
		j.unregister(s)
	}
	if k != "" {
		j.keyOf[s.ID] = k
		j.openKeys[k]++
	}
}

func (j *jsonReport) unregister(s *dissect.Session) {
	k, ok := j.keyOf[s.ID]
	if !ok {
		return
	}
	delete(j.keyOf, s.ID)
	if j.openKeys[k]--; j.openKeys[k] <= 0 {
		delete(j.openKeys, k)
	}
}

// sessionEnd takes an ended session.
func (j *jsonReport) sessionEnd(s *dissect.Session) {
	if s.EndTime.After(j.now) {
		j.now = s.EndTime
	}
	if s.Kind == dissect.KindSwitchboard {
		j.register(s)
	}
	j.endOrd[s.ID] = j.ends
	j.ends++
	j.pending = append(j.pending, s)
	j.settle(false)
}

// settle makes final what can no longer change; all of it when closing.
func (j *jsonReport) settle(closing bool) {
	kept := j.pending[:0]
	for _, s := range j.pending {
		if closing || s.AwaitingLinks() == 0 {
			j.final(s)
		} else {
			kept = append(kept, s)
		}
	}
	clear(j.pending[len(kept):])
	j.pending = kept
	if closing || j.now.Sub(j.swept) >= sweepEvery {
		j.swept = j.now
		j.sweep(closing)
	}
}

// final spools a session that will not change any more.
func (j *jsonReport) final(s *dissect.Session) {
	j.finals++
	j.emit(event{kind: evJSONSession, s: s})
	j.unregister(s)
	ord := j.endOrd[s.ID]
	delete(j.endOrd, s.ID)
	if s.Chat == nil || s.Kind != dissect.KindSwitchboard {
		return
	}
	k := conversationKey(s)
	g := j.groups[k]
	if g == nil {
		g = &convGroup{key: k, seq: ord, start: s.StartTime}
		j.groups[k] = g
		j.order = append(j.order, g)
	}
	// Conversations starting at the same time are in the order their
	// first session ended, as BuildConversations orders them.
	g.seq = min(g.seq, ord)
	g.ss = append(g.ss, s)
	if s.StartTime.Before(g.start) {
		g.start = s.StartTime
	}
	if s.EndTime.After(g.lastEnd) {
		g.lastEnd = s.EndTime
	}
}

// sweep spools the conversations whose sessions are all final.
func (j *jsonReport) sweep(closing bool) {
	kept := j.order[:0]
	for _, g := range j.order {
		// The time first: most groups are within their grace, and the
		// map lookup (hashing the key) costs more, at every sweep.
		if closing || j.now.Sub(g.lastEnd) > convGrace && j.openKeys[g.key] == 0 {
			j.finalConv(g)
		} else {
			kept = append(kept, g)
		}
	}
	clear(j.order[len(kept):])
	j.order = kept
}

func (j *jsonReport) finalConv(g *convGroup) {
	delete(j.groups, g.key)
	j.finalConvs++
	j.emit(event{kind: evJSONConv, ss: g.ss, seq: g.seq, start: g.start})
}

// convRow is what the conversations table shows of a conversation. It is
// spooled right after the conversation, its length first (4 bytes), so
// that the table does not decode every message back to count them.
type convRow struct {
	Server    string   `json:"s"`
	SessionID string   `json:"i"`
	Sessions  []int    `json:"n"`
	Users     []string `json:"u"`
	Messages  int      `json:"m"`
}

func (j *jsonReport) putConvRow(c *Conversation, users []string) {
	if j.err != nil {
		return
	}
	b, err := json.Marshal(convRow{Server: c.Server, SessionID: c.SessionID, Sessions: c.Sessions, Users: users, Messages: len(c.Messages)})
	if err == nil {
		j.rec = binary.BigEndian.AppendUint32(j.rec[:0], uint32(len(b)))
		if _, err = j.sp.write(j.rec); err == nil {
			_, err = j.sp.write(b)
		}
	}
	j.err = cmp.Or(j.err, err)
}

// conversationRow reads back the i-th conversation's row. It is safe for
// concurrent use once the report is prepared.
func (j *jsonReport) conversationRow(i int) (convRow, error) {
	var r convRow
	e, err := j.conversation(i)
	if err != nil {
		return r, err
	}
	bp := pieceBufs.Get().(*[]byte)
	defer pieceBufs.Put(bp)
	b, err := j.readPiece(bp, e.off+int64(e.n), 4)
	if err == nil {
		b, err = j.readPiece(bp, e.off+int64(e.n)+4, int(binary.BigEndian.Uint32(b)))
	}
	if err == nil {
		err = json.Unmarshal(b, &r)
	}
	if err != nil {
		return r, fmt.Errorf("report: reading back conversation %d: %w", i+1, err)
	}
	return r, nil
}

// putContacts spools a contact list as a compact JSON array (not for the
// tables) and returns where, and the number of its entries.
func (j *jsonReport) putContacts(cs []dissect.Contact) (piece, int) {
	es := contactEntries(cs)
	if j.tab != nil || j.err != nil {
		return piece{}, len(es)
	}
	j.buf = appendSlice(nil, j.buf[:0], es, appendContactEntry)
	off, err := j.sp.write(j.buf)
	if err != nil {
		j.err = err
	}
	return piece{off, len(j.buf)}, len(es)
}

// put spools b, the indented encoding of an element of a top-level array,
// and returns where; skip is a prefix of b left out.
func (j *jsonReport) put(b []byte, skip []byte) (int64, int) {
	if j.err != nil {
		return 0, 0
	}
	if skip != nil {
		if !bytes.HasPrefix(b, skip) {
			j.err = errors.New("report: internal error: a conversation's JSON does not start with its id")
			return 0, 0
		}
		b = b[len(skip):]
	}
	off, err := j.sp.write(b)
	if err != nil {
		j.err = err
	}
	return off, len(b)
}

// close makes everything final; once the encoding side is done with it,
// write writes the document.
func (j *jsonReport) close() {
	j.settle(true)
}

// write writes the document: capture, sessions by start, conversations by
// start (numbered in that order), users by name.
func (j *jsonReport) write(w io.Writer, c Capture) error {
	defer j.closeSpools()
	if err := j.prepare(); err != nil {
		return err
	}
	return j.writeDocument(w, c)
}

// closeSpools lets go of the spools and their temporary files.
func (j *jsonReport) closeSpools() {
	j.sp.close()
	j.idx.close()
	j.entries.close()
	j.sessIdx.close()
	j.convIdx.close()
	j.users.close()
}

// prepare sorts the index: sessions by start, conversations by start.
func (j *jsonReport) prepare() error {
	if j.err != nil {
		return j.err
	}
	if err := j.sp.flush(); err != nil {
		return err
	}
	// The sessions, the dissector and the reassembly state are garbage
	// by now. Collected before the index is sorted, they leave room for
	// its merge in the heap the run already has. A report whose spool
	// stayed in memory is small, and so is its index: a forced
	// collection there would only cost time (a few milliseconds a run,
	// most of each run of the fuzz targets).
	if j.sp.f != nil {
		runtime.GC()
	}
	return j.buildIndex()
}

// writeTables writes the tables from the spool (a tableSource).
func (j *jsonReport) writeTables(w io.Writer, c Capture, opt Options) error {
	defer j.closeSpools()
	if err := j.prepare(); err != nil {
		return err
	}
	j.cap = c
	return writeTables(w, j, opt)
}

func (j *jsonReport) capture() Capture      { return j.cap }
func (j *jsonReport) numSessions() int      { return j.sessIdx.n }
func (j *jsonReport) numConversations() int { return j.convIdx.n }

// pieceBufs holds buffers for reading pieces back: conversationRow is
// called from several goroutines at once (inOrder).
var pieceBufs = sync.Pool{New: func() any { return new([]byte) }}

// eachTableUser calls yield with each user for the tables, with their
// contact lists' lengths, in name order.
func (j *jsonReport) eachTableUser(yield func(tableUser) error) error {
	return j.eachUser(func(u *spooledUser) error {
		return yield(tableUser{User: &u.User, atLogin: u.nLogin, atEnd: u.nEnd})
	})
}

// readPiece reads a spooled piece into *buf (the spool's memory must not
// be handed out), which it keeps for the next read.
func (j *jsonReport) readPiece(buf *[]byte, off int64, n int) ([]byte, error) {
	b, err := j.sp.read(*buf, off, n)
	if err != nil {
		return nil, err
	}
	if j.sp.f == nil {
		b = append((*buf)[:0], b...)
	}
	*buf = b
	return b, nil
}

// writeDocument writes the JSON document from the prepared spool.
func (j *jsonReport) writeDocument(w io.Writer, c Capture) error {
	jw := &jsonWriter{w: w}
	jw.head(c)
	var buf []byte
	jw.array(j.sessIdx.n, func(i int) {
		var e piece
		if e, _, jw.err = j.session(i); jw.err == nil {
			buf, jw.err = j.sp.read(buf, e.off, e.n)
		}
		jw.bytes(buf)
	})
	j.sessIdx.close()
	jw.raw(",\n  \"conversations\": ")
	jw.array(j.convIdx.n, func(i int) {
		jw.raw("{\n      \"id\": " + strconv.Itoa(i+1))
		var e piece
		if e, jw.err = j.conversation(i); jw.err == nil {
			buf, jw.err = j.sp.read(buf, e.off, e.n)
		}
		jw.bytes(buf)
	})
	j.convIdx.close()
	jw.raw(",\n  \"users\": ")
	// ub is not buf: read may return the spool memory itself.
	var ub, ind, pb []byte
	n := 0
	// As jw.array writes them, one at a time.
	err := j.eachUser(func(u *spooledUser) error {
		if n == 0 {
			jw.raw("[")
		} else {
			jw.raw(",")
		}
		n++
		jw.raw("\n    ")
		if jw.err != nil {
			return jw.err
		}
		// The user without its contact lists, which are then put in from
		// the spool in place of the nulls.
		ub = appendUser(nil, ub[:0], &u.User)
		if !bytes.HasSuffix(ub, nullContacts) {
			return errors.New("report: internal error: a user's JSON does not end with its contact lists")
		}
		ub = ub[:len(ub)-len(nullContacts)]
		for k, p := range []piece{u.login, u.end} {
			if k == 1 {
				ub = append(ub, `,"contacts_at_end":`...)
			} else {
				ub = append(ub, `"contacts_at_login":`...)
			}
			if p.n == 0 {
				ub = append(ub, "null"...)
				continue
			}
			var err error
			if pb, err = j.sp.read(pb, p.off, p.n); err != nil {
				return err
			}
			ub = append(ub, pb...)
		}
		ub = append(ub, '}')
		ind = appendIndent(ind[:0], ub, "    ", "  ")
		jw.bytes(ind)
		return jw.err
	})
	if jw.err == nil {
		jw.err = err
	}
	if n == 0 {
		jw.raw("[]")
	} else {
		jw.raw("\n  ]")
	}
	jw.raw("\n}\n")
	return jw.err
}

// nullContacts ends the compact JSON of a User without contact lists.
var nullContacts = []byte(`"contacts_at_login":null,"contacts_at_end":null}`)

// spool holds encoded pieces of the document: in memory up to
// spoolMemory, then in a temporary file, unlinked at once so that nothing
// is left behind whatever happens to the process.
type spool struct {
	mem  []byte
	f    *os.File
	w    *bufio.Writer
	size int64
}

func (s *spool) write(b []byte) (int64, error) {
	off := s.size
	s.size += int64(len(b))
	if s.f == nil && len(s.mem)+len(b) <= spoolMemory {
		if cap(s.mem)-len(s.mem) < len(b) {
			// Doubled, up to spoolMemory: append grows a large slice
			// by a quarter, copying the megabytes held more often.
			s.mem = slices.Grow(s.mem, min(max(len(b), len(s.mem)), spoolMemory-len(s.mem)))
		}
		s.mem = append(s.mem, b...)
		return off, nil
	}
	if s.f == nil {
		f, err := os.CreateTemp("", "msnsniff-json-*")
		if err != nil {
			return off, fmt.Errorf("the report's temporary file (set TMPDIR to a writable directory with room for the output): %w", err)
		}
		// Unlinked at once where the system allows it (not on Windows,
		// where close removes it instead).
		os.Remove(f.Name())
		s.f, s.w = f, bufio.NewWriterSize(f, 256<<10)
		if _, err := s.w.Write(s.mem); err != nil {
			return off, err
		}
		s.mem = nil
	}
	_, err := s.w.Write(b)
	return off, err
}

// section reads the n bytes of the spool at off; flush first.
func (s *spool) section(off, n int64) io.Reader {
	if s.f == nil {
		return bytes.NewReader(s.mem[off : off+n])
	}
	return io.NewSectionReader(s.f, off, n)
}

// reader reads the spool from its start; flush first.
func (s *spool) reader() io.Reader { return s.section(0, s.size) }

func (s *spool) flush() error {
	if s.w != nil {
		return s.w.Flush()
	}
	return nil
}

// read returns the n bytes at off, in buf's storage when it is large
// enough.
func (s *spool) read(buf []byte, off int64, n int) ([]byte, error) {
	if s.f == nil {
		return s.mem[off : off+int64(n)], nil
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	_, err := s.f.ReadAt(buf, off)
	return buf, err
}

func (s *spool) close() {
	if s.f != nil {
		s.f.Close()
		os.Remove(s.f.Name())
		s.f, s.w = nil, nil
	}
	s.mem = nil
}
