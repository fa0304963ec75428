package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/msnsniff/msnsniff/dissect"
)

// The tests here hold the appenders of append.go to encoding/json: each
// must write exactly what json.Encoder with SetEscapeHTML(false) writes.

// encodeJSON is the reference: v as json.Encoder writes it with HTML
// escaping off, less the trailing newline.
func encodeJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		tb.Fatalf("encoding/json: %v", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// sameJSON fails tb when got differs from want, showing where.
func sameJSON(tb testing.TB, what string, got, want []byte) {
	tb.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(0, i-60)
	tb.Fatalf("%s: appender and encoding/json differ at byte %d:\n got  ...%q\n want ...%q",
		what, i, got[from:min(len(got), i+60)], want[from:min(len(want), i+60)])
}

// checkAppend compares f(nil, v), the compact form, with encoding/json's
// v, and the indented forms with Encoder.SetIndent's: f with an indenter
// (reused, so that it must come back to its depth), and appendIndent of
// the compact form.
func checkAppend[T any](tb testing.TB, what string, v *T, f func(*indenter, []byte, *T) []byte) {
	tb.Helper()
	prefix := []byte("junk") // appenders append, they do not overwrite
	got := f(nil, bytes.Clone(prefix), v)
	if !bytes.HasPrefix(got, prefix) {
		tb.Fatalf("%s: appender overwrote dst", what)
	}
	got = got[len(prefix):]
	sameJSON(tb, what, got, encodeJSON(tb, v))

	for _, pre := range []string{"    ", ""} {
		var ind bytes.Buffer
		enc := json.NewEncoder(&ind)
		enc.SetEscapeHTML(false)
		enc.SetIndent(pre, "  ")
		if err := enc.Encode(v); err != nil {
			tb.Fatal(err)
		}
		want := bytes.TrimSuffix(ind.Bytes(), []byte("\n"))
		sameJSON(tb, what+" indented", appendIndent(nil, got, pre, "  "), want)
		in := newIndenter(pre, "  ")
		for range 2 {
			sameJSON(tb, what+" written indented", f(in, nil, v), want)
		}
	}
}

// record adapts the appender of an NDJSON record, which is written
// compact only, to checkAppend: its indented form is appendIndent's.
func record[T any](f func([]byte, *T) []byte) func(*indenter, []byte, *T) []byte {
	return func(in *indenter, dst []byte, v *T) []byte {
		if in == nil {
			return f(dst, v)
		}
		// At the top level, the indenter's line lead is "\n" and the
		// prefix.
		return appendIndent(dst, f(nil, v), string(in.lead[1:in.n]), in.indent)
	}
}

// checker is a dissect.Handler that checks every record as it arrives:
// each command (as is and redacted, through appendCommand and
// appendCommandRecord), each anomaly and each ended session. It also runs
// the ndjsonWriter and the encoding/json writer it replaced side by side,
// for Output.
type checker struct {
	tb       testing.TB
	enc      commandEncoder
	sessions []*dissect.Session
	commands int

	nd       *ndjsonWriter
	newLines bytes.Buffer
	old      *json.Encoder
	oldLines bytes.Buffer
}

func newChecker(tb testing.TB) *checker {
	k := &checker{tb: tb}
	k.nd = newNDJSONWriter(&k.newLines)
	k.old = json.NewEncoder(&k.oldLines)
	k.old.SetEscapeHTML(false)
	return k
}

func (k *checker) Command(s *dissect.Session, c *dissect.Command) {
	k.commands++
	for _, c := range []*dissect.Command{c, redactCommand(c)} {
		want := encodeJSON(k.tb, NewCommandRecord(c))
		sameJSON(k.tb, fmt.Sprintf("command %q", c.Line()), k.enc.appendCommand(nil, c), want)
		r := NewCommandRecord(c)
		sameJSON(k.tb, fmt.Sprintf("command record %q", c.Line()), appendCommandRecord(nil, &r), want)
	}
	if err := k.nd.command(c); err != nil {
		k.tb.Fatal(err)
	}
	if err := k.old.Encode(NewCommandRecord(c)); err != nil {
		k.tb.Fatal(err)
	}
}

func (k *checker) Anomaly(s *dissect.Session, a *dissect.Anomaly) {
	x := NewAnomaly(a)
	checkAppend(k.tb, "anomaly "+a.Kind, &x, appendAnomaly)
	r := AnomalyRecord{Type: "anomaly", Session: s.ID, Anomaly: x}
	checkAppend(k.tb, "anomaly record "+a.Kind, &r, record(appendAnomalyRecord))
	if err := k.nd.anomaly(s.ID, a); err != nil {
		k.tb.Fatal(err)
	}
	if err := k.old.Encode(r); err != nil {
		k.tb.Fatal(err)
	}
}

func (k *checker) SessionEnd(s *dissect.Session) {
	k.sessions = append(k.sessions, s)
	x := NewSession(s)
	checkAppend(k.tb, "session", &x, appendSession)
	r := SessionRecord{Type: "session", Session: x}
	checkAppend(k.tb, "session record", &r, record(appendSessionRecord))
	if err := k.nd.session(s); err != nil {
		k.tb.Fatal(err)
	}
	if err := k.old.Encode(SessionRecord{Type: "session", Session: NewSession(s)}); err != nil {
		k.tb.Fatal(err)
	}
}

// finish checks what is built from all sessions at the end — the
// conversations, the users, the summary and the whole report — and the
// NDJSON lines written along the way.
func (k *checker) finish(c Capture) {
	convs := BuildConversations(k.sessions)
	for i := range convs {
		checkAppend(k.tb, "conversation", &convs[i], appendConversation)
	}
	users := BuildUsers(k.sessions, convs)
	for i := range users {
		checkAppend(k.tb, "user", &users[i], appendUser)
	}
	checkAppend(k.tb, "capture", &c, appendCapture)
	r := &Report{SchemaVersion: SchemaVersion, Capture: c, Sessions: []Session{}, Conversations: convs, Users: users}
	for _, s := range k.sessions {
		r.Sessions = append(r.Sessions, NewSession(s))
	}
	SortSessions(r.Sessions)
	checkAppend(k.tb, "report", r, appendReport)

	if err := k.nd.summary(c); err != nil {
		k.tb.Fatal(err)
	}
	if err := k.old.Encode(SummaryRecord{Type: "summary", SchemaVersion: SchemaVersion, Capture: c}); err != nil {
		k.tb.Fatal(err)
	}
	sameJSON(k.tb, "ndjson output", k.newLines.Bytes(), k.oldLines.Bytes())
}

var t0 = time.Date(2024, 9, 14, 13, 52, 40, 0, time.UTC)

// runTranscript runs a transcript through an Analyzer reporting to h, a
// millisecond of packet time per event, each connection ending after its
// last event.
func runTranscript(tr *dissect.Transcript, h dissect.Handler, lim dissect.Limits) {
	tr.Play(dissect.NewAnalyzer(h, lim), t0, nil)
}

func loadTranscript(tb testing.TB, path string) *dissect.Transcript {
	tb.Helper()
	tr, err := dissect.ReadTranscript(path)
	if err != nil {
		tb.Fatal(err)
	}
	return tr
}

// tightLimits make payloads partial and lines too long, for anomalies
// and cut payloads (as in dissect's FuzzSession).
var tightLimits = dissect.Limits{MaxLine: 64, MaxPayload: 256, RetainPayload: 32, MaxPending: 4, MaxTransactions: 8}

// TestAppendTranscripts runs every transcript in testdata/ through the
// dissector, under the default and under tight limits, and holds every
// command, anomaly, session, conversation, user and report to
// encoding/json.
func TestAppendTranscripts(t *testing.T) {
	names, err := filepath.Glob("../testdata/*.txt")
	if err != nil || len(names) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	first, last := Time{t0}, Time{t0.Add(time.Hour)}
	capture := Capture{
		Files:   []File{{Name: "a<b>&c.pcap", Format: "pcap", LinkType: "Ethernet", Packets: 10, Bytes: 1000, Complete: true}},
		Packets: 10, Bytes: 1000, First: &first, Last: &last, Connections: 2,
		Skipped:   []Count{{Name: "non_ip", Count: 0}, {Name: "other_port", Count: 3}},
		Anomalies: []Count{},
		Errors:    []string{"x.pcap: packet 7: \x00 cut"},
		Live:      &Live{Interface: "eth0", Received: 5, Dropped: 1},
	}
	for _, name := range names {
		tr := loadTranscript(t, name)
		for _, lim := range []struct {
			name string
			lim  dissect.Limits
		}{{"default", dissect.Limits{}}, {"tight", tightLimits}} {
			t.Run(filepath.Base(name)+"/"+lim.name, func(t *testing.T) {
				k := newChecker(t)
				runTranscript(tr, k, lim.lim)
				k.finish(capture)
				if k.commands == 0 || len(k.sessions) == 0 {
					t.Fatalf("%d commands, %d sessions: nothing checked", k.commands, len(k.sessions))
				}
			})
		}
	}
}

// TestAppendCapture covers the capture shapes: nothing read (nil slices,
// null times) and every field set.
func TestAppendCapture(t *testing.T) {
	first := Time{time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.FixedZone("x", 3600))}
	tests := []struct {
		name string
		c    Capture
	}{
		{"zero", Capture{}},
		{"empty slices", Capture{Files: []File{}, Skipped: []Count{}, Anomalies: []Count{}, Errors: []string{}, Gateway: []Count{}}},
		{"full", Capture{
			Files:   []File{{Name: "a.pcapng", Format: "pcapng", LinkType: "Linux SLL", Packets: -1, Bytes: math.MaxInt64}, {Name: "-"}},
			Packets: math.MinInt64, Bytes: 1, First: &first, Last: &first, Connections: -7,
			Skipped: []Count{{"decode_error", 9}}, Anomalies: []Count{{"bad_length", 1}},
			Errors: []string{"\u2028", "\xff"}, Live: &Live{}, Gateway: []Count{{"requests", 4}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkAppend(t, "capture", &tt.c, appendCapture)
			r := SummaryRecord{Type: "summary", SchemaVersion: SchemaVersion, Capture: tt.c}
			checkAppend(t, "summary", &r, record(appendSummaryRecord))
		})
	}
}

// nastyStrings are strings that encoding/json escapes or rewrites.
var nastyStrings = []string{
	"", "plain", `"quoted"`, `back\slash`, "<b>&amp;</b>", "tab\there", "\b\f\n\r\t\v\x00\x01\x1b\x1f", "\x7f",
	"\u2028\u2029", "a\u2028b\u2029c", "\u00e9t\u00e9 \u65e5\u672c \U0001F600", "\xff", "\xfe\xff", "\xc0\x80",
	"\xe2\x80", "\xe2\x80\xa8", "\xe2\x80\xa9", "\xe2\x80\xaa", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf0\x9f\x98",
	"ok\xe2", "\xc3", "%41%42%zz%", "%C3%A9", "%E2%80%A8", "%FF%00", "%", "%4", "%%41", "%1B%5B2J",
	"\ufffd", "\ufeff", "\u0085", "</script>",
}

// TestAppendString checks string escaping byte by byte: every single
// byte, and strings with every kind of escape and invalid UTF-8.
func TestAppendString(t *testing.T) {
	ss := slices.Clone(nastyStrings)
	for b := 0; b < 256; b++ {
		ss = append(ss, string([]byte{byte(b)}), "x"+string([]byte{byte(b)})+"y")
	}
	for r := rune(0x80); r < 0x3000; r += 7 {
		ss = append(ss, string(r))
	}
	for _, s := range ss {
		want := encodeJSON(t, s)
		sameJSON(t, fmt.Sprintf("string %q", s), appendString(nil, s), want)
		sameJSON(t, fmt.Sprintf("bytes %q", s), appendString(nil, []byte(s)), want)
	}
}

// TestAppendUnescape holds appendUnescape and decodes to
// dissect.Unescape, which they stand in for.
func TestAppendUnescape(t *testing.T) {
	for _, s := range append(slices.Clone(nastyStrings), "%2", "a%2", "%20%", "%%%", "%g0", "%0g", "%aF", "%Af%") {
		want := dissect.Unescape(s)
		if got := string(appendUnescape(nil, s)); got != want {
			t.Errorf("appendUnescape(%q) = %q, want %q", s, got, want)
		}
		if got := decodes(s); got != (want != s) {
			t.Errorf("decodes(%q) = %v, want %v", s, got, want != s)
		}
	}
}

// TestAppendCommand covers commands built by hand: no arguments (nil and
// empty), no TrID, error codes, hostile arguments, invalid UTF-8 in the
// line, URL escapes, and the payload forms (MSG MIME, MSNP21 blocks,
// neither, binary, lost bytes).
func TestAppendCommand(t *testing.T) {
	tests := []struct {
		name string
		c    dissect.Command
	}{
		{"nil args", dissect.Command{Verb: "OUT", PayloadLen: -1}},
		{"empty args", dissect.Command{Verb: "INF", HasTrID: true, TrID: 2, Args: []string{}, PayloadLen: -1}},
		{"error", dissect.Command{Verb: "911", HasTrID: true, TrID: 3, ErrorCode: 911, Role: dissect.RoleError, Dir: dissect.S2C, PayloadLen: -1}},
		{"hostile args", dissect.Command{Verb: "NLN", Args: nastyStrings, PayloadLen: -1}},
		{"invalid verb", dissect.Command{Verb: "\xffAB", Args: []string{"x"}, PayloadLen: -1}},
		{"escapes", dissect.Command{Verb: "ILN", Args: []string{"NLN", "a@b.c", "Bob%20%E2%80%A8%1B", "%C3%A9%C3"}, PayloadLen: -1}},
		{"msg", dissect.Command{Verb: "MSG", Args: []string{"a", "b", "60"}, PayloadLen: 60,
			Payload: []byte("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX: <\u2028>\r\n\r\nhi \"there\"\n")}},
		{"msg no headers", dissect.Command{Verb: "MSG", PayloadLen: 5, Payload: []byte("hello")}},
		{"msg binary", dissect.Command{Verb: "MSG", PayloadLen: 100, PayloadLost: 50,
			Payload: []byte("Content-Type: application/x-msnmsgrp2p\r\n\r\n\x00\xff\xfe\x01")}},
		{"sdg blocks", dissect.Command{Verb: "SDG", PayloadLen: 99, Payload: []byte("Routing: 1.0\r\nTo: 1:a@b.c\r\n\r\nReliability: 1.0\r\n\r\nMessaging: 2.0\r\nContent-Type: Text/plain\r\n\r\nhi\xff")}},
		{"nfy one block", dissect.Command{Verb: "NFY", PayloadLen: 20, Payload: []byte("Routing: 1.0\r\n\r\nbody")}},
		{"put no block", dissect.Command{Verb: "PUT", PayloadLen: 4, Payload: []byte("body")}},
		{"empty payload", dissect.Command{Verb: "UUX", PayloadLen: 0}},
		{"other payload", dissect.Command{Verb: "ADL", PayloadLen: 20, Payload: []byte("<ml><d n=\"x\"></d></ml>")}},
	}
	var e commandEncoder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.c
			c.Time = t0.Add(1234567 * time.Nanosecond)
			r := NewCommandRecord(&c)
			want := encodeJSON(t, r)
			sameJSON(t, "appendCommand", e.appendCommand([]byte{}, &c), want)
			sameJSON(t, "appendCommandRecord", appendCommandRecord(nil, &r), want)
		})
	}
}

