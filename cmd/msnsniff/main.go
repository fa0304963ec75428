// Command msnsniff analyses MSNP (MSN Messenger protocol) traffic in
// pcap and pcapng captures and reports it per session. See README.md.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
