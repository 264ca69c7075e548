// Package pdftext reads a PDF's text back with a reader independent of the
// one that wrote it, for tests of the documents the platform renders.
package pdftext

import (
	"bytes"
	"fmt"
	"strings"

	"rsc.io/pdf"
)

// Compact returns the text of every page without whitespace: the reader
// returns glyphs, not words, so spaces do not survive.
func Compact(doc []byte) (string, error) {
	r, err := pdf.NewReader(bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		return "", fmt.Errorf("the PDF does not read back: %w", err)
	}
	var b strings.Builder
	for i := 1; i <= r.NumPage(); i++ {
		for _, g := range r.Page(i).Content().Text {
			b.WriteString(g.S)
		}
	}
	return strings.Join(strings.Fields(b.String()), ""), nil
}

// Squeeze removes s's whitespace, to compare it with Compact's text.
func Squeeze(s string) string { return strings.Join(strings.Fields(s), "") }
