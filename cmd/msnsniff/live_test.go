//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/msnsniff/msnsniff/dissect"
	"github.com/msnsniff/msnsniff/reassembly"
	"golang.org/x/sys/unix"
)

// liveTimeout bounds every wait of the live tests.
const liveTimeout = 15 * time.Second

// requireCapture skips the test unless this process can capture on lo.
func requireCapture(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root or CAP_NET_RAW; CI runs these tests as root")
	}
	l, err := reassembly.OpenLive(reassembly.LiveOptions{Interface: "lo"})
	if err != nil {
		t.Skipf("cannot capture on lo here: %v", err)
	}
	l.Close()
}

// syncBuffer is a bytes.Buffer that run writes from its goroutine while
// the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// liveRun is msnsniff running in a goroutine of the test.
type liveRun struct {
	t              *testing.T
	stdout, stderr syncBuffer
	done           chan int
	code           int
	exited         bool
}

// startLive runs msnsniff with args and waits until it listens. SIGINT and
// SIGTERM are caught for the test's duration, so that a signal meant for
// run can never end the test process.
func startLive(t *testing.T, args ...string) *liveRun {
	t.Helper()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	t.Cleanup(func() { signal.Stop(sig) })
	r := &liveRun{t: t, done: make(chan int, 1)}
	go func() { r.done <- run(args, nil, &r.stdout, &r.stderr) }()
	t.Cleanup(func() {
		if !r.exited {
			r.interrupt()
		}
	})
	r.waitFor("listening", func() bool { return strings.Contains(r.stderr.String(), "msnsniff: listening on ") })
	return r
}

// waitFor polls cond until it holds, failing the test after liveTimeout or
// if msnsniff exits first.
func (r *liveRun) waitFor(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(liveTimeout)
	for !cond() {
		select {
		case code := <-r.done:
			r.exited, r.code = true, code
			r.t.Fatalf("msnsniff exited with %d while waiting for %s; stderr:\n%s", code, what, r.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("no %s after %v; stdout:\n%s\nstderr:\n%s", what, liveTimeout, r.stdout.String(), r.stderr.String())
		}
	}
}

// interrupt sends SIGINT, as Ctrl-C does, and waits for msnsniff to exit.
func (r *liveRun) interrupt() int {
	r.t.Helper()
	return r.signal(syscall.SIGINT)
}

// signal sends sig to the process and waits for msnsniff to exit.
func (r *liveRun) signal(sig syscall.Signal) int {
	r.t.Helper()
	if err := syscall.Kill(os.Getpid(), sig); err != nil {
		r.t.Fatal(err)
	}
	return r.wait()
}

// wait waits for msnsniff to exit by itself.
func (r *liveRun) wait() int {
	r.t.Helper()
	if r.exited {
		return r.code
	}
	select {
	case r.code = <-r.done:
		r.exited = true
	case <-time.After(liveTimeout):
		r.t.Fatalf("msnsniff did not exit; stderr:\n%s", r.stderr.String())
	}
	return r.code
}

// player plays a transcript over real TCP connections: for each of its
// connections a client dials the server address and the listener accepts;
// each event is written by its sender and read whole by the other side
// before the next one, so that the order of the transcript is kept. After a
// connection's last event the client closes it, then the server, as the
// capture generator does.
type player struct {
	t      *testing.T
	tr     *dissect.Transcript
	ln     net.Listener
	addr   string
	next   int
	last   []int
	client []net.Conn
	server []net.Conn
}

func newPlayer(t *testing.T, tr *dissect.Transcript, ln net.Listener, addr string) *player {
	p := &player{t: t, tr: tr, ln: ln, addr: addr, last: make([]int, len(tr.Conns)),
		client: make([]net.Conn, len(tr.Conns)), server: make([]net.Conn, len(tr.Conns))}
	for i, e := range tr.Events {
		p.last[e.Conn] = i
	}
	t.Cleanup(func() {
		for i := range p.client {
			if p.client[i] != nil {
				p.client[i].Close()
				p.server[i].Close()
			}
		}
	})
	return p
}

// playUntil plays the events before index n.
func (p *player) playUntil(n int) {
	p.t.Helper()
	for ; p.next < n; p.next++ {
		e := p.tr.Events[p.next]
		c := e.Conn
		if p.client[c] == nil {
			p.open(c)
		}
		from, to := p.client[c], p.server[c]
		if e.Dir == dissect.S2C {
			from, to = to, from
		}
		if _, err := from.Write(e.Data); err != nil {
			p.t.Fatalf("event %d: %v", p.next, err)
		}
		if _, err := io.ReadFull(to, make([]byte, len(e.Data))); err != nil {
			p.t.Fatalf("event %d: %v", p.next, err)
		}
		if p.next == p.last[c] {
			p.client[c].Close()
			if _, err := io.Copy(io.Discard, p.server[c]); err != nil {
				p.t.Fatalf("connection %d: waiting for the client's FIN: %v", c, err)
			}
			p.server[c].Close()
		}
	}
}

func (p *player) open(c int) {
	p.t.Helper()
	type accepted struct {
		conn net.Conn
		err  error
	}
	ch := make(chan accepted, 1)
	go func() {
		conn, err := p.ln.Accept()
		ch <- accepted{conn, err}
	}()
	cl, err := net.DialTimeout("tcp", p.addr, liveTimeout)
	if err != nil {
		p.t.Fatal(err)
	}
	var a accepted
	select {
	case a = <-ch:
	case <-time.After(liveTimeout):
		p.t.Fatal("accept timed out")
	}
	if a.err != nil {
		p.t.Fatal(a.err)
	}
	deadline := time.Now().Add(liveTimeout)
	cl.SetDeadline(deadline)
	a.conn.SetDeadline(deadline)
	p.client[c], p.server[c] = cl, a.conn
}

// records splits NDJSON output into command records (without their
// times), session records and the summary.
func records(t *testing.T, out string) (cmds, sessions []map[string]any, summary map[string]any) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("bad NDJSON line %q: %v", line, err)
		}
		switch m["type"] {
		case "command":
			delete(m, "time")
			cmds = append(cmds, m)
		case "session":
			sessions = append(sessions, m)
		case "summary":
			summary = m
		case "anomaly":
			t.Errorf("anomaly: %s", line)
		}
	}
	// A session record may wait for a later connection's link when not
	// written at once (-l, live): compare them by ID.
	slices.SortStableFunc(sessions, func(a, b map[string]any) int {
		x, _ := a["id"].(float64)
		y, _ := b["id"].(float64)
		return int(x - y)
	})
	return cmds, sessions, summary
}

