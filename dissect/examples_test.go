package dissect

import (
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
				for _, a := range r.anomalies {
					t.Errorf("split %d: anomaly %s %q: %s", split, a.Kind, a.Line, a.Detail)
				}
				for _, s := range r.ended {
					if s.Kind == KindUnknown {
						t.Errorf("session %d: kind unknown", s.ID)
					}
					for _, tx := range s.Transactions {
						if tx.Status != StatusOK {
							t.Errorf("session %d: %s %d is %s", s.ID, tx.Verb, tx.TrID, tx.Status)
						}
					}
					if s.UnmatchedReplies != 0 {
						t.Errorf("session %d: %d unmatched replies", s.ID, s.UnmatchedReplies)
					}
				}
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