// TestNDJSONCommandAllocs checks that a command line costs no allocation
// once the writer's buffers have grown, URL-decoded arguments and a
// non-MSG payload included. (MSG payloads still allocate in
// dissect.ParseMIME, which copies the headers.)
func TestNDJSONCommandAllocs(t *testing.T) {
	cmds := []*dissect.Command{
		{Verb: "CHG", HasTrID: true, TrID: 6, Args: []string{"NLN", "0"}, Role: dissect.RoleRequest, PayloadLen: -1},
		{Verb: "ILN", HasTrID: true, TrID: 6, Dir: dissect.S2C, Args: []string{"NLN", "bob@hotmail.com", "Bob%20the%20%E2%98%83", "268435492"}, Role: dissect.RoleReply, PayloadLen: -1},
		{Verb: "UUX", HasTrID: true, TrID: 9, Args: []string{"38"}, PayloadLen: 38, Payload: []byte("<Data><PSM>hi &amp; \"bye\"</PSM></Data>")},
		{Verb: "207", HasTrID: true, TrID: 3, ErrorCode: 207, Role: dissect.RoleError, PayloadLen: -1},
		{Verb: "MSG", HasTrID: true, TrID: 4, Args: []string{"N", "126"}, PayloadLen: 126,
			Payload: []byte("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Arial; EF=; CO=0; CS=0; PF=22\r\n\r\nhello <there>")},
	}
	n := newNDJSONWriter(io.Discard)
	for _, c := range cmds {
		c.Time = t0
		if allocs := testing.AllocsPerRun(100, func() { _ = n.command(c) }); allocs != 0 {
			t.Errorf("%s: %v allocations per command, want 0", c.Verb, allocs)
		}
	}
}