// count returns how many lines of out contain s.
func count(out, s string) int { return strings.Count(out, s) }

// loopbackListener listens on a free port of 127.0.0.1.
func loopbackListener(t *testing.T) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// wantCommands returns the commands of the shipped capture of the msnp7
// example, without times.
func wantCommands(t *testing.T) []map[string]any {
	t.Helper()
	pcap, err := os.ReadFile(testdata + "msnp7-login.pcap")
	if err != nil {
		t.Fatal(err)
	}
	return commandsOf(t, pcap)
}

// TestLiveLoopback plays the msnp7 example over 127.0.0.1 while msnsniff
// captures on lo with -T ndjson and -w: commands and sessions stream out as
// they happen, and the commands are those of the shipped capture of the
// same transcript, live and read back from the -w file.
func TestLiveLoopback(t *testing.T) {
	requireCapture(t)
	type variant struct {
		name  string
		iface string
		link  string
		write string
		extra func(port string) []string
	}
	variants := []variant{
		{"pcapng", "lo", "ethernet", "live.pcapng", func(string) []string { return nil }},
		{"pcap", "lo", "ethernet", "live.pcap", func(string) []string { return []string{"-p"} }},
	}
	if reassembly.HaveLibpcap {
		variants = append(variants,
			variant{"libpcap filter", "lo", "ethernet", "live.pcap", func(port string) []string { return []string{"-f", "tcp port " + port} }},
			variant{"libpcap any device", "any", "linux_sll", "live.pcapng", func(string) []string { return nil }})
	}
	want := wantCommands(t)
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			ln, port := loopbackListener(t)
			dump := filepath.Join(t.TempDir(), v.write)
			r := startLive(t, append([]string{"-i", v.iface, "--port", port, "-T", "ndjson", "-w", dump}, v.extra(port)...)...)
			tr := readTranscript(t, "msnp7-login")
			newPlayer(t, tr, ln, ln.Addr().String()).playUntil(len(tr.Events))
			// Both sessions are written as they end, before the stop.
			r.waitFor("two session records", func() bool { return count(r.stdout.String(), `{"type":"session"`) == 2 })
			if code := r.interrupt(); code != 0 {
				t.Fatalf("exit %d: %s", code, r.stderr.String())
			}

			cmds, sessions, summary := records(t, r.stdout.String())
			if diff := cmp.Diff(want, cmds); diff != "" {
				t.Errorf("live commands differ from the shipped capture's (-pcap +live):\n%s", diff)
			}
			for i, s := range sessions {
				if s["closed"] != true || s["kind"] != []string{"dispatch", "notification"}[i] {
					t.Errorf("session %d: kind %v, closed %v", i+1, s["kind"], s["closed"])
				}
			}
			checkLiveSummary(t, summary, v.iface, v.link)
			if !strings.Contains(r.stderr.String(), "packets captured, ") || !strings.Contains(r.stderr.String(), " 0 dropped by kernel") {
				t.Errorf("stderr: %s", r.stderr.String())
			}

			// The -w file reads back to the same commands and sessions.
			out, stderr, code := runCLI(t, nil, "-T", "ndjson", "--port", port, dump)
			if code != 0 {
				t.Fatalf("reading %s: exit %d: %s", dump, code, stderr)
			}
			fcmds, fsessions, _ := records(t, out)
			if diff := cmp.Diff(want, fcmds); diff != "" {
				t.Errorf("commands of the -w file differ (-pcap +file):\n%s", diff)
			}
			if diff := cmp.Diff(sessions, fsessions); diff != "" {
				t.Errorf("sessions of the -w file differ (-live +file):\n%s", diff)
			}
		})
	}
}

