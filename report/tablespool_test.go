package report

import (
	"bytes"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// docSource is a tableSource over a decoded JSON document: the tables as
// the JSON report says they are, laid out from its decoded sessions and
// conversations (how the table format was written before it spooled
// sessions as rendered text).
type docSource struct {
	r   Report
	opt Options
	p   tablePrinter
}

func (d *docSource) capture() Capture      { return d.r.Capture }
func (d *docSource) numSessions() int      { return len(d.r.Sessions) }
func (d *docSource) numConversations() int { return len(d.r.Conversations) }
func (d *docSource) eachTableUser(yield func(tableUser) error) error {
	for i := range d.r.Users {
		u := tableUser{User: &d.r.Users[i], atLogin: -1, atEnd: -1}
		if u.ContactsAtLogin != nil {
			u.atLogin, u.atEnd = len(u.ContactsAtLogin), len(u.ContactsAtEnd)
		}
		if err := yield(u); err != nil {
			return err
		}
	}
	return nil
}

func (d *docSource) sessionRow(i int, row []string) ([]string, error) {
	return append(row, d.p.overviewRow(&d.r.Sessions[i])...), nil
}

func (d *docSource) writeSection(w io.Writer, i int) error {
	p := tablePrinter{w: w, raw: d.opt.Raw}
	p.session(&d.r.Sessions[i], d.opt.Verbose)
	return p.err
}

func (d *docSource) sessionsDone() {}

func (d *docSource) writeChat(w io.Writer, i int) error {
	p := tablePrinter{w: w, raw: d.opt.Raw}
	p.chatMessages(&d.r.Conversations[i])
	return p.err
}

func (d *docSource) conversationRow(i int) (convRow, error) {
	c := d.r.Conversations[i]
	r := convRow{Server: c.Server, SessionID: c.SessionID, Sessions: c.Sessions, Messages: len(c.Messages)}
	for _, x := range c.Participants {
		r.Users = append(r.Users, x.User)
	}
	return r, nil
}

// TestTablesMatchJSON holds the table format, whose sessions and
// conversations are rendered as they become final and spooled as text, to
// the tables laid out from the JSON document of the same run, in each of
// the table format's modes, with the spool in memory and in a file.
func TestTablesMatchJSON(t *testing.T) {
	names, err := filepath.Glob("../testdata/*.txt")
	if err != nil || len(names) < 10 {
		t.Fatalf("transcripts: %v %v", names, err)
	}
	capture := Capture{Packets: 10, Bytes: 1000, Anomalies: []Count{}}
	var doc bytes.Buffer
	out := NewOutput(&doc, Options{Format: FormatJSON})
	replayAll(t, names, out)
	if err := out.Close(capture); err != nil {
		t.Fatal(err)
	}
	var r Report
	if err := json.Unmarshal(doc.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Sessions) < 20 || len(r.Conversations) < 5 {
		t.Fatalf("%d sessions, %d conversations: the test covers too little", len(r.Sessions), len(r.Conversations))
	}
	defer func(n int) { rowGuess = n }(rowGuess)
	// With the spool in a file, the user and index records are sorted in
	// runs of a few records each (sortMemory).
	defer func(n int) { sortMemory = n }(sortMemory)
	for _, mem := range []int{spoolMemory, 0} {
		// A row read at once, and one read again past the first bytes.
		rowGuess = map[bool]int{true: 512, false: 6}[mem != 0]
		sortMemory = map[bool]int{true: 4 << 20, false: 256}[mem != 0]
		for _, opt := range []Options{
			{}, {Verbose: true}, {Raw: true}, {Chats: true}, {Chats: true, Raw: true},
		} {
			opt.Format = FormatTable
			var got bytes.Buffer
			saved := spoolMemory
			spoolMemory = mem
			out := NewOutput(&got, opt)
			replayAll(t, names, out)
			err := out.Close(capture)
			spoolMemory = saved
			if err != nil {
				t.Fatal(err)
			}
			if runs := out.js.users.merged; mem == 0 && !opt.Chats && runs < 10 {
				t.Fatalf("%+v: the user records were sorted in %d runs: the merge is not tested", opt, runs)
			}
			if runs := out.js.entries.merged; mem == 0 && runs < 10 {
				t.Fatalf("%+v: the index records were sorted in %d runs: the merge is not tested", opt, runs)
			}
			var want bytes.Buffer
			src := &docSource{r: r, opt: opt, p: tablePrinter{raw: opt.Raw}}
			if err := writeTables(&want, src, opt); err != nil {
				t.Fatal(err)
			}
			if d := firstDiff(got.Bytes(), want.Bytes()); d != "" {
				t.Errorf("spool memory %d, first read %d, %+v: tables differ from the JSON document's %s", mem, rowGuess, opt, d)
			}
			if !opt.Chats && !strings.Contains(got.String(), "  Transactions:\n") {
				t.Errorf("%+v: no session section in the tables", opt)
			}
			if opt.Chats && !strings.Contains(got.String(), "Conversation 5 (") {
				t.Errorf("%+v: fewer than 5 conversations in the chats view", opt)
			}
		}
	}
}

// TestTablePieceDamaged reports a spooled piece that cannot be split
// rather than reading past it.
func TestTablePieceDamaged(t *testing.T) {
	t.Parallel()
	for _, b := range [][]byte{nil, {0, 0}, {0, 0, 0, 9, 1}, {0, 0, 0, 2, 5, 'a'}} {
		cells, _, err := splitTablePiece(b)
		if err == nil {
			_, err = decodeCells(nil, cells)
		}
		if err == nil {
			t.Errorf("piece %q: no error", b)
		}
	}
	cells, section, err := splitTablePiece([]byte{0, 0, 0, 3, 2, 'h', 'i', 's', 'e', 'c'})
	row, err2 := decodeCells(nil, cells)
	if err != nil || err2 != nil || len(row) != 1 || row[0] != "hi" || string(section) != "sec" {
		t.Errorf("good piece: %q %q %v %v", row, section, err, err2)
	}
}
