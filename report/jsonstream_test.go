package report

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/msnsniff/msnsniff/dissect"
)

// keepSessions collects ended sessions next to another handler.
type keepSessions struct {
	dissect.Handler
	ss []*dissect.Session
}

func (k *keepSessions) SessionEnd(s *dissect.Session) {
	k.ss = append(k.ss, s)
	k.Handler.SessionEnd(s)
}

// replayAll runs every transcript through one Analyzer, an hour of packet
// time apart, so that the streamed report settles sessions and
// conversations while it runs (convGrace), not only at Close. Connections
// of a transcript stay open until its last event, then end in the
// transcript's order. Each run's servers get their own ports, so that
// chats of different runs never share a switchboard session id.
func replayAll(tb testing.TB, names []string, h dissect.Handler) {
	a := dissect.NewAnalyzer(h, dissect.Limits{})
	now := time.Date(2024, 9, 14, 13, 52, 40, 0, time.UTC)
	for run, name := range names {
		tr, err := dissect.ReadTranscript(name)
		if err != nil {
			tb.Fatal(err)
		}
		sessions := make([]*dissect.Session, len(tr.Conns))
		for _, e := range tr.Events {
			now = now.Add(time.Millisecond + e.Wait)
			s := sessions[e.Conn]
			if s == nil {
				c := tr.Conns[e.Conn]
				server := netip.AddrPortFrom(c.Server.Addr(), c.Server.Port()+uint16(run))
				s = a.Open(dissect.ConnInfo{Client: c.Client, Server: server, Start: now, SYN: true, DetectedBy: "port"})
				sessions[e.Conn] = s
			}
			s.Feed(e.Dir, now, bytes.Clone(e.Data))
		}
		for _, s := range sessions {
			if s != nil {
				now = now.Add(time.Millisecond)
				s.End(now, true)
			}
		}
		now = now.Add(time.Hour)
	}
}

// TestJSONStreamMatchesBatch holds the streamed JSON document (sessions
// and conversations spooled as they become final, to memory or to a
// temporary file) to the one written from all sessions kept to the end.
func TestJSONStreamMatchesBatch(t *testing.T) {
	names, err := filepath.Glob("../testdata/*.txt")
	if err != nil || len(names) < 10 {
		t.Fatalf("transcripts: %v %v", names, err)
	}
	capture := Capture{Packets: 10, Bytes: 1000, Anomalies: []Count{}}
	// The user and index records are sorted in memory or, with
	// sortMemory 256, in runs of a few records each.
	for _, mem := range []int{spoolMemory, 0, 4096, -256} {
		var got bytes.Buffer
		out := NewOutput(&got, Options{Format: FormatJSON})
		keep := &keepSessions{Handler: out}
		saved, savedSort := spoolMemory, sortMemory
		spoolMemory = mem
		if mem < 0 {
			spoolMemory, sortMemory = 0, -mem
		}
		replayAll(t, names, keep)
		if err := out.Close(capture); err != nil {
			t.Fatal(err)
		}
		spoolMemory, sortMemory = saved, savedSort
		if runs, idx := out.js.users.merged, out.js.entries.merged; mem < 0 && min(runs, idx) < 10 {
			t.Fatalf("sort memory %d: the user and index records were sorted in %d and %d runs: the merge is not tested", -mem, runs, idx)
		}
		var want bytes.Buffer
		if err := writeJSON(&want, capture, keep.ss); err != nil {
			t.Fatal(err)
		}
		if d := firstDiff(got.Bytes(), want.Bytes()); d != "" {
			t.Fatalf("spool memory %d: streamed JSON differs from the batch document %s", mem, d)
		}
		if n := bytes.Count(got.Bytes(), []byte(`"session_id"`)); n < 5 {
			t.Fatalf("only %d conversations: the test covers too little", n)
		}
	}
}

// TestJSONStreamSettles checks that the streamed report lets go of what
// is final while it runs: after an hour of packet time nothing of the
// earlier transcripts is pending.
func TestJSONStreamSettles(t *testing.T) {
	names, err := filepath.Glob("../testdata/msnp*-chat.txt")
	if err != nil || len(names) == 0 {
		t.Fatalf("transcripts: %v %v", names, err)
	}
	out := NewOutput(&bytes.Buffer{}, Options{Format: FormatJSON})
	replayAll(t, append(names, names...), out)
	defer out.Close(Capture{})
	j := out.js
	if j.finals == 0 || j.finalConvs == 0 {
		t.Fatalf("%d sessions, %d conversations final before Close: nothing settles while running", j.finals, j.finalConvs)
	}
	if len(j.keyOf) != 0 {
		t.Errorf("%d chats open after their connections ended", len(j.keyOf))
	}
	// The dispatch sessions of later runs refer to the first run's
	// notification server address, which the port shift moved: their
	// referrals are never followed, and only they wait.
	for _, s := range j.pending {
		if s.AwaitingLinks() == 0 || s.Kind != dissect.KindDispatch {
			t.Errorf("session %d (%s) pending with %d links awaited", s.ID, s.Kind, s.AwaitingLinks())
		}
	}
}

