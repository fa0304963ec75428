package dissect

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVersionExamples runs the client-server example of every version page
// (testdata/*-example.txt, made from msnp-spec/versions/*.md) through the
// dissector whole and byte by byte: no anomaly, every transaction
// answered, the dispatch session linked to the notification session.
func TestVersionExamples(t *testing.T) {
	files, err := filepath.Glob("../testdata/*-example.txt")
	if err != nil || len(files) < 13 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			tr := loadTranscript(t, name)
			for _, split := range []int{0, 1} {
				r := feedTranscript(t, tr, split)
				checkClean(t, r, split, true)
				if strings.HasPrefix(name, "msnp") {
					ds := r.ended[0]
					if ds.Kind != KindDispatch || len(ds.Redirects) == 0 || ds.Redirects[0].Session == 0 {
						t.Errorf("dispatch session: kind %s redirects %+v", ds.Kind, ds.Redirects)
					}
					ns := r.ended[1]
					want := strings.ToUpper(strings.TrimSuffix(name, "-example.txt"))
					if ns.Version.Selected != want || ns.Auth == nil || ns.Auth.Result != StatusOK {
						t.Errorf("notification session: version %+v auth %+v, want %s", ns.Version, ns.Auth, want)
					}
					if ns.Version.Number >= 13 && ds.Redirects[0].From != "" {
						t.Errorf("MSNP13+ referral has From %q", ds.Redirects[0].From)
					}
				}
			}
		})
	}
}

// TestHandWrittenSessions: the hand-written MSNP15, MSNP18 and MSNP21
// sessions and the switchboard transcripts parse with no anomaly, whole
// and byte by byte.
func TestHandWrittenSessions(t *testing.T) {
	for _, name := range []string{"msnp15-session.txt", "msnp18-session.txt", "msnp21-session.txt", "msnp2-chat.txt",
		"msnp8-multiparty.txt", "msnp8-invite.txt", "msnp9-p2p.txt", "ns-missing.txt"} {
		t.Run(name, func(t *testing.T) {
			tr := loadTranscript(t, name)
			for _, split := range []int{0, 1} {
				checkClean(t, feedTranscript(t, tr, split), split, false)
			}
		})
	}
}

// TestBrokenAnomalies: every fault seeded in broken-anomalies.txt is
// reported exactly once, in order, and nothing else is. The expected list
// is the file's own "expected anomalies:" header line.
func TestBrokenAnomalies(t *testing.T) {
	text, err := os.ReadFile("../testdata/broken-anomalies.txt")
	if err != nil {
		t.Fatal(err)
	}
	// The list may continue on the comment lines that follow it.
	var want []string
	in := false
	for _, line := range strings.Split(string(text), "\n") {
		rest, ok := strings.CutPrefix(line, "# expected anomalies: ")
		if !ok && in {
			rest, ok = strings.CutPrefix(line, "# ")
		}
		in = ok
		if !ok {
			continue
		}
		for _, f := range strings.Split(rest, ",") {
			if kind, _, _ := strings.Cut(strings.TrimSpace(f), " "); kind != "" {
				want = append(want, kind)
			}
		}
	}
	if len(want) < 9 {
		t.Fatalf("expected-anomalies line not found or short: %v", want)
	}
	tr := loadTranscript(t, "broken-anomalies.txt")
	for _, split := range []int{0, 1, 5} {
		r := feedTranscript(t, tr, split)
		var got []string
		for _, a := range r.anomalies {
			got = append(got, a.Kind)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("split %d: anomalies %v, want %v", split, got, want)
		}
	}
}

// checkClean fails the test for any anomaly, session of unknown kind or
// unmatched reply, and with answered for any transaction not ok.
func checkClean(t *testing.T, r *recorder, split int, answered bool) {
	t.Helper()
	for _, a := range r.anomalies {
		t.Errorf("split %d: anomaly %s %q: %s", split, a.Kind, a.Line, a.Detail)
	}
	for _, s := range r.ended {
		if s.Kind == KindUnknown {
			t.Errorf("session %d: kind unknown", s.ID)
		}
		for _, tx := range s.Transactions {
			if answered && tx.Status != StatusOK {
				t.Errorf("session %d: %s %d is %s", s.ID, tx.Verb, tx.TrID, tx.Status)
			}
		}
		if s.UnmatchedReplies != 0 {
			t.Errorf("session %d: %d unmatched replies", s.ID, s.UnmatchedReplies)
		}
	}
}
