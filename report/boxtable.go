package report

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/olekukonko/tablewriter/pkg/twwidth"
)

// The overview table lists every session of the capture: hundreds of
// thousands for an archive of gigabytes. tablewriter lays a table out from
// all its rows at once, which held the whole table in memory several
// times over (284 MiB for the 1 GB benchmark capture, against 89 for the
// JSON report). So the overview is written here instead, one row at a
// time from a spool, in tablewriter's layout: the column widths are
// measured as the rows are made, then the rows are written.
// TestBoxTableMatchesTablewriter holds the layout to tablewriter's.
//
// A table with a control character in a cell (a line break, a tab: wire
// strings under --raw) goes through tablewriter.

// boxRows collects a table's rows in a spool and measures their columns.
type boxRows struct {
	sp      spool
	widths  []int
	n       int
	complex bool // a cell that is not plain
	buf     []byte
}

func newBoxRows(header []string) *boxRows {
	r := &boxRows{widths: make([]int, len(header))}
	r.complex = !measureRow(r.widths, header)
	return r
}

// add spools a row, which has the header's number of cells.
func (r *boxRows) add(row []string) error {
	if len(row) != len(r.widths) {
		return fmt.Errorf("report: internal error: a row of %d cells in a table of %d columns", len(row), len(r.widths))
	}
	if !measureRow(r.widths, row) {
		r.complex = true
	}
	r.buf = encodeCells(r.buf[:0], row)
	r.n++
	_, err := r.sp.write(r.buf)
	return err
}

// encodeCells appends row's cells to b, each its length (a uvarint) and its
// bytes, as cellReader and decodeCells read them back.
func encodeCells(b []byte, row []string) []byte {
	for _, c := range row {
		b = binary.AppendUvarint(b, uint64(len(c)))
		b = append(b, c...)
	}
	return b
}

// measureRow widens widths to the display widths of row's trimmed cells
// and reports whether row has as many cells as widths, all plain.
func measureRow(widths []int, row []string) bool {
	if len(row) != len(widths) {
		return false
	}
	ok := true
	for i, c := range row {
		ok = ok && plain(c)
		widths[i] = max(widths[i], width(strings.TrimSpace(c)))
	}
	return ok
}

// width is c's display width as tablewriter measures it (twwidth.Width).
// A cell of printable ASCII, which most are, is as wide as it is long:
// that is worked out here, without twwidth's locked, hashed cache (a
// tenth of the table format's CPU time on the overview of a large
// capture).
func width(c string) int {
	for i := 0; i < len(c); i++ {
		if b := c[i]; b < 0x20 || b >= 0x7f {
			return twwidth.Width(c)
		}
	}
	return len(c)
}

// plain reports whether c has no control character: tablewriter lays out
// a line break or a tab otherwise than writeBox would, and the other
// control characters are left to it too.
func plain(c string) bool {
	for i := 0; i < len(c); i++ {
		if b := c[i]; b < 0x20 || b == 0x7f {
			return false
		}
	}
	return true
}

// each reads the rows back in order; row is reused from call to call.
func (r *boxRows) each(f func(row []string) error) error {
	if err := r.sp.flush(); err != nil {
		return err
	}
	d := &cellReader{r: bufio.NewReaderSize(r.sp.reader(), 64<<10)}
	row := make([]string, len(r.widths))
	for range r.n {
		for i := range row {
			s, err := d.next()
			if err != nil {
				return err
			}
			row[i] = s
		}
		if err := f(row); err != nil {
			return err
		}
	}
	return nil
}

func (r *boxRows) close() { r.sp.close() }

// writeBox writes the table of header and the rows each gives, in
// tablewriter's layout, with the column widths (of the trimmed cells)
// given.
func (p *tablePrinter) writeBox(header []string, widths []int, each func(yield func(row []string) error) error) {
	if p.err != nil {
		return
	}
	var b []byte
	line := func(l, m, r string) {
		b = append(b[:0], l...)
		for i, w := range widths {
			if i > 0 {
				b = append(b, m...)
			}
			for range w + 2 {
				b = append(b, "─"...)
			}
		}
		b = append(b, r...)
		b = append(b, '\n')
		p.write(b)
	}
	cells := func(row []string, center bool) {
		b = append(b[:0], "│"...)
		for i, c := range row {
			c = strings.TrimSpace(c)
			pad := widths[i] - width(c)
			left := 0
			if center {
				left = pad / 2
			}
			b = append(b, ' ')
			b = append(b, strings.Repeat(" ", left)...)
			b = append(b, c...)
			b = append(b, strings.Repeat(" ", pad-left)...)
			b = append(b, " │"...)
		}
		b = append(b, '\n')
		p.write(b)
	}
	line("┌", "┬", "┐")
	cells(header, true)
	first := true
	if err := each(func(row []string) error {
		if first {
			// The header's rule: tablewriter draws none under a
			// header without rows.
			line("├", "┼", "┤")
			first = false
		}
		cells(row, false)
		return p.err
	}); err != nil {
		p.err = cmp.Or(p.err, err)
		return
	}
	line("└", "┴", "┘")
}

// writeRows writes the table of header and the spooled rows: a row at a
// time, or by tablewriter from all of them when a cell has a control
// character (--raw).
func (p *tablePrinter) writeRows(header []string, rows *boxRows) error {
	if !rows.complex {
		p.writeBox(header, rows.widths, rows.each)
		return nil
	}
	var all [][]string
	if err := rows.each(func(row []string) error {
		all = append(all, slices.Clone(row))
		return nil
	}); err != nil {
		return err
	}
	p.viaTablewriter(header, all)
	return nil
}

// cellReader reads cells (uvarint length, bytes) back from a spool.
type cellReader struct {
	r   *bufio.Reader
	buf []byte
}

func (d *cellReader) next() (string, error) {
	var err error
	if d.buf, err = readChunk(d.r, d.buf); err != nil {
		return "", fmt.Errorf("report: reading back the overview table: %w", err)
	}
	return string(d.buf), nil
}

// readChunk reads what spools and runs hold: a uvarint length, then as
// many bytes, read into buf's storage. It returns io.EOF only at the end
// of r before a chunk.
func readChunk(r *bufio.Reader, buf []byte) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return buf, err
	}
	if n > 1<<30 {
		return buf, errors.New("bad length")
	}
	buf = slices.Grow(buf[:0], int(n))[:n]
	if _, err = io.ReadFull(r, buf); err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return buf, err
}
