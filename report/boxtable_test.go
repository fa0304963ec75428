package report

import (
	"bytes"
	"cmp"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/msnsniff/msnsniff/dissect"
	"github.com/olekukonko/tablewriter/pkg/twwidth"
)

// boxPieces are what cells are made of: what the overview shows (numbers,
// kinds, addresses, times, states, sanitized names), and text whose
// display width is not its length in bytes.
var boxPieces = []string{
	"", "1", "22", "dispatch", "notification", "192.168.0.2:50000", "[2001:db8::1]:1863", "2024-09-14T13:52:40.000000Z",
	"1m2.5s", "MSNP8", "MD5 OK", "open, partial", "-", "a@b.c", `\u001b[31m`, "é", "e\u0301", "😀", "👩‍💻", "中文字",
	"±…", "ｗｉｄｅ", "\u200b", " ", "  ", "x ", " y", "a  b", strings.Repeat("w", 120),
}

// TestBoxTableMatchesTablewriter holds writeBox to tablewriter (p.table)
// on random tables whose cells boxRows takes as plain, and checks that
// the cells it does not are the ones tablewriter changes.
func TestBoxTableMatchesTablewriter(t *testing.T) {
	plainSeen := 0
	for seed := range uint64(1200) {
		r := rand.New(rand.NewPCG(seed, 11))
		cell := func() string {
			s := ""
			for range r.IntN(4) {
				s += boxPieces[r.IntN(len(boxPieces))]
			}
			return s
		}
		cols := 1 + r.IntN(13)
		header := make([]string, cols)
		for i := range header {
			header[i] = []string{"ID", "Kind", "Client", "Duration", "Anomalies", "State", "Ünï", "中"}[r.IntN(8)]
		}
		rows := make([][]string, r.IntN(30))
		br := newBoxRows(header)
		for i := range rows {
			rows[i] = make([]string, cols)
			for c := range rows[i] {
				rows[i][c] = cell()
			}
			if err := br.add(rows[i]); err != nil {
				t.Fatal(err)
			}
		}
		if !br.complex {
			plainSeen++
		}
		var want, got, viaTable bytes.Buffer
		(&tablePrinter{w: &want}).viaTablewriter(header, rows)
		q := &tablePrinter{w: &got}
		err := q.writeRows(header, br)
		br.close()
		if err = cmp.Or(err, q.err); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Fatalf("seed %d: writeBox differs from tablewriter\nrows %q\ntablewriter:\n%s\nwriteBox:\n%s", seed, rows, want.String(), got.String())
		}
		(&tablePrinter{w: &viaTable}).table(header, rows)
		if viaTable.String() != want.String() {
			t.Fatalf("seed %d: table differs from tablewriter\nrows %q\ntablewriter:\n%s\ntable:\n%s", seed, rows, want.String(), viaTable.String())
		}
	}
	if plainSeen < 400 {
		t.Fatalf("only %d of 1200 tables were plain", plainSeen)
	}
	// What plain turns away includes what tablewriter lays out otherwise.
	for _, c := range []string{"a\nb", "a\tb"} {
		if plain(c) {
			t.Errorf("plain(%q) = true", c)
		}
		var want, got, viaTable bytes.Buffer
		(&tablePrinter{w: &want}).viaTablewriter([]string{"A"}, [][]string{{c}})
		br := newBoxRows([]string{"A"})
		br.add([]string{c})
		(&tablePrinter{w: &got}).writeBox([]string{"A"}, br.widths, br.each)
		br.close()
		if got.String() == want.String() {
			t.Errorf("%q: tablewriter lays it out as writeBox would", c)
		}
		(&tablePrinter{w: &viaTable}).table([]string{"A"}, [][]string{{c}})
		if viaTable.String() != want.String() {
			t.Errorf("%q: table does not leave it to tablewriter", c)
		}
	}
}

// TestBoxRowsSpool reads rows back through the spool's file, not only its
// memory.
func TestBoxRowsSpool(t *testing.T) {
	defer func(n int) { spoolMemory = n }(spoolMemory)
	spoolMemory = 64
	br := newBoxRows([]string{"A", "B"})
	defer br.close()
	var want [][]string
	for i := range 500 {
		row := []string{strings.Repeat("x", i%7), strings.Repeat("é", i%5)}
		want = append(want, row)
		if err := br.add(row); err != nil {
			t.Fatal(err)
		}
	}
	i := 0
	if err := br.each(func(row []string) error {
		if row[0] != want[i][0] || row[1] != want[i][1] {
			t.Fatalf("row %d: %q, want %q", i, row, want[i])
		}
		i++
		return nil
	}); err != nil || i != len(want) {
		t.Fatalf("read %d rows, %v", i, err)
	}
}

// TestOverviewWithControls runs sessions whose user handle has a tab or
// an escape sequence through the table output, raw and escaped: whichever
// way the overview is written (tablewriter for a cell with a control
// character, writeBox otherwise), it is tablewriter's layout of the
// session's row.
func TestOverviewWithControls(t *testing.T) {
	for _, handle := range []string{"bad\tuser@hotmail.com", "bad\x1b[31muser@hotmail.com"} {
		for _, raw := range []bool{true, false} {
			var got bytes.Buffer
			out := NewOutput(&got, Options{Format: FormatTable, Raw: raw})
			keep := &keepSessions{Handler: out}
			d := &drv{a: dissect.NewAnalyzer(keep, dissect.Limits{}), now: zt0}
			s := d.open("192.168.0.2:50000", "10.0.0.1:1863")
			d.c(s, "VER 1 MSNP8 CVR0")
			d.s(s, "VER 1 MSNP8")
			d.c(s, "USR 2 TWN I "+handle)
			d.end(s)
			if err := out.Close(Capture{Anomalies: []Count{}}); err != nil {
				t.Fatal(err)
			}
			r := NewSession(keep.ss[0])
			var want bytes.Buffer
			p := &tablePrinter{w: &want, raw: raw}
			row := p.overviewRow(&r)
			if !strings.Contains(strings.Join(row, ""), "user@hotmail.com") {
				t.Fatalf("%q: the row has no user: %q", handle, row)
			}
			p.viaTablewriter(overviewHeader, [][]string{row})
			if !strings.Contains(got.String(), want.String()) {
				t.Errorf("%q, raw %v: the overview is not tablewriter's\n%s\nwant in it:\n%s", handle, raw, got.String(), want.String())
			}
		}
	}
}

// TestWidthMatchesTwwidth holds width's ASCII shortcut to twwidth.Width:
// every byte alone and after a letter, and random strings of ASCII,
// escapes and other characters.
func TestWidthMatchesTwwidth(t *testing.T) {
	var cases []string
	for b := range 256 {
		cases = append(cases, string([]byte{byte(b)}), "a"+string([]byte{byte(b)})+"b")
	}
	rng := rand.New(rand.NewPCG(7, 7))
	parts := []string{"a", "Z", " ", "~", "\x1b[31m", "\t", "\x7f", "é", "中", "😀", "\u200b", "\x00"}
	for range 2000 {
		var b strings.Builder
		for range rng.IntN(12) {
			b.WriteString(parts[rng.IntN(len(parts))])
		}
		cases = append(cases, b.String())
	}
	for _, c := range cases {
		if got, want := width(c), twwidth.Width(c); got != want {
			t.Errorf("width(%q) = %d, twwidth.Width = %d", c, got, want)
		}
	}
}
