package dissect

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// recorder is a Handler that keeps everything it is given.
type recorder struct {
	cmds      []*Command
	anomalies []Anomaly
	ended     []*Session
}

func (r *recorder) Command(s *Session, c *Command) { r.cmds = append(r.cmds, c.Clone()) }
func (r *recorder) Anomaly(s *Session, a *Anomaly) { r.anomalies = append(r.anomalies, *a) }
func (r *recorder) SessionEnd(s *Session)          { r.ended = append(r.ended, s) }

var t0 = time.Date(2024, 9, 14, 13, 52, 40, 0, time.UTC)

// feedTranscript runs a transcript through an Analyzer, one event per
// Feed call split every split bytes (0: whole events), one session per
// connection, each connection ending after its last event.
func feedTranscript(t *testing.T, tr *Transcript, split int) *recorder {
	t.Helper()
	r := &recorder{}
	tr.Play(NewAnalyzer(r, Limits{}), t0, func(s *Session, e TranscriptEvent, now time.Time) {
		if split <= 0 {
			s.Feed(e.Dir, now, e.Data)
			return
		}
		for data := e.Data; len(data) > 0; data = data[min(split, len(data)):] {
			k := min(split, len(data))
			s.Feed(e.Dir, now, data[:k])
			for j := range data[:k] {
				data[j] = 'X' // the session must not keep fed bytes
			}
		}
	})
	return r
}

func loadTranscript(t *testing.T, name string) *Transcript {
	t.Helper()
	tr, err := ReadTranscript("../testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestMSNP7Sessions(t *testing.T) {
	tr := loadTranscript(t, "msnp7-login.txt")
	for _, split := range []int{0, 1, 2, 3, 7, 64} {
		r := feedTranscript(t, tr, split)
		if len(r.ended) != 2 {
			t.Fatalf("split %d: %d sessions, want 2", split, len(r.ended))
		}
		if len(r.anomalies) != 0 {
			t.Errorf("split %d: anomalies %+v", split, r.anomalies)
		}
		ds, ns := r.ended[0], r.ended[1]
		if ds.Kind != KindDispatch || ns.Kind != KindNotification {
			t.Errorf("split %d: kinds %s/%s", split, ds.Kind, ns.Kind)
		}
		if len(ds.Redirects) != 1 || ds.Redirects[0].To != "10.0.0.5:1863" || ds.Redirects[0].From != "10.0.0.1:1863" || ds.Redirects[0].Session != ns.ID {
			t.Errorf("split %d: redirects %+v", split, ds.Redirects)
		}
		if ns.Parent != ds.ID {
			t.Errorf("split %d: parent %d", split, ns.Parent)
		}
		if ns.Version.Selected != "MSNP7" || len(ns.Version.Offered) != 5 {
			t.Errorf("split %d: version %+v", split, ns.Version)
		}
		if ns.Auth == nil || ns.Auth.Method != "MD5" || ns.Auth.User != "example@hotmail.com" || ns.Auth.Result != StatusOK {
			t.Errorf("split %d: auth %+v", split, ns.Auth)
		}
		var ops []string
		for _, op := range ns.GroupOps {
			ops = append(ops, op.Op+" "+op.GroupID+" "+op.Name+" "+op.Contact+" "+string(op.Status))
		}
		want := []string{
			"ADG 2 New Group 1  ok",
			"REG 2 Cool People  ok",
			"ADD 2 Cool People anotheruser@hotmail.com ok",
			"REM 2 Cool People anotheruser@hotmail.com ok",
			"RMG 2 Cool People  ok",
		}
		if len(ops) != len(want) {
			t.Fatalf("split %d: ops %q", split, ops)
		}
		for i := range want {
			if ops[i] != want[i] {
				t.Errorf("split %d: op %d = %q, want %q", split, i, ops[i], want[i])
			}
		}
		groups := map[string]string{}
		for _, g := range ns.Groups() {
			groups[g.ID] = g.Name
		}
		if len(groups) != 2 || groups["0"] != "Other Contacts" || groups["1"] != "Friends" {
			t.Errorf("split %d: groups %v", split, groups)
		}
		for _, tx := range ns.Transactions {
			if tx.Status != StatusOK {
				t.Errorf("split %d: transaction %d %s is %s", split, tx.TrID, tx.Verb, tx.Status)
			}
		}
	}
}

// TestEvictions checks the anomaly each way of ending a session early
// records, once, before End, and that nothing is recorded after End.
func TestEvictions(t *testing.T) {
	tests := []struct {
		name      string
		transport string
		evict     func(s *Session, t time.Time)
		kind      string
		detail    string
	}{
		{"connection", "", (*Session).Evict, "evicted_connection", "connection ended early"},
		{"gateway connection", "http-gateway", (*Session).Evict, "evicted_connection", "HTTP connection of the gateway session ended early"},
		{"gateway session", "http-gateway", (*Session).EvictGatewaySession, "evicted_gateway_session", "gateway session ended early"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{}
			s := NewAnalyzer(r, Limits{}).Open(ConnInfo{Start: t0, SYN: true, Transport: tt.transport})
			s.Feed(C2S, t0, []byte("VER 1 MSNP8 CVR0\r\n"))
			tt.evict(s, t0.Add(time.Second))
			s.End(t0.Add(time.Second), false)
			tt.evict(s, t0.Add(2*time.Second))
			if len(r.anomalies) != 1 || r.anomalies[0].Kind != tt.kind || !strings.HasPrefix(r.anomalies[0].Detail, tt.detail) ||
				!r.anomalies[0].Time.Equal(t0.Add(time.Second)) {
				t.Fatalf("anomalies %+v; want one %s at 1s, detail %q...", r.anomalies, tt.kind, tt.detail)
			}
			if s.AnomalyCounts[tt.kind] != 1 || s.Closed || len(r.ended) != 1 {
				t.Errorf("counts %v, closed %v, %d ends; want 1 %s, open, 1 end", s.AnomalyCounts, s.Closed, len(r.ended), tt.kind)
			}
		})
	}
}

