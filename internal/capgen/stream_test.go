package capgen

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// TestPcapWriterMatchesWritePcap checks that writing packet by packet gives
// the bytes WritePcap gives, for every test transcript, link and a cutting
// snapshot length.
func TestPcapWriterMatchesWritePcap(t *testing.T) {
	for name, tr := range transcripts() {
		for _, tt := range []struct {
			name    string
			link    Link
			snaplen int
		}{
			{"ethernet", Ethernet, 0},
			{"sll-cut", LinuxSLL, 60},
			{"null", Null, 0},
		} {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				pkts, err := Packets(tr, Options{Link: tt.link, Reorder: 0.3, Duplicate: 0.3, Seed: 7})
				if err != nil {
					t.Fatal(err)
				}
				var want, got bytes.Buffer
				if err := WritePcap(&want, tt.link, tt.snaplen, pkts); err != nil {
					t.Fatal(err)
				}
				pw, err := NewPcapWriter(&got, tt.link, tt.snaplen)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range pkts {
					if err := pw.WritePacket(p); err != nil {
						t.Fatal(err)
					}
				}
				if err := pw.Flush(); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Bytes(), want.Bytes()) {
					t.Errorf("PcapWriter wrote %d bytes differing from WritePcap's %d", got.Len(), want.Len())
				}
				if pw.Packets() != len(pkts) || pw.Bytes() != int64(got.Len()) {
					t.Errorf("Packets, Bytes = %d, %d; want %d, %d", pw.Packets(), pw.Bytes(), len(pkts), got.Len())
				}
			})
		}
	}
}

func TestPcapWriterErrors(t *testing.T) {
	if _, err := NewPcapWriter(new(bytes.Buffer), numLinks, 0); !errors.Is(err, ErrOptions) {
		t.Errorf("NewPcapWriter(bad link) = %v, want ErrOptions", err)
	}
	if _, err := NewPcapWriter(new(bytes.Buffer), Ethernet, -1); !errors.Is(err, ErrOptions) {
		t.Errorf("NewPcapWriter(snaplen -1) = %v, want ErrOptions", err)
	}
	pw, err := NewPcapWriter(new(bytes.Buffer), Ethernet, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := pw.WritePacket(Packet{Time: time.Unix(-1, 0), Data: []byte{0}}); !errors.Is(err, ErrTimestamp) {
		t.Errorf("WritePacket(1969) = %v, want ErrTimestamp", err)
	}
}
