package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/msnsniff/msnsniff/dissect"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

// writeTables writes the report as text: an overview of the sessions, then
// each session's negotiation, transactions, group operations, groups,
// errors and anomalies.
func writeTables(w io.Writer, r *Report, opt Options) error {
	p := &tablePrinter{w: w, raw: opt.Raw}
	c := r.Capture
	p.printf("Capture: %d file(s), %d packets, %d bytes", len(c.Files), c.Packets, c.Bytes)
	if c.First != nil && c.Last != nil {
		p.printf(", %s to %s", c.First, c.Last)
	}
	p.printf("; %d MSNP session(s)\n", len(r.Sessions))
	for _, e := range c.Errors {
		p.printf("Input error: %s\n", p.s(e))
	}
	if len(r.Sessions) == 0 {
		return p.err
	}
	p.printf("\n")
	rows := [][]string{}
	for _, s := range r.Sessions {
		user, auth := "", ""
		if s.Auth != nil {
			user = s.Auth.User
			auth = strings.TrimSpace(s.Auth.Method + " " + s.Auth.Result)
			if s.Auth.ErrorCode != nil {
				auth += " " + strconv.Itoa(*s.Auth.ErrorCode)
			}
		}
		rows = append(rows, []string{
			strconv.Itoa(s.ID), s.Kind, s.Client, s.Server, s.Start.String(), duration(s.End.Sub(s.Start.Time)),
			versionText(s.Version), p.s(user), auth,
			strconv.FormatInt(s.Commands.C2S+s.Commands.S2C, 10), strconv.Itoa(len(s.Errors)),
			strconv.Itoa(len(s.Anomalies)), state(&s),
		})
	}
	p.table([]string{"ID", "Kind", "Client", "Server", "Start", "Duration", "Version", "User", "Auth", "Cmds", "Errors", "Anomalies", "State"}, rows)
	for i := range r.Sessions {
		p.session(&r.Sessions[i], opt.Verbose)
	}
	return p.err
}

type tablePrinter struct {
	w   io.Writer
	raw bool
	err error
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

func (p *tablePrinter) table(header []string, rows [][]string) {
	if p.err != nil {
		return
	}
	t := tablewriter.NewTable(p.w, tablewriter.WithHeaderAutoFormat(tw.Off), tablewriter.WithRowAutoFormat(tw.Off))
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
	if s.Parent != nil {
		p.printf("  parent:   session %d\n", *s.Parent)
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
	p.printf("  traffic:  %d commands from the client, %d from the server; %d + %d bytes",
		s.Commands.C2S, s.Commands.S2C, s.Bytes.C2S, s.Bytes.S2C)
	if s.LostBytes > 0 {
		p.printf(", %d lost", s.LostBytes)
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