// TestAppendRandomValues fills every field of every model type and NDJSON
// record with random values — nil and empty slices, nil pointers, hostile
// strings, extreme numbers, times in other zones — and compares the
// appenders with encoding/json. A field added to the model but not to its
// appender fails here.
func TestAppendRandomValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	f := &filler{rng: rng, strs: nastyStrings}
	for i := 0; i < 200; i++ {
		checkRandom(t, f, appendSession)
		checkRandom(t, f, appendConversation)
		checkRandom(t, f, appendUser)
		checkRandom(t, f, appendCapture)
		checkRandom(t, f, appendAnomaly)
		checkRandom(t, f, record(appendCommandRecord))
		checkRandom(t, f, record(appendAnomalyRecord))
		checkRandom(t, f, record(appendSessionRecord))
		checkRandom(t, f, record(appendSummaryRecord))
	}
	for i := 0; i < 20; i++ {
		checkRandom(t, f, appendReport)
	}
}

func checkRandom[T any](tb testing.TB, f *filler, app func(*indenter, []byte, *T) []byte) {
	tb.Helper()
	var v T
	f.fill(reflect.ValueOf(&v).Elem(), 0)
	checkAppend(tb, reflect.TypeFor[T]().Name(), &v, app)
}

// filler sets values at random by reflection.
type filler struct {
	rng  *rand.Rand
	strs []string // strings to draw from
}

