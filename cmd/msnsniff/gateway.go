package main

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/msnsniff/msnsniff/dissect"
	"github.com/msnsniff/msnsniff/reassembly"
	"github.com/spf13/pflag"
)

// gatewayConfig holds the flags of the MSN HTTP gateway (msnp-grammar.md
// §14): MSNP tunnelled through HTTP on port 80.
type gatewayConfig struct {
	raw   []int    // --gateway-port as given
	off   bool     // --no-gateway
	ports []uint16 // the gateway ports, set by resolve
}

// addGatewayFlags defines --gateway-port and --no-gateway on fs, to be
// listed right after --port.
func addGatewayFlags(fs *pflag.FlagSet, g *gatewayConfig) {
	fs.IntSliceVar(&g.raw, "gateway-port", []int{reassembly.DefaultGatewayPort},
		"TCP `port` of the MSN HTTP gateway, where MSNP is followed through HTTP; repeatable")
	fs.BoolVar(&g.off, "no-gateway", false, "do not look for MSNP through the HTTP gateway")
}

// resolve checks the gateway flags against the MSNP ports and returns the
// ports the Engine must assemble: the MSNP ports, then the gateway ports.
// A default gateway port that is also an MSNP port is left to MSNP; a
// given one is an error.
func (g *gatewayConfig) resolve(fs *pflag.FlagSet, msnp []uint16) ([]uint16, error) {
	g.ports = nil
	if g.off {
		if fs.Changed("gateway-port") {
			return nil, errors.New("cannot set both --gateway-port and --no-gateway")
		}
		return msnp, nil
	}
	for _, p := range g.raw {
		switch {
		case p < 1 || p > 65535:
			return nil, fmt.Errorf("--gateway-port %d: not a TCP port", p)
		case slices.Contains(msnp, uint16(p)):
			if fs.Changed("gateway-port") {
				return nil, fmt.Errorf("port %d cannot be both an MSNP --port and a --gateway-port", p)
			}
		case !slices.Contains(g.ports, uint16(p)):
			g.ports = append(g.ports, uint16(p))
		}
	}
	return append(slices.Clip(msnp), g.ports...), nil
}

// gatewaySink is the Sink of a run: it hands connections to a gateway
// port to the HTTP gateway demultiplexer, whose sessions go to the MSNP
// Sink, and every other connection to the MSNP Sink directly.
type gatewaySink struct {
	msnp  reassembly.Sink
	gw    *reassembly.HTTPGateway // nil when --no-gateway
	ports []uint16
}

// withGateway returns the Sink of a run with the gateway flags g (after
// resolve): s, behind the HTTP gateway on g's ports. Call its Finish after
// the run, before the report is closed.
func withGateway(s reassembly.Sink, g gatewayConfig) *gatewaySink {
	gs := &gatewaySink{msnp: s, ports: g.ports}
	if !g.off && len(g.ports) > 0 {
		gs.gw = reassembly.NewHTTPGateway(s, reassembly.GatewayOptions{})
	}
	return gs
}

// Open implements reassembly.Sink.
func (s *gatewaySink) Open(c dissect.ConnInfo) reassembly.Stream {
	if s.gw != nil && slices.Contains(s.ports, c.Server.Port()) {
		return s.gw.Open(c)
	}
	return s.msnp.Open(c)
}

// Finish ends the gateway sessions still open at time t, the end of the
// capture. Without it they would be missing from the report: a gateway
// session outlives its TCP connections.
func (s *gatewaySink) Finish(t time.Time) {
	if s.gw != nil {
		s.gw.Finish(t)
	}
}

// Stats returns the gateway's counts (all 0 when it is off).
func (s *gatewaySink) Stats() reassembly.GatewayStats {
	if s.gw == nil {
		return reassembly.GatewayStats{}
	}
	return s.gw.Stats()
}
