// Package gpref is the reassembly Engine as it was at commit 60fb116, on
// gopacket's reassembly.Assembler, StreamPool and TCPSimpleFSM: the
// reference that reassembly's FuzzAssemblerDiff compares the Engine's own
// assembler with. Only the files the Engine needs were copied (engine.go,
// stream.go, closed.go, decode.go, detect.go, frag.go, options.go,
// stats.go and the recorder of pipeline.go), unchanged but for the package
// name and the pipelined Run, which was left out. Only tests import it, so
// it is not linked into msnsniff; do not change it, except to follow a
// change of the packages it imports.
package gpref
