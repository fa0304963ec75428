package report

import (
	"cmp"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/msnsniff/msnsniff/dissect"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/pkg/twcache"
	"github.com/olekukonko/tablewriter/tw"
)

// tableSource is what the tables are written from: the JSON report's spool
// (jsonReport), read one element at a time.
type tableSource interface {
	capture() Capture
	numSessions() int
	// sessionRow appends the i-th session's overview row, in report
	// order, to row; writeSection writes its section.
	sessionRow(i int, row []string) ([]string, error)
	writeSection(w io.Writer, i int) error
	// sessionsDone lets go of what the sessions were read from, once
	// their rows and sections are written.
	sessionsDone()
	numConversations() int
	// writeChat writes the i-th conversation's messages (--chats).
	writeChat(w io.Writer, i int) error
	conversationRow(i int) (convRow, error) // what the conversations table shows
	// eachTableUser calls yield with each user, in report order; the
	// user is valid only during the call.
	eachTableUser(yield func(tableUser) error) error
}

// writeTables writes the report as text: an overview of the sessions, then
// each session's negotiation, transactions, group operations, groups,
// errors and anomalies, the conversations and the users.
func writeTables(w io.Writer, src tableSource, opt Options) error {
	p := &tablePrinter{w: w, raw: opt.Raw}
	n := src.numSessions()
	if opt.StreamTables && n > 0 && !opt.Chats {
		p.printf("\n") // after the last session printed as it ended
	}
	if opt.Chats {
		p.chats(src)
		return p.err
	}
	c := src.capture()
	p.printf("Capture: %d file(s), %d packets, %d bytes", len(c.Files), c.Packets, c.Bytes)
	if c.First != nil && c.Last != nil {
		p.printf(", %s to %s", c.First, c.Last)
	}
	p.printf("; %d MSNP session(s)\n", n)
	if l := c.Live; l != nil {
		p.printf("Live capture on %s: %d packets received by the filter, %d dropped by the kernel\n", l.Interface, l.Received, l.Dropped)
	}
	for _, e := range c.Errors {
		p.printf("Input error: %s\n", p.s(e))
	}
	if n == 0 {
		return p.err
	}
	p.printf("\n")
	// The overview table needs every row before it is laid out: they
	// are measured and set aside in a spool (memory, then a temporary
	// file), then the sections follow.
	rows := newBoxRows(overviewHeader)
	defer rows.close()
	var row []string
	for i := range n {
		var err error
		if row, err = src.sessionRow(i, row[:0]); err == nil {
			err = rows.add(row)
		}
		if err != nil {
			return err
		}
	}
	if err := p.writeRows(overviewHeader, rows); err != nil {
		return err
	}
	rows.close()
	if !opt.StreamTables {
		// Printed as the sessions ended otherwise.
		for i := 0; i < n && p.err == nil; i++ {
			p.err = src.writeSection(p.w, i)
		}
	}
	src.sessionsDone()
	p.conversations(src)
	return cmp.Or(p.users(src), p.err)
}

// overviewHeader heads the overview table, of overviewRow's rows.
var overviewHeader = []string{"ID", "Kind", "Client", "Server", "Start", "Duration", "Version", "User", "Auth", "Cmds", "Errors", "Anomalies", "State"}

// overviewRow is a session's row in the overview table.
func (p *tablePrinter) overviewRow(s *Session) []string {
	user, auth := "", ""
	if s.Auth != nil {
		user = s.Auth.User
		auth = strings.TrimSpace(s.Auth.Method + " " + s.Auth.Result)
		if s.Auth.ErrorCode != nil {
			auth += " " + strconv.Itoa(*s.Auth.ErrorCode)
		}
	}
	return []string{
		strconv.Itoa(s.ID), s.Kind, s.Client, s.Server, s.Start.String(), duration(s.End.Sub(s.Start.Time)),
		versionText(s.Version), p.s(user), auth,
		strconv.FormatInt(s.Commands.C2S+s.Commands.S2C, 10), strconv.Itoa(len(s.Errors)),
		strconv.Itoa(len(s.Anomalies)), state(s),
	}
}

// decoded is a result of inOrder: a value, or why there is none.
type decoded[T any] struct {
	v   T
	err error
}

// write writes b as it is.
func (p *tablePrinter) write(b []byte) {
	if p.err == nil {
		_, p.err = p.w.Write(b)
	}
}

// chats prints each conversation as "time · sender · text" lines.
func (p *tablePrinter) chats(src tableSource) {
	if src.numConversations() == 0 {
		p.printf("No switchboard conversations in the capture.\n")
		return
	}
	for i := range src.numConversations() {
		r, err := src.conversationRow(i)
		if err != nil {
			p.err = cmp.Or(p.err, err)
			return
		}
		if i > 0 {
			p.printf("\n")
		}
		p.chatHeading(i+1, r)
		if p.err == nil {
			p.err = src.writeChat(p.w, i)
		}
	}
}

