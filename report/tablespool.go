package report

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The table format spools each final session as the tables show it,
// rendered from its report model on the worker goroutine while the
// capture is read: its overview row, then its section. Spooling its JSON
// instead meant decoding every session back at Close (encoding/json took
// two of seven CPU seconds of a table run on the 200 MB benchmark
// capture). The live table format prints each section as its session
// ends, from the same model (Output.release), so both paths lay sessions
// out alike.
//
// A piece is the row's length (4 bytes, big endian), the row's cells
// (encodeCells) and the section.

// tableSpool renders sessions for the table format.
type tableSpool struct {
	buf     bytes.Buffer
	p       tablePrinter // writes to buf
	verbose bool
	// details is whether sessions' sections are printed at Close, not
	// as they end (live) or not at all (--chats).
	details bool
	// rows is whether the overview is printed (not with --chats).
	rows bool
	// chats is whether conversations' messages are printed (--chats).
	chats bool
}

func newTableSpool(opt Options) *tableSpool {
	t := &tableSpool{verbose: opt.Verbose, details: !opt.StreamTables && !opt.Chats, rows: !opt.Chats, chats: opt.Chats}
	t.p = tablePrinter{w: &t.buf, raw: opt.Raw}
	return t
}

// appendSession appends s's piece to b.
func (t *tableSpool) appendSession(b []byte, s *Session) []byte {
	if !t.rows {
		return b
	}
	at := len(b)
	b = append(b, 0, 0, 0, 0)
	b = encodeCells(b, t.p.overviewRow(s))
	binary.BigEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	if t.details {
		t.buf.Reset()
		t.p.session(s, t.verbose)
		b = append(b, t.buf.Bytes()...)
	}
	return b
}

// appendChat appends c's piece for --chats to b: the table of its
// messages. Its heading, which has the conversation's number in report
// order, is printed at Close from its row (convRow).
func (t *tableSpool) appendChat(b []byte, c *Conversation) []byte {
	t.buf.Reset()
	t.p.chatMessages(c)
	return append(b, t.buf.Bytes()...)
}

// splitTablePiece splits a spooled piece into its row's cells, encoded,
// and its section.
func splitTablePiece(b []byte) (cells, section []byte, err error) {
	if len(b) < 4 {
		return nil, nil, errors.New("short piece")
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil, errors.New("bad row length")
	}
	return b[4 : 4+n], b[4+n:], nil
}

// decodeCells appends the cells encoded by encodeCells to row.
func decodeCells(row []string, cells []byte) ([]string, error) {
	for len(cells) > 0 {
		l, k := binary.Uvarint(cells)
		if k <= 0 || l > uint64(len(cells)-k) {
			return row, errors.New("bad cell")
		}
		row = append(row, string(cells[k:k+int(l)]))
		cells = cells[k+int(l):]
	}
	return row, nil
}

// rowGuess is how much of a session's piece is read for its row at first
// (a variable for the tests).
var rowGuess = 512

// sessionRow reads back the i-th session's overview row, in report
// order, appended to row.
func (j *jsonReport) sessionRow(i int, row []string) ([]string, error) {
	e, id, err := j.session(i)
	if err != nil {
		return row, err
	}
	// Only the row, which most often fits in the first bytes read; its
	// length comes first.
	b, err := j.readPiece(&j.rb, e.off, min(e.n, rowGuess))
	if err == nil && len(b) >= 4 {
		if n := 4 + int(binary.BigEndian.Uint32(b)); n > len(b) {
			b, err = j.readPiece(&j.rb, e.off, min(e.n, n))
		}
	}
	var cells []byte
	if err == nil {
		cells, _, err = splitTablePiece(b)
	}
	if err == nil {
		row, err = decodeCells(row, cells)
	}
	if err != nil {
		return row, fmt.Errorf("report: reading back session %d: %w", id, err)
	}
	return row, nil
}

// writeSection copies the i-th session's section, in report order, to w.
func (j *jsonReport) writeSection(w io.Writer, i int) error {
	e, id, err := j.session(i)
	if err != nil {
		return err
	}
	b, err := j.readPiece(&j.rb, e.off, e.n)
	var section []byte
	if err == nil {
		_, section, err = splitTablePiece(b)
	}
	if err != nil {
		return fmt.Errorf("report: reading back session %d: %w", id, err)
	}
	_, err = w.Write(section)
	return err
}

// sessionsDone lets go of the sessions' index (its spool): the
// conversations and the users are written without it, as in the JSON
// document.
func (j *jsonReport) sessionsDone() { j.sessIdx.close() }

// writeChat copies the i-th conversation's table of messages to w.
func (j *jsonReport) writeChat(w io.Writer, i int) error {
	e, err := j.conversation(i)
	if err != nil {
		return err
	}
	b, err := j.readPiece(&j.rb, e.off, e.n)
	if err == nil {
		_, err = w.Write(b)
	}
	if err != nil {
		return fmt.Errorf("report: reading back conversation %d: %w", i+1, err)
	}
	return nil
}
