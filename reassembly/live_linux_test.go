//go:build linux

package reassembly

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/msnsniff/msnsniff/dissect"
)

// liveTimeout bounds every wait of the live tests.
const liveTimeout = 10 * time.Second

// openLoopback opens a capture on lo with opt, or skips the test when
// this process may not capture.
func openLoopback(t *testing.T, opt LiveOptions) *Live {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root or CAP_NET_RAW; CI runs these tests as root")
	}
	opt.Interface = "lo"
	l, err := OpenLive(opt)
	if err != nil {
		t.Skipf("cannot capture on lo here: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// endSink records connections like recSink and signals each End.
type endSink struct {
	rec   recSink
	ended chan struct{}
}

func (s *endSink) Open(c dissect.ConnInfo) Stream {
	return endStream{s.rec.Open(c), s.ended}
}

type endStream struct {
	Stream
	ended chan struct{}
}

func (s endStream) End(t time.Time, closed bool) {
	s.Stream.End(t, closed)
	select {
	case s.ended <- struct{}{}:
	default:
	}
}

// tcpExchange makes one TCP connection to ln: the client sends req, the
// server answers resp, the client closes, then the server.
func tcpExchange(t *testing.T, ln net.Listener, req, resp string) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(liveTimeout))
		b := make([]byte, len(req))
		if _, err := io.ReadFull(c, b); err != nil {
			errc <- err
			return
		}
		if _, err := c.Write([]byte(resp)); err != nil {
			errc <- err
			return
		}
		_, err = io.Copy(io.Discard, c) // until the client's FIN
		errc <- err
	}()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), liveTimeout)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(liveTimeout))
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, len(resp))
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// segKey identifies a TCP segment of an Ethernet frame: ports, sequence
// and acknowledgment numbers, flags and payload length.
func segKey(data []byte) string {
	ip := data[etherHeaderLen:]
	tcp := ip[int(ip[0]&0x0f)*4:]
	return fmt.Sprintf("%d>%d seq %d ack %d flags %#x len %d", binary.BigEndian.Uint16(tcp), binary.BigEndian.Uint16(tcp[2:]),
		binary.BigEndian.Uint32(tcp[4:]), binary.BigEndian.Uint32(tcp[8:]), tcp[13], int(binary.BigEndian.Uint16(ip[2:]))-len(ip)+len(tcp))
}

// TestLiveLoopback captures a real TCP exchange on lo: the Engine gets the
// connection whole, each segment once (the outgoing copies that lo hands
// over too are dropped, as libpcap does), and the kernel counts agree.
func TestLiveLoopback(t *testing.T) {
	checkLoopback(t, func(port uint16) LiveOptions { return LiveOptions{Ports: []uint16{port}} }, false)
}

// TestLiveLoopbackLibpcap does the same through libpcap, with a filter
// expression.
func TestLiveLoopbackLibpcap(t *testing.T) {
	if !HaveLibpcap {
		t.Skip("needs -tags libpcap")
	}
	checkLoopback(t, func(port uint16) LiveOptions { return LiveOptions{Filter: fmt.Sprintf("tcp and port %d", port)} }, true)
}

func checkLoopback(t *testing.T, options func(port uint16) LiveOptions, libpcap bool) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	l := openLoopback(t, options(port))

	seen := map[string]int{}
	sink := &endSink{ended: make(chan struct{}, 1)}
	e := NewEngine(sink, Options{Ports: []uint16{port}, OnPacket: func(data []byte, ci gopacket.CaptureInfo, link layers.LinkType) {
		seen[segKey(data)]++
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Capture(ctx, l, e, 0) }()

	tcpExchange(t, ln, "VER 1 MSNP8 CVR0\r\n", "VER 1 MSNP8\r\n")
	select {
	case <-sink.ended:
	case <-time.After(liveTimeout):
		t.Error("the connection did not end in the capture")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Capture: %v", err)
		}
	case <-time.After(liveTimeout):
		t.Fatal("Capture did not stop")
	}

	if len(sink.rec.streams) != 1 {
		t.Fatalf("%d connections, want 1", len(sink.rec.streams))
	}
	s := sink.rec.streams[0]
	if string(s.data[dissect.C2S]) != "VER 1 MSNP8 CVR0\r\n" || string(s.data[dissect.S2C]) != "VER 1 MSNP8\r\n" || !s.closed || !s.info.SYN {
		t.Errorf("connection: %q / %q, closed %v, SYN %v", s.data[dissect.C2S], s.data[dissect.S2C], s.closed, s.info.SYN)
	}
	if s.info.Server.Port() != port || !s.info.Server.Addr().IsLoopback() {
		t.Errorf("server %v, want 127.0.0.1:%d", s.info.Server, port)
	}
	for k, n := range seen {
		if n > 1 {
			t.Errorf("segment %s captured %d times", k, n)
		}
	}
	info, err := l.Info()
	if err != nil {
		t.Fatal(err)
	}
	st := e.Stats()
	if info.LinkType != "ethernet" || info.Filter != fmt.Sprintf("tcp and port %d", port) || info.Libpcap != libpcap || info.SnapLen != LiveSnapLen {
		t.Errorf("info %+v", info)
	}
	if info.Packets < 7 || info.Packets != st.Packets || st.Assembled != st.Packets || info.Packets != int64(len(seen)) {
		t.Errorf("%d packets read, %d distinct segments, engine stats %+v", info.Packets, len(seen), st)
	}
	if info.KernelDropped != 0 || info.KernelReceived < info.Packets {
		t.Errorf("kernel: %d received, %d dropped; %d read", info.KernelReceived, info.KernelDropped, info.Packets)
	}
}