// TestJSONSpoolUnwritable reports a temporary directory it cannot use as
// an output error that says what to do.
func TestJSONSpoolUnwritable(t *testing.T) {
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	saved := spoolMemory
	spoolMemory = 0
	defer func() { spoolMemory = saved }()
	out := NewOutput(&bytes.Buffer{}, Options{Format: FormatJSON})
	names, _ := filepath.Glob("../testdata/msnp2-chat.txt")
	replayAll(t, names, out)
	err := out.Close(Capture{})
	if err == nil || !strings.Contains(err.Error(), "TMPDIR") {
		t.Fatalf("Close with an unusable TMPDIR: %v", err)
	}
}

// writeJSON writes the report of all sessions as one indented JSON
// document, exactly as json.Encoder with a two-space indent would write a
// Report: the reference the streamed document (jsonReport) is held to.
func writeJSON(w io.Writer, c Capture, sessions []*dissect.Session) error {
	ss := slices.Clone(sessions)
	slices.SortStableFunc(ss, func(a, b *dissect.Session) int {
		if x := a.StartTime.Compare(b.StartTime); x != 0 {
			return x
		}
		return cmp.Compare(a.ID, b.ID)
	})
	jw := &jsonWriter{w: w}
	jw.head(c)
	jw.array(len(ss), func(i int) { r := NewSession(ss[i]); jw.value(&r, "    ") })
	convs := BuildConversations(sessions)
	jw.raw(",\n  \"conversations\": ")
	jw.array(len(convs), func(i int) { jw.value(&convs[i], "    ") })
	users := BuildUsers(sessions, convs)
	jw.raw(",\n  \"users\": ")
	jw.array(len(users), func(i int) { jw.value(&users[i], "    ") })
	jw.raw("\n}\n")
	return jw.err
}

// TestNDJSONHeldSessions holds a dispatch session's record until its
// referral is followed, and no longer than LinkWindow when it never is: the
// second run's referral points at the first run's port and is never
// followed, so its record comes out once the third run, an hour later,
// moves packet time on, and before that run's commands.
func TestNDJSONHeldSessions(t *testing.T) {
	var out bytes.Buffer
	o := NewOutput(&out, Options{Format: FormatNDJSON})
	name := "../testdata/msnp7-login.txt"
	replayAll(t, []string{name, name, name}, o)
	if err := o.Close(Capture{}); err != nil {
		t.Fatal(err)
	}
	var dispatch []int // line numbers of the dispatch session records
	var runs []int     // line numbers of each run's first command (VER 1)
	for i, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		switch {
		case strings.HasPrefix(line, `{"type":"session"`) && strings.Contains(line, `"kind":"dispatch"`):
			dispatch = append(dispatch, i)
			linked := !strings.Contains(line, `"session":null`)
			if want := len(dispatch) == 1; linked != want {
				t.Errorf("dispatch record %d: linked %v, want %v: %.300s", len(dispatch), linked, want, line)
			}
		case strings.HasPrefix(line, `{"type":"command"`) && strings.Contains(line, `"verb":"VER","trid":1,`) && strings.Contains(line, `"dir":"c2s"`):
			runs = append(runs, i)
		}
	}
	if len(dispatch) != 3 || len(runs) < 3 {
		t.Fatalf("dispatch records at lines %v, runs start at %v: want 3 of each", dispatch, runs)
	}
	if !(dispatch[1] < runs[2]) {
		t.Errorf("the second run's dispatch record (line %d) waits past the third run's start (line %d)", dispatch[1], runs[2])
	}
}

// firstDiff says where got and want first differ, with the text around
// it, or "" when they are equal.
func firstDiff(got, want []byte) string {
	if bytes.Equal(got, want) {
		return ""
	}
	i := 0
	for i < min(len(got), len(want)) && got[i] == want[i] {
		i++
	}
	return fmt.Sprintf("at byte %d:\ngot  %q\nwant %q", i, got[max(0, i-300):min(len(got), i+200)], want[max(0, i-300):min(len(want), i+200)])
}