// checkLiveSummary checks the capture section of a live capture.
func checkLiveSummary(t *testing.T, summary map[string]any, iface, link string) {
	t.Helper()
	if summary == nil {
		t.Fatal("no summary")
	}
	files, _ := summary["files"].([]any)
	if len(files) != 1 {
		t.Fatalf("summary files: %v", summary["files"])
	}
	f, _ := files[0].(map[string]any)
	if f["name"] != iface || f["format"] != "live" || f["link_type"] != link || f["complete"] != true || f["packets"] != summary["packets"] {
		t.Errorf("summary file: %v (packets %v)", f, summary["packets"])
	}
	live, _ := summary["live"].(map[string]any)
	if live == nil || live["interface"] != iface || live["dropped"] != 0.0 || (live["received"] == 0.0 && summary["packets"] != 0.0) {
		t.Errorf("summary live = %v, want the interface, packets received and 0 dropped", summary["live"])
	}
}

// TestLiveTable checks that -T table prints each session's report when it
// ends, during the capture, and at the stop the capture line, the overview
// and the users, without repeating the sessions' details.
func TestLiveTable(t *testing.T) {
	requireCapture(t)
	ln, port := loopbackListener(t)
	r := startLive(t, "-i", "lo", "--port", port)
	tr := readTranscript(t, "msnp7-login")
	p := newPlayer(t, tr, ln, ln.Addr().String())
	first := p.last[0] + 1
	p.playUntil(first)
	r.waitFor("the dispatch session's report", func() bool { return strings.Contains(r.stdout.String(), "Session 1: dispatch") })
	if strings.Contains(r.stdout.String(), "Session 2:") {
		t.Error("session 2 printed before it started")
	}
	p.playUntil(len(tr.Events))
	r.waitFor("the notification session's report", func() bool { return strings.Contains(r.stdout.String(), "Session 2: notification") })
	if code := r.interrupt(); code != 0 {
		t.Fatalf("exit %d: %s", code, r.stderr.String())
	}
	out := r.stdout.String()
	// One block per session during the capture, then the overview.
	if n := count(out, "Session 1: dispatch"); n != 1 {
		t.Errorf("session 1 printed %d times, want 1:\n%s", n, out)
	}
	if n := count(out, "Session 2: notification"); n != 1 {
		t.Errorf("session 2 printed %d times, want 1:\n%s", n, out)
	}
	i := strings.LastIndex(out, "Capture: ")
	if i < strings.Index(out, "Session 2: notification") {
		t.Fatalf("no final report after the sessions:\n%s", out)
	}
	final := out[i:]
	if !strings.Contains(final, "; 2 MSNP session(s)") || !strings.Contains(final, "Live capture on lo: ") || !strings.Contains(final, "notification") ||
		!strings.Contains(final, "example@hotmail.com") || strings.Contains(final, "Session 1:") {
		t.Errorf("final report:\n%s", final)
	}
	t.Logf("output:\n%s", out)
}

