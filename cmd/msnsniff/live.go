package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/msnsniff/msnsniff/dissect"
	"github.com/msnsniff/msnsniff/reassembly"
	"github.com/msnsniff/msnsniff/report"
)

// liveFormat is the File.Format of a live capture in the report.
const liveFormat = "live"

// listInterfaces writes the interfaces -i can name, one a line in the form
// of tcpdump -D: "1.lo [Up, Running, Loopback]", followed by the link type
// a capture without libpcap reads there.
func listInterfaces(stdout io.Writer) error {
	ifs, err := reassembly.Interfaces()
	if err != nil {
		return fmt.Errorf("listing interfaces: %w", err)
	}
	for _, i := range ifs {
		link := "link-type " + i.LinkType
		switch {
		case i.LinkType != "":
		case reassembly.HaveLibpcap:
			link = "captured through libpcap"
		default:
			link = "not supported without libpcap"
		}
		if _, err := fmt.Fprintf(stdout, "%d.%s [%s] %s\n", i.Index, i.Name, flagNames(i.Flags), link); err != nil {
			return err
		}
	}
	return nil
}

// flagNames spells interface flags as tcpdump -D does: "Up, Running,
// Loopback".
func flagNames(f net.Flags) string {
	names := []struct {
		flag net.Flags
		name string
	}{
		{net.FlagUp, "Up"},
		{net.FlagRunning, "Running"},
		{net.FlagLoopback, "Loopback"},
		{net.FlagPointToPoint, "Point-to-point"},
		{net.FlagBroadcast, "Broadcast"},
		{net.FlagMulticast, "Multicast"},
	}
	var parts []string
	for _, n := range names {
		if f&n.flag != 0 {
			parts = append(parts, n.name)
		}
	}
	if len(parts) == 0 {
		return "Down"
	}
	return strings.Join(parts, ", ")
}

// openLive opens the live capture of cfg and says so on stderr, as tcpdump
// does.
func openLive(cfg config, stderr io.Writer) (*reassembly.Live, error) {
	live, err := reassembly.OpenLive(reassembly.LiveOptions{Interface: cfg.iface, Ports: cfg.ports, Filter: cfg.filter, NoPromisc: cfg.noPromisc})
	if err != nil {
		return nil, err
	}
	info, _ := live.Info()
	how := ""
	if info.Libpcap {
		how = " (libpcap)"
	}
	fmt.Fprintf(stderr, "msnsniff: listening on %s%s, link-type %s, snapshot length %d bytes, filter %q\n",
		info.Interface, how, info.LinkType, info.SnapLen, info.Filter)
	return live, nil
}

// captureLive runs the live capture until ctx is done or -c is reached,
// with the dissector reporting to rep (which writes to out with ropt), and
// returns the capture section of the report. Failures go to fail and into
// the section's errors.
func captureLive(ctx context.Context, cfg config, live *reassembly.Live, rep *report.Output,
	eopt reassembly.Options, stderr io.Writer, fail func(error)) report.Capture {
	var errs []string
	gw := withGateway(sink{dissect.NewAnalyzer(rep, dissect.Limits{})}, cfg.gateway)
	eng := reassembly.NewEngine(gw, eopt)
	complete := true
	if err := reassembly.Capture(ctx, live, eng, cfg.count); err != nil {
		fail(err)
		errs = append(errs, err.Error())
		complete = false
	}
	gw.Finish(eng.Clock())
	info, err := live.Info()
	if err != nil {
		fail(err)
		errs = append(errs, err.Error())
	}
	fmt.Fprintf(stderr, "msnsniff: %d packets captured, %d received by filter, %d dropped by kernel\n",
		info.Packets, info.KernelReceived, info.KernelDropped)
	return liveReport(info, eng.Stats(), errs, complete)
}

// liveReport fills the capture section of a live capture: the interface
// takes the place of the files, and the kernel's counts go in Live.
func liveReport(info reassembly.LiveInfo, st reassembly.Stats, errs []string, complete bool) report.Capture {
	c := captureReport(nil, st, errs)
	c.Files = append(c.Files, report.File{Name: info.Interface, Format: liveFormat, LinkType: info.LinkType,
		Packets: info.Packets, Bytes: info.Bytes, Complete: complete})
	c.Live = &report.Live{Interface: info.Interface, Received: info.KernelReceived, Dropped: info.KernelDropped}
	return c
}