// TestNoteHTTPConnectionLimit checks that the HTTP connections beyond the
// listing limit are counted, and that a listed one noted again is not.
func TestNoteHTTPConnectionLimit(t *testing.T) {
	s := NewAnalyzer(&recorder{}, Limits{}).Open(ConnInfo{SYN: true, Start: t0, Transport: "http-gateway"})
	for i := range maxHTTPConnections + 6 {
		s.NoteHTTPConnection(fmt.Sprintf("192.168.0.2:%d -> 10.0.0.80:80", 10000+i))
	}
	s.NoteHTTPConnection("192.168.0.2:10000 -> 10.0.0.80:80")
	if len(s.HTTPConnections) != maxHTTPConnections || s.UnlistedHTTPConnections != 6 {
		t.Errorf("%d listed, %d unlisted; want %d, 6", len(s.HTTPConnections), s.UnlistedHTTPConnections, maxHTTPConnections)
	}
}

// TestTimeJump checks the anomaly of bytes that came in a packet dated
// alone far from the capture's clock, and how its distance reads.
func TestTimeJump(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	a := NewAnalyzer(rec, Limits{})
	t0 := time.Date(2024, 9, 14, 13, 52, 40, 0, time.UTC)
	s := a.Open(ConnInfo{Start: t0, SYN: true})
	s.Feed(C2S, t0, []byte("VER 1 MSNP8 CVR0\r\n"))
	far := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	s.TimeJump(C2S, far, far.Sub(t0))
	s.Feed(C2S, far, []byte("CVR 2 0x0409 win 4.10 i386 MSNMSGR 5.0.0544 MSMSGS example@hotmail.com\r\n"))
	s.TimeJump(S2C, t0.Add(-3*time.Hour), -3*time.Hour)
	s.End(t0.Add(time.Second), true)
	var got []string
	for _, an := range s.Anomalies {
		got = append(got, fmt.Sprintf("%s %s %v %d %s", an.Kind, an.Time.Format(time.RFC3339), an.Dir, an.Offset, an.Detail))
	}
	want := []string{
		"jumped_timestamp 2100-01-01T00:00:00Z c2s 18 packet time lies 75.3 years (660034h7m20s) after the capture's clock, alone (taken for a damaged timestamp); the commands it carried keep it",
		"jumped_timestamp 2024-09-14T10:52:40Z s2c 0 packet time lies 3h0m0s before the capture's clock, alone (taken for a damaged timestamp); the commands it carried keep it",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("anomalies (-want +got):\n%s", diff)
	}
	if got := longDuration(50 * time.Hour); got != "2.1 days (50h0m0s)" {
		t.Errorf("longDuration(50h) = %q", got)
	}
}