// TestLiveInterruptOpenSession stops the capture (with SIGTERM, as a
// service manager does) in the middle of the notification session: it is
// still reported, open (closed=false), with the commands seen so far.
func TestLiveInterruptOpenSession(t *testing.T) {
	requireCapture(t)
	ln, port := loopbackListener(t)
	r := startLive(t, "-i", "lo", "--port", port, "-T", "ndjson")
	tr := readTranscript(t, "msnp7-login")
	p := newPlayer(t, tr, ln, ln.Addr().String())
	stop := 0
	for i, e := range tr.Events {
		if bytes.HasPrefix(e.Data, []byte("CHG 9 NLN")) && e.Dir == dissect.C2S {
			stop = i + 1
		}
	}
	p.playUntil(stop)
	// Each command is written as it is parsed: CHG shows before the stop.
	r.waitFor("the CHG command", func() bool { return strings.Contains(r.stdout.String(), `"verb":"CHG"`) })
	if code := r.signal(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d: %s", code, r.stderr.String())
	}
	cmds, sessions, summary := records(t, r.stdout.String())
	if len(sessions) != 2 || summary == nil {
		t.Fatalf("%d sessions, summary %v", len(sessions), summary)
	}
	if sessions[0]["closed"] != true || sessions[1]["closed"] != false || sessions[1]["kind"] != "notification" {
		t.Errorf("sessions closed %v and %v, kind %v; want true, false, notification", sessions[0]["closed"], sessions[1]["closed"], sessions[1]["kind"])
	}
	want := wantCommands(t)
	if diff := cmp.Diff(want[:len(cmds)], cmds); diff != "" || len(cmds) != stop {
		t.Errorf("%d commands, want %d, the first of the capture's (-pcap +live):\n%s", len(cmds), stop, diff)
	}
}

// TestLiveStopConditions checks -c and --duration.
func TestLiveStopConditions(t *testing.T) {
	requireCapture(t)
	t.Run("count", func(t *testing.T) {
		ln, port := loopbackListener(t)
		r := startLive(t, "-i", "lo", "--port", port, "-T", "json", "-c", "3")
		tr := readTranscript(t, "msnp7-login")
		newPlayer(t, tr, ln, ln.Addr().String()).playUntil(2)
		if code := r.wait(); code != 0 {
			t.Fatalf("exit %d: %s", code, r.stderr.String())
		}
		var rep struct {
			Capture struct {
				Packets int64 `json:"packets"`
			} `json:"capture"`
			Sessions []struct {
				Closed bool `json:"closed"`
			} `json:"sessions"`
		}
		if err := json.Unmarshal([]byte(r.stdout.String()), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Capture.Packets != 3 || len(rep.Sessions) != 1 || rep.Sessions[0].Closed {
			t.Errorf("-c 3: %d packets, sessions %+v; want 3 packets, one open session", rep.Capture.Packets, rep.Sessions)
		}
	})
	t.Run("duration", func(t *testing.T) {
		_, port := loopbackListener(t)
		start := time.Now()
		r := startLive(t, "-i", "lo", "--port", port, "-T", "ndjson", "--duration", "300ms")
		if code := r.wait(); code != 0 {
			t.Fatalf("exit %d: %s", code, r.stderr.String())
		}
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Errorf("stopped after %v", d)
		}
		_, _, summary := records(t, r.stdout.String())
		checkLiveSummary(t, summary, "lo", "ethernet")
	})
}