var timeType = reflect.TypeFor[Time]()

func (f *filler) fill(v reflect.Value, depth int) {
	r := f.rng
	switch v.Kind() {
	case reflect.String:
		switch r.IntN(4) {
		case 0:
			v.SetString(f.strs[r.IntN(len(f.strs))])
		case 1:
			b := make([]byte, r.IntN(12))
			for i := range b {
				b[i] = byte(r.IntN(256))
			}
			v.SetString(string(b))
		default:
			v.SetString(f.strs[r.IntN(len(f.strs))] + f.strs[r.IntN(len(f.strs))])
		}
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int, reflect.Int64, reflect.Int32:
		n := []int64{0, 1, -1, math.MaxInt64, math.MinInt64, math.MaxInt32, r.Int64(), -r.Int64(), int64(r.IntN(1000))}[r.IntN(9)]
		if v.OverflowInt(n) {
			n = int64(int32(n))
		}
		v.SetInt(n)
	case reflect.Uint32, reflect.Uint64:
		n := []uint64{0, 1, math.MaxUint32, math.MaxUint64, r.Uint64(), uint64(r.IntN(1000))}[r.IntN(6)]
		if v.OverflowUint(n) {
			n = uint64(uint32(n))
		}
		v.SetUint(n)
	case reflect.Pointer:
		if r.IntN(3) == 0 || depth > 6 {
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		f.fill(v.Elem(), depth+1)
	case reflect.Slice:
		switch k := r.IntN(4); {
		case k == 0 || depth > 6:
			return // nil
		case k == 1:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		default:
			n := 1 + r.IntN(3)
			v.Set(reflect.MakeSlice(v.Type(), n, n))
			for i := 0; i < n; i++ {
				f.fill(v.Index(i), depth+1)
			}
		}
	case reflect.Struct:
		if v.Type() == timeType {
			v.Set(reflect.ValueOf(f.time()))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				f.fill(v.Field(i), depth+1)
			}
		}
	default:
		panic("filler: unhandled kind " + v.Kind().String() + " in " + v.Type().String())
	}
}