// TestLiveCount checks that Capture stops by itself after count packets and
// ends the connection it leaves half seen.
func TestLiveCount(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	l := openLoopback(t, LiveOptions{Ports: []uint16{port}})
	sink := &endSink{ended: make(chan struct{}, 1)}
	e := NewEngine(sink, Options{Ports: []uint16{port}})
	done := make(chan error, 1)
	go func() { done <- Capture(context.Background(), l, e, 2) }()
	tcpExchange(t, ln, "VER 1 MSNP8 CVR0\r\n", "VER 1 MSNP8\r\n")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(liveTimeout):
		t.Fatal("Capture did not stop after 2 packets")
	}
	if info, _ := l.Info(); info.Packets != 2 {
		t.Errorf("%d packets read, want 2", info.Packets)
	}
	if len(sink.rec.streams) != 1 || sink.rec.streams[0].ends != 1 || sink.rec.streams[0].closed {
		t.Errorf("want one connection ended open by Finish, got %d", len(sink.rec.streams))
	}
}

// TestLiveStopDrains stops the capture as soon as the exchange is over:
// the packets the kernel has taken by then, all the data, are still read.
func TestLiveStopDrains(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	l := openLoopback(t, LiveOptions{Ports: []uint16{port}})
	sink := &endSink{ended: make(chan struct{}, 1)}
	e := NewEngine(sink, Options{Ports: []uint16{port}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Capture(ctx, l, e, 0) }()
	// Each side has read the other's data, so the kernel handed every
	// data segment to the capture on its way in.
	tcpExchange(t, ln, "VER 1 MSNP8 CVR0\r\n", "VER 1 MSNP8\r\n")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(liveTimeout):
		t.Fatal("Capture did not stop")
	}
	if len(sink.rec.streams) != 1 {
		t.Fatalf("%d connections, want 1", len(sink.rec.streams))
	}
	s := sink.rec.streams[0]
	if string(s.data[dissect.C2S]) != "VER 1 MSNP8 CVR0\r\n" || string(s.data[dissect.S2C]) != "VER 1 MSNP8\r\n" || s.ends != 1 {
		t.Errorf("connection: %q / %q, %d ends; want all the data and one end", s.data[dissect.C2S], s.data[dissect.S2C], s.ends)
	}
}

func TestOpenLiveErrors(t *testing.T) {
	tests := []struct {
		name string
		opt  LiveOptions
		want error
		msg  string
	}{
		{"no such interface", LiveOptions{Interface: "msnsniff-none0"}, nil, "msnsniff-none0: no such network interface"},
		{"too many ports", LiveOptions{Interface: "lo", Ports: make([]uint16, MaxFilterPorts+1)}, nil, ""},
	}
	if !HaveLibpcap {
		tests = append(tests, struct {
			name string
			opt  LiveOptions
			want error
			msg  string
		}{"filter without libpcap", LiveOptions{Interface: "lo", Filter: "tcp"}, ErrNoLibpcap, "lo: filter expressions need msnsniff built with -tags libpcap"})
	}
	for i := range tests[1].opt.Ports {
		tests[1].opt.Ports[i] = uint16(1000 + i)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := OpenLive(tt.opt)
			if err == nil {
				l.Close()
				t.Fatalf("OpenLive(%+v) succeeded", tt.opt)
			}
			var le *LiveError
			if !errors.As(err, &le) || le.Interface != tt.opt.Interface {
				t.Errorf("OpenLive(%+v) = %v, want a *LiveError", tt.opt, err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("OpenLive(%+v) = %v, want %v", tt.opt, err, tt.want)
			}
			if tt.msg != "" && err.Error()[:min(len(tt.msg), len(err.Error()))] != tt.msg {
				t.Errorf("OpenLive(%+v) = %q, want %q...", tt.opt, err, tt.msg)
			}
		})
	}
}

func TestInterfaces(t *testing.T) {
	ifs, err := Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		if i.Name == "lo" {
			if i.LinkType != "ethernet" || i.Flags&net.FlagLoopback == 0 {
				t.Errorf("lo: %+v", i)
			}
			return
		}
	}
	t.Skip("no lo interface here")
}