// TestLiveUsage checks the live flags that fail before any work.
func TestLiveUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"count without -i", []string{"-c", "5", "x.pcap"}, 2, "-c applies only to a live capture (-i)"},
		{"duration without -i", []string{"--duration", "5s", "x.pcap"}, 2, "--duration applies only to a live capture (-i)"},
		{"-p without -i", []string{"-p", "x.pcap"}, 2, "-p applies only to a live capture (-i)"},
		{"-i with files", []string{"-i", "lo", "x.pcap"}, 2, "-i cannot be combined with capture files"},
		{"-i with -r", []string{"-i", "lo", "-r", "x.pcap"}, 2, "-i cannot be combined with capture files"},
		{"zero count", []string{"-i", "lo", "-c", "0"}, 2, "-c 0: not a positive number of packets"},
		{"negative duration", []string{"-i", "lo", "--duration", "-1s"}, 2, "--duration -1s: not a positive duration"},
		{"no such interface", []string{"-i", "msnsniff-none0"}, 1, "msnsniff: msnsniff-none0: no such network interface (msnsniff -D lists them)\n"},
	}
	if !reassembly.HaveLibpcap {
		tests = append(tests, struct {
			name string
			args []string
			code int
			msg  string
		}{"filter without libpcap", []string{"-i", "lo", "-f", "tcp"}, 2, "-f needs msnsniff built with libpcap: go build -tags libpcap ./cmd/msnsniff"})
	}
	var many []string
	for p := 2000; p < 2000+reassembly.MaxFilterPorts+1; p++ {
		many = append(many, "--port", strconv.Itoa(p))
	}
	tests = append(tests, struct {
		name string
		args []string
		code int
		msg  string
	}{"too many ports", append([]string{"-i", "lo"}, many...), 2, fmt.Sprintf("-i takes at most %d --port values", reassembly.MaxFilterPorts)})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := runCLI(t, nil, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.msg) || out != "" {
				t.Errorf("run(%q) = %d, stdout %q, stderr %q; want %d with %q", tt.args, code, out, stderr, tt.code, tt.msg)
			}
		})
	}
}

func TestListInterfaces(t *testing.T) {
	out, stderr, code := runCLI(t, nil, "-D")
	if code != 0 || stderr != "" {
		t.Fatalf("-D: exit %d, stderr %q", code, stderr)
	}
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "\n"); n != len(ifs) {
		t.Errorf("-D lists %d interfaces, the system has %d:\n%s", n, len(ifs), out)
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback != 0 && i.Flags&net.FlagUp != 0 {
			line := fmt.Sprintf("%d.%s [Up, ", i.Index, i.Name)
			if !strings.Contains(out, line) || !strings.Contains(out, "Loopback]") {
				t.Errorf("-D does not list %q as a loopback:\n%s", line, out)
			}
			if !strings.Contains(out, "Loopback] link-type ethernet") {
				t.Errorf("-D does not give lo's link type:\n%s", out)
			}
		}
	}
	t.Logf("-D:\n%s", out)
}

// noPrivilegeEnv names the environment variable that makes
// TestLiveNoPrivilege run msnsniff instead of starting itself again.
const noPrivilegeEnv = "MSNSNIFF_TEST_NO_PRIVILEGE"