func (f *filler) time() Time {
	r := f.rng
	switch r.IntN(5) {
	case 0:
		return Time{}
	case 1:
		return Time{time.Date(r.IntN(30000)-10000, time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, r.IntN(1e9), time.UTC)}
	}
	zone := time.FixedZone("z", (r.IntN(48)-24)*1800)
	return Time{time.Unix(r.Int64N(4e9), r.Int64N(1e9)).In(zone)}
}

// TestAppendTime holds appendTime to Time.MarshalJSON: edge dates,
// truncation to microseconds, zones that move the date, years outside
// 0-9999, and random times over the years -10000 to 20000.
func TestAppendTime(t *testing.T) {
	plus1 := time.FixedZone("+01", 3600)
	times := []time.Time{
		{}, time.Unix(0, 0), time.Unix(0, 999), time.Unix(0, 999999), time.Unix(1, 999999999),
		time.Date(2024, 1, 1, 0, 30, 0, 0, plus1), time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 30, 0, 0, plus1), time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(0, 1, 1, 0, 30, 0, 0, plus1), time.Date(-1, 6, 15, 12, 0, 0, 1000, time.UTC),
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 10000; i++ {
		zone := time.FixedZone("z", (rng.IntN(48)-24)*1800)
		times = append(times, time.Unix(rng.Int64N(946e9)-378e9, rng.Int64N(1e9)).In(zone))
	}
	for _, tm := range times {
		want, err := Time{tm}.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if got := appendTime(nil, tm); !bytes.Equal(got, want) {
			t.Fatalf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}

// TestAppendIndent holds appendIndent to json.Indent on the compact
// forms of hand-made values with empty objects and arrays and strings
// full of punctuation.
func TestAppendIndent(t *testing.T) {
	for _, src := range []string{
		`{}`, `[]`, `{"a":[]}`, `{"a":{},"b":[{}],"c":[[],[1,2]],"d":null}`,
		`{"s":"{[,:]}\"\\\"","t":"\\"}`, `[1,"x",true,null,{"k":"v"}]`,
	} {
		for _, prefix := range []string{"", "    "} {
			var want bytes.Buffer
			if err := json.Indent(&want, []byte(src), prefix, "  "); err != nil {
				t.Fatal(err)
			}
			if got := appendIndent(nil, []byte(src), prefix, "  "); !bytes.Equal(got, want.Bytes()) {
				t.Errorf("appendIndent(%s, %q) =\n%s\nwant\n%s", src, prefix, got, want.Bytes())
			}
		}
	}
}

// FuzzAppendMatchesEncodingJSON runs arbitrary bytes through a session,
// as dissect's FuzzSession does (the first byte picks the version and
// the limits, the second where the input is cut into client and server
// bytes), and holds every command, anomaly and session record to
// encoding/json. It then puts pieces of the input into a hand-built
// command (arguments and a MIME or MSNP21 payload) and into random model
// values, so that arbitrary strings — invalid UTF-8, control bytes,
// U+2028, <>& — reach every string field.
func FuzzAppendMatchesEncodingJSON(f *testing.F) {
	for _, name := range []string{"msnp7-login", "msnp8-invite", "msnp9-p2p", "msnp21-session", "hostile-names", "broken-anomalies"} {
		tr := loadTranscript(f, "../testdata/"+name+".txt")
		var c2s, s2c []byte
		for _, e := range tr.Events {
			if e.Conn != 0 {
				continue
			}
			if e.Dir == dissect.C2S {
				c2s = append(c2s, e.Data...)
			} else {
				s2c = append(s2c, e.Data...)
			}
		}
		c2s = c2s[:min(len(c2s), 255)]
		f.Add(append([]byte{0, byte(len(c2s))}, append(c2s, s2c...)...))
	}
	f.Add([]byte("\x00\x12MSG a b 20\r\nX: \xe2\x80\xa8<&>\r\n\r\n\xffNLN NLN a%20b c\x00d\r\n"))
	f.Add([]byte("\x71\x00SDG 0 60\r\nRouting: 1.0\r\n\r\nReliability: 1.0\r\n\r\nMessaging: 2.0\r\n\r\n\x1b\"\\"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 2 {
			return
		}
		mode, cut := in[0], int(in[1])
		body := in[2:]
		cut = min(cut, len(body))
		c2s, s2c := string(body[:cut]), string(body[cut:])
		if v := []string{"", "MSNP2", "MSNP7", "MSNP8", "MSNP10", "MSNP12", "MSNP14", "MSNP21"}[mode>>4&7]; v != "" {
			c2s, s2c = "VER 1 "+v+" CVR0\r\n"+c2s, "VER 1 "+v+"\r\n"+s2c
		}
		lim := dissect.Limits{}
		if mode&8 != 0 {
			lim = tightLimits
		}
		k := newChecker(t)
		a := dissect.NewAnalyzer(k, lim)
		s := a.Open(dissect.ConnInfo{SYN: mode&4 == 0, Start: t0})
		s.Feed(dissect.C2S, t0, []byte(c2s))
		s.Feed(dissect.S2C, t0.Add(time.Millisecond), []byte(s2c))
		s.End(t0.Add(time.Second), mode&2 == 0)
		k.finish(Capture{})

		// The input's pieces as arguments and payload of a hand-built
		// command.
		verbs := []string{"MSG", "SDG", "NFY", "PUT", "DEL", "UUX", "NLN", "\xff\xfe"}
		c := &dissect.Command{Verb: verbs[mode&7], Args: strings.Split(string(body), " "), Payload: body, PayloadLen: len(body),
			HasTrID: mode&8 != 0, TrID: int64(cut), Time: t0, Dir: dissect.Dir(mode >> 7), ErrorCode: int(mode&2) * 100}
		if mode&4 != 0 {
			c.PayloadLen, c.Payload = -1, nil
		}
		k.Command(s, c)

		// Random model values whose strings are pieces of the input.
		h := fnv.New64a()
		h.Write(in)
		fl := &filler{rng: rand.New(rand.NewPCG(h.Sum64(), 0)), strs: append(strings.Split(string(body), "\n"), string(body))}
		checkRandom(t, fl, record(appendSessionRecord))
		checkRandom(t, fl, appendConversation)
		checkRandom(t, fl, appendUser)
		checkRandom(t, fl, record(appendSummaryRecord))
	})
}

// benchCommands returns the commands of the transcripts msnbench gen
// builds its captures from (the login examples of every version).
func benchCommands(b *testing.B) []*dissect.Command {
	names, err := filepath.Glob("../testdata/msnp*-example.txt")
	if err != nil || len(names) == 0 {
		b.Fatalf("no transcripts: %v", err)
	}
	names = append(names, "../testdata/msnp7-login.txt", "../testdata/msnp8-invite.txt", "../testdata/msnp2-chat.txt")
	var c collector
	for _, name := range names {
		runTranscript(loadTranscript(b, name), &c, dissect.Limits{})
	}
	return c.cmds
}

type collector struct{ cmds []*dissect.Command }

func (c *collector) Command(s *dissect.Session, x *dissect.Command) {
	c.cmds = append(c.cmds, x.Clone())
}
func (c *collector) Anomaly(*dissect.Session, *dissect.Anomaly) {}
func (c *collector) SessionEnd(*dissect.Session)                {}

// BenchmarkNDJSONCommand writes the NDJSON lines of the commands of the
// login transcripts, an op being all of them (bytes are the lines
// written): "append" is ndjsonWriter.command, "encoding_json" the
// json.Encoder of a CommandRecord it replaced.
func BenchmarkNDJSONCommand(b *testing.B) {
	cmds := benchCommands(b)
	var size int64
	{
		var buf bytes.Buffer
		n := newNDJSONWriter(&buf)
		for _, c := range cmds {
			_ = n.command(c)
		}
		size = int64(buf.Len())
	}
	b.Run("append", func(b *testing.B) {
		n := newNDJSONWriter(io.Discard)
		b.ReportAllocs()
		b.SetBytes(size)
		for b.Loop() {
			for _, c := range cmds {
				if err := n.command(c); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(cmds)), "ns/command")
	})
	b.Run("encoding_json", func(b *testing.B) {
		enc := json.NewEncoder(io.Discard)
		enc.SetEscapeHTML(false)
		b.ReportAllocs()
		b.SetBytes(size)
		for b.Loop() {
			for _, c := range cmds {
				r := NewCommandRecord(c)
				if err := enc.Encode(&r); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(cmds)), "ns/command")
	})
}

// BenchmarkAppendString escapes strings like those of the report: user
// names, content types, message formats and texts, mostly plain ASCII.
func BenchmarkAppendString(b *testing.B) {
	ss := []string{
		"u000012@hotmail.com", "text", "text/plain; charset=UTF-8", "FN=MS%20Sans%20Serif; EF=; CO=0; CS=0; PF=0",
		"hi last how from brb you from sure brb from home bye yeah cool can are school what today doing school tomorrow",
		"207.46.111.244:1863", "switchboard", "", "A", "game yeah is talk today", "caf\u00e9 \"quoted\"\n",
	}
	var size int64
	for _, s := range ss {
		size += int64(len(s))
	}
	b.ReportAllocs()
	b.SetBytes(size)
	var dst []byte
	for b.Loop() {
		dst = dst[:0]
		for _, s := range ss {
			dst = appendString(dst, s)
		}
	}
}