// chatHeading heads the n-th conversation of the chats view.
func (p *tablePrinter) chatHeading(n int, r convRow) {
	names := make([]string, 0, len(r.Users))
	for _, u := range r.Users {
		names = append(names, p.s(u))
	}
	p.printf("Conversation %d (%s, switchboard session %s; sessions %s): %s\n", n, r.Server, orDash(p.s(r.SessionID)), ints(r.Sessions), strings.Join(names, ", "))
}

// chatMessages prints a conversation's messages for the chats view.
func (p *tablePrinter) chatMessages(c *Conversation) {
	rows := [][]string{}
	for _, m := range c.Messages {
		text := messageText(m)
		if m.Acked != nil && !*m.Acked {
			text += " [not delivered: NAK]"
		}
		rows = append(rows, []string{m.Time.String(), p.s(m.From), p.s(text)})
	}
	p.table([]string{"Time", "Sender", "Text"}, rows)
}

// messageText is what the chats view shows for a message.
func messageText(m Message) string {
	switch m.Type {
	case "text":
		if m.TextBase64 != nil {
			return "[text, not UTF-8, base64 " + *m.TextBase64 + "]"
		}
		return m.Text
	case "typing":
		return "[typing]"
	case "invite":
		if in := m.Invite; in != nil {
			s := "[invitation " + strings.ToLower(in.Command) + ": " + in.Application
			if in.File != "" {
				s += " " + in.File
				if in.FileSize != "" {
					s += " (" + in.FileSize + " bytes)"
				}
			}
			if in.CancelCode != "" {
				s += " " + in.CancelCode
			}
			return s + "]"
		}
	case "p2p":
		if x := m.P2P; x != nil {
			if x.SLP != "" {
				return "[p2p " + x.SLP + "]"
			}
			return fmt.Sprintf("[p2p session %d, %d of %d bytes at %d, flags 0x%x]", x.SessionID, x.Length, x.TotalSize, x.Offset, x.Flags)
		}
	}
	return "[" + m.Type + " " + m.ContentType + "]"
}

func (p *tablePrinter) conversations(src tableSource) {
	if src.numConversations() == 0 {
		return
	}
	p.printf("\nConversations:\n")
	n := src.numConversations()
	// A row at a time through a spool, as the overview: there is a
	// conversation for every few sessions of the capture.
	header := []string{"ID", "Switchboard", "SB session", "Sessions", "Participants", "Messages"}
	rows := newBoxRows(header)
	defer rows.close()
	err := inOrder(n, tableWorkers(), func(_, i int) decoded[[]string] {
		c, err := src.conversationRow(i)
		if err != nil {
			return decoded[[]string]{err: err}
		}
		names := make([]string, 0, len(c.Users))
		for _, u := range c.Users {
			names = append(names, p.s(u))
		}
		return decoded[[]string]{v: []string{strconv.Itoa(i + 1), c.Server, orDash(p.s(c.SessionID)), ints(c.Sessions), strings.Join(names, " "), strconv.Itoa(c.Messages)}}
	}, func(_ int, r decoded[[]string]) error {
		return cmp.Or(r.err, rows.add(r.v))
	})
	if err == nil {
		err = p.writeRows(header, rows)
	}
	p.err = cmp.Or(p.err, err)
}

// tableUser is what the users table shows of a user: the user without
// its contact lists, and their lengths (-1 when no list was seen).
type tableUser struct {
	*User
	atLogin, atEnd int
}

func (p *tablePrinter) users(src tableSource) error {
	header := []string{"User", "Sessions", "Conversations", "Peers", "Contacts at login", "At end"}
	rows := newBoxRows(header)
	defer rows.close()
	n := 0
	err := src.eachTableUser(func(u tableUser) error {
		n++
		atLogin, atEnd := "unknown", "unknown"
		if u.atLogin >= 0 {
			atLogin, atEnd = strconv.Itoa(u.atLogin), strconv.Itoa(u.atEnd)
		}
		return rows.add([]string{p.s(u.User.User), ints(u.Sessions), ints(u.Conversations), p.s(strings.Join(u.Peers, " ")), atLogin, atEnd})
	})
	if err != nil || n == 0 {
		return err
	}
	// The rows are laid out once all are in: the heading goes first all
	// the same.
	p.printf("\nUsers:\n")
	return p.writeRows(header, rows)
}

func ints(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, " ")
}

type tablePrinter struct {
	w   io.Writer
	raw bool
	err error
	t   *tablewriter.Table // reused: a new Table allocates a 10,240-entry cache
}

func (p *tablePrinter) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