// TestLiveNoPrivilege runs msnsniff -i lo without the privilege to capture:
// as a user other than root, or, when the test runs as root, in a copy of
// the test binary started as nobody. It must fail with one sentence naming
// CAP_NET_RAW and root, exit 1, and print no stack trace.
func TestLiveNoPrivilege(t *testing.T) {
	if os.Getenv(noPrivilegeEnv) != "" || os.Geteuid() != 0 {
		if os.Geteuid() == 0 {
			t.Fatal("the child runs as root")
		}
		out, stderr, code := runCLI(t, nil, "-i", "lo")
		t.Logf("exit %d, stdout %q, stderr %q", code, out, stderr)
		checkNoPrivilege(t, code, out, stderr)
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The copy must be reachable by nobody: a world-readable directory
	// of its own.
	dir, err := os.MkdirTemp("", "msnsniff-noprivilege-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "msnsniff.test")
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestLiveNoPrivilege$", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), noPrivilegeEnv+"=1")
	const nobody = 65534
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Skipf("cannot start a process as nobody here: %v", err)
	}
	if err != nil || !bytes.Contains(out, []byte("--- PASS: TestLiveNoPrivilege")) {
		t.Errorf("child as nobody: %v\n%s", err, out)
	}
	t.Logf("child as nobody:\n%s", out)
}

func checkNoPrivilege(t *testing.T, code int, out, stderr string) {
	t.Helper()
	const want = "msnsniff: lo: capturing needs root or the CAP_NET_RAW capability\n"
	if code != 1 || out != "" || stderr != want {
		t.Errorf("without privilege: exit %d, stdout %q, stderr %q; want 1, nothing, %q", code, out, stderr, want)
	}
}

// TestLiveVeth captures across a veth pair: the server listens in a
// network namespace made by the test, the client dials it from the host and
// msnsniff captures on the host end.
func TestLiveVeth(t *testing.T) {
	requireCapture(t)
	ipCmd, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("no ip command (iproute2) here")
	}
	id := os.Getpid() % 100000
	ns := fmt.Sprintf("msnsniff-test-%d", id)
	hostIf, nsIf := fmt.Sprintf("msnh%d", id), fmt.Sprintf("msnn%d", id)
	// 198.18.0.0/15 is set aside for benchmark networks (RFC 2544): no
	// real route should overlap.
	hostAddr, nsAddr := fmt.Sprintf("198.18.%d.1", id%250), fmt.Sprintf("198.18.%d.2", id%250)
	ip := func(args ...string) error {
		out, err := exec.Command(ipCmd, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
		return nil
	}
	if err := ip("netns", "add", ns); err != nil {
		t.Skipf("cannot make a network namespace here: %v", err)
	}
	t.Cleanup(func() {
		// Deleting the namespace deletes its end of the pair, and the
		// kernel the other end with it; the link delete covers a pair
		// whose peer never moved.
		ip("link", "del", hostIf)
		if err := ip("netns", "del", ns); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	for _, args := range [][]string{
		{"link", "add", hostIf, "type", "veth", "peer", "name", nsIf, "netns", ns},
		{"addr", "add", hostAddr + "/30", "dev", hostIf},
		{"link", "set", hostIf, "up"},
		{"-n", ns, "addr", "add", nsAddr + "/30", "dev", nsIf},
		{"-n", ns, "link", "set", nsIf, "up"},
		{"-n", ns, "link", "set", "lo", "up"},
	} {
		if err := ip(args...); err != nil {
			t.Skipf("cannot set up the veth pair here: %v", err)
		}
	}
	ln, err := listenInNetns(ns, nsAddr+":0")
	if err != nil {
		t.Fatalf("listening in %s: %v", ns, err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	r := startLive(t, "-i", hostIf, "--port", port, "-T", "ndjson")
	tr := readTranscript(t, "msnp7-login")
	newPlayer(t, tr, ln, ln.Addr().String()).playUntil(len(tr.Events))
	r.waitFor("two session records", func() bool { return count(r.stdout.String(), `{"type":"session"`) == 2 })
	if code := r.interrupt(); code != 0 {
		t.Fatalf("exit %d: %s", code, r.stderr.String())
	}
	cmds, sessions, summary := records(t, r.stdout.String())
	if diff := cmp.Diff(wantCommands(t), cmds); diff != "" {
		t.Errorf("commands across the veth pair differ from the shipped capture's (-pcap +live):\n%s", diff)
	}
	for i, s := range sessions {
		if s["server"] != nsAddr+":"+port || s["closed"] != true {
			t.Errorf("session %d: server %v closed %v", i+1, s["server"], s["closed"])
		}
	}
	checkLiveSummary(t, summary, hostIf, "ethernet")
}

// listenInNetns listens on addr in the named network namespace. The socket
// is made on a thread moved into the namespace; the thread is then left
// locked, so that the runtime ends it instead of reusing it elsewhere. The
// listener works from any thread.
func listenInNetns(ns, addr string) (net.Listener, error) {
	type result struct {
		ln  net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + ns)
		if err != nil {
			ch <- result{nil, err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{nil, fmt.Errorf("setns: %w", err)}
			return
		}
		ln, err := net.Listen("tcp", addr)
		ch <- result{ln, err}
	}()
	r := <-ch
	return r.ln, r.err
}

// TestWriteFromFiles checks -w with capture files: the file written holds
// the packets of the MSNP connections and reads back to the same report.
func TestWriteFromFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"out.pcap", "out.pcapng"} {
		path := filepath.Join(dir, name)
		want, stderr, code := runCLI(t, nil, "-T", "json", "-w", path, testdata+"msnp7-login.pcap")
		if code != 0 {
			t.Fatalf("-w %s: exit %d: %s", name, code, stderr)
		}
		got, stderr, code := runCLI(t, nil, "-T", "json", path)
		if code != 0 {
			t.Fatalf("reading %s: exit %d: %s", name, code, stderr)
		}
		// The capture sections name different files; the sessions match.
		var w, g struct {
			Sessions json.RawMessage `json:"sessions"`
		}
		if err := json.Unmarshal([]byte(want), &w); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(got), &g); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(w.Sessions), string(g.Sessions)); diff != "" {
			t.Errorf("%s: sessions differ (-original +written):\n%s", name, diff)
		}
	}
}
