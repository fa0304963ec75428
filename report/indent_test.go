package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// checkIndent holds appendIndent to json.Indent on the compact form of
// src, which must be valid JSON.
func checkIndent(t *testing.T, src []byte, prefix string) {
	t.Helper()
	var compact, want bytes.Buffer
	if err := json.Compact(&compact, src); err != nil {
		t.Fatalf("compact: %v", err)
	}
	if err := json.Indent(&want, compact.Bytes(), prefix, "  "); err != nil {
		t.Fatalf("indent: %v", err)
	}
	got := appendIndent([]byte("x"), compact.Bytes(), prefix, "  ")
	if !bytes.Equal(got[1:], want.Bytes()) {
		t.Fatalf("appendIndent(%.200q, %q)\ngot  %.300q\nwant %.300q", compact.Bytes(), prefix, got[1:], want.Bytes())
	}
}

// TestAppendIndentGoldens indents every JSON golden file and every NDJSON
// golden line as json.Indent does.
func TestAppendIndentGoldens(t *testing.T) {
	names, _ := filepath.Glob("../testdata/*.json.golden")
	nd, _ := filepath.Glob("../testdata/*/*.ndjson.golden")
	if len(names) < 5 || len(nd) < 1 {
		t.Fatalf("goldens: %d json, %d ndjson", len(names), len(nd))
	}
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		checkIndent(t, b, "")
		checkIndent(t, b, "    ")
	}
	for _, name := range nd {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			checkIndent(t, line, "  ")
		}
	}
}

func FuzzAppendIndent(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":[1,{},[]],"b\"":"x\\\"y","c":{"d":null}}`, `"s"`, `[{"x":"{[,:]}"}]`, `{"a":"\u2028\\"}`} {
		f.Add([]byte(s), "  ")
	}
	f.Fuzz(func(t *testing.T, src []byte, prefix string) {
		appendIndent(nil, src, prefix, "  ") // never panics, whatever src is
		if json.Valid(src) {
			checkIndent(t, src, prefix)
		}
	})
}