// s makes a wire string safe for a terminal.
func (p *tablePrinter) s(v string) string {
	if p.raw || !dissect.NeedsEscape([]byte(v)) {
		return v
	}
	return string(dissect.EscapeText(nil, []byte(v)))
}

// table writes a table: header and rows, in tablewriter's layout. A table
// whose cells are all plain is written by writeBox, most tables of a
// capture's sessions, which tablewriter lays out at many times the cost;
// the others by tablewriter.
func (p *tablePrinter) table(header []string, rows [][]string) {
	if p.err != nil {
		return
	}
	widths := make([]int, len(header))
	ok := measureRow(widths, header)
	for _, row := range rows {
		ok = ok && measureRow(widths, row)
	}
	if !ok {
		p.viaTablewriter(header, rows)
		return
	}
	p.writeBox(header, widths, func(yield func([]string) error) error {
		for _, r := range rows {
			if err := yield(r); err != nil {
				return err
			}
		}
		return nil
	})
}

// viaTablewriter lays a table out with tablewriter.
func (p *tablePrinter) viaTablewriter(header []string, rows [][]string) {
	if p.err != nil {
		return
	}
	if p.t == nil {
		// One Table for all, with a one-entry stringer cache: NewTable and
		// Reset each make a map of tw.DefaultCacheStringCapacity entries,
		// which for the tables of thousands of sessions cost more than
		// the rest of the analysis (we pass strings; nothing is cached).
		p.t = tablewriter.NewTable(p.w, tablewriter.WithHeaderAutoFormat(tw.Off), tablewriter.WithRowAutoFormat(tw.Off),
			tablewriter.WithStringerCacheCustom(twcache.NewLRU[reflect.Type, reflect.Value](1)))
	} else {
		p.t.Reset()
	}
	t := p.t
	h := make([]any, len(header))
	for i, x := range header {
		h[i] = x
	}
	t.Header(h...)
	for _, r := range rows {
		if err := t.Append(r); err != nil {
			p.err = err
			return
		}
	}
	p.err = t.Render()
}

func (p *tablePrinter) session(s *Session, verbose bool) {
	p.printf("\nSession %d: %s, %s -> %s", s.ID, s.Kind, s.Client, s.Server)
	if s.KindEvidence != "" {
		p.printf(" (%s)", s.KindEvidence)
	}
	p.printf("\n")
	p.printf("  time:     %s to %s (%s), %s\n", s.Start, s.End, duration(s.End.Sub(s.Start.Time)), state(s))
	if s.User != "" {
		p.printf("  user:     %s\n", p.s(s.User))
	}
	if s.Parent != nil {
		p.printf("  parent:   session %d\n", *s.Parent)
	}
	if s.LinkNote != "" {
		p.printf("  link:     %s\n", s.LinkNote)
	}
	if s.Transport != "" && s.Transport != "tcp" {
		p.printf("  via:      %s, %d HTTP connection(s)", s.Transport, len(s.HTTPConnections)+s.UnlistedHTTPConnections)
		if s.UnlistedHTTPConnections > 0 {
			p.printf(" (%d beyond the %d listed)", s.UnlistedHTTPConnections, len(s.HTTPConnections))
		}
		p.printf(", %d empty poll(s)\n", s.EmptyPolls)
	}
	if len(s.Version.Offered) > 0 || s.Version.Selected != nil || s.Version.Refused {
		sel := "no reply"
		if s.Version.Selected != nil {
			sel = *s.Version.Selected
		} else if s.Version.Refused {
			sel = "refused (VER t 0)"
		}
		p.printf("  version:  offered %s; selected %s\n", p.s(strings.Join(s.Version.Offered, " ")), p.s(sel))
	}
	if a := s.Auth; a != nil {
		p.printf("  auth:     %s", orDash(p.s(a.Method)))
		if a.User != "" {
			p.printf(" %s", p.s(a.User))
		}
		p.printf(", %s", a.Result)
		if a.ErrorCode != nil {
			p.printf(" (error %d)", *a.ErrorCode)
		}
		if len(a.Offered) > 0 {
			p.printf("; server offered %s", p.s(strings.Join(a.Offered, " ")))
		}
		p.printf("\n")
	}
	for _, r := range s.Redirects {
		p.printf("  redirect: TrID %d %s to %s", r.TrID, p.s(r.Type), p.s(r.To))
		if r.From != nil {
			p.printf(" (from %s)", p.s(*r.From))
		}
		if r.Session != nil {
			p.printf(", followed by session %d", *r.Session)
		}
		p.printf("\n")
	}
	for _, in := range s.Invitations {
		p.printf("  invited:  by %s to switchboard session %s at %s", p.s(in.Inviter), p.s(in.SessionID), p.s(in.To))
		if in.Session != nil {
			p.printf(", answered in session %d", *in.Session)
		}
		p.printf("\n")
	}
	if ch := s.Chat; ch != nil {
		names := []string{}
		for _, x := range ch.Participants {
			names = append(names, p.s(x.User))
		}
		counts := []string{}
		for _, c := range ch.Messages {
			counts = append(counts, fmt.Sprintf("%d %s", c.Count, c.Name))
		}
		p.printf("  chat:     switchboard session %s; participants %s; messages: %s\n", orDash(p.s(ch.SessionID)), orDash(strings.Join(names, " ")), orDash(strings.Join(counts, ", ")))
	}
	if c := s.Contacts; c != nil {
		if c.Note != "" {
			p.printf("  contacts: %s; %d changes\n", c.Note, len(c.Changes))
		} else {
			p.printf("  contacts: %d at login, %d at the end, %d changes\n", len(c.AtLogin), len(c.AtEnd), len(c.Changes))
		}
	}
	if pr := s.Presence; pr != nil {
		st := make([]string, 0, len(pr.Own))
		for _, e := range pr.Own {
			st = append(st, e.Status)
		}
		p.printf("  presence: own status %s; %d contacts with presence\n", orDash(p.s(strings.Join(st, " "))), len(pr.Contacts))
	}
	p.printf("  traffic:  %d commands from the client, %d from the server; %d + %d bytes",
		s.Commands.C2S, s.Commands.S2C, s.Bytes.C2S, s.Bytes.S2C)
	if s.LostBytes > 0 {
		p.printf(", %d lost", s.LostBytes)
	}
	if s.UnknownSizeGaps > 0 {
		p.printf(", %d gap(s) of unknown size", s.UnknownSizeGaps)
	}
	p.printf("\n")
	if len(s.Transactions) > 0 {
		p.printf("  Transactions:\n")
		rows := [][]string{}
		for _, t := range s.Transactions {
			lat := "-"
			if t.LatencyUS != nil {
				lat = duration(time.Duration(*t.LatencyUS) * time.Microsecond)
			}
			st := t.Status
			if t.ErrorCode != nil {
				st += " " + strconv.Itoa(*t.ErrorCode)
			}
			rows = append(rows, []string{strconv.FormatInt(t.TrID, 10), t.Verb, st, strconv.Itoa(t.Replies), p.s(strings.Join(t.ReplyVerbs, " ")), lat})
		}
		p.table([]string{"TrID", "Verb", "Status", "Replies", "Reply verbs", "Latency"}, rows)
	}
	if len(s.GroupOps) > 0 {
		p.printf("  Group operations:\n")
		rows := [][]string{}
		for _, g := range s.GroupOps {
			st := g.Status
			if g.ErrorCode != nil {
				st += " " + strconv.Itoa(*g.ErrorCode)
			}
			rows = append(rows, []string{strconv.FormatInt(g.TrID, 10), g.Op, p.s(deref(g.GroupID)), p.s(deref(g.Name)), p.s(deref(g.Contact)), st})
		}
		p.table([]string{"TrID", "Op", "Group", "Name", "Contact", "Status"}, rows)
	}
	if len(s.Groups) > 0 {
		p.printf("  Groups at the end:\n")
		rows := [][]string{}
		for _, g := range s.Groups {
			rows = append(rows, []string{p.s(g.ID), p.s(g.Name)})
		}
		p.table([]string{"ID", "Name"}, rows)
	}
	if len(s.Errors) > 0 {
		p.printf("  Errors:\n")
		rows := [][]string{}
		for _, e := range s.Errors {
			rows = append(rows, []string{strconv.FormatInt(e.TrID, 10), strconv.Itoa(e.Code), orDash(e.Name), orDash(e.Verb)})
		}
		p.table([]string{"TrID", "Code", "Name", "Verb"}, rows)
	}
	if len(s.Anomalies) > 0 {
		p.printf("  Anomalies:\n")
		rows := [][]string{}
		for _, a := range s.Anomalies {
			rows = append(rows, []string{a.Kind, a.Time.String(), a.Dir, strconv.FormatInt(a.Offset, 10), strconv.Itoa(a.Bytes), p.s(a.Line), a.Detail})
		}
		p.table([]string{"Kind", "Time", "Dir", "Offset", "Bytes", "Line", "Detail"}, rows)
	}
}

func state(s *Session) string {
	st := "open at end"
	if s.Closed {
		st = "closed"
	}
	if s.Partial {
		st += ", partial"
	}
	return st
}

func versionText(v Version) string {
	switch {
	case v.Selected != nil:
		return *v.Selected
	case v.Refused:
		return "refused"
	case v.Rules != nil:
		return *v.Rules + "?"
	}
	return "-"
}

func duration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return strconv.FormatInt(d.Microseconds(), 10) + "µs"
	case d < time.Second:
		return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 3, 64) + "ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) + "s"
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
