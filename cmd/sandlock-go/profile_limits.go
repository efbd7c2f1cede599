package main

import (
	"bytes"
	"fmt"
	"io"
)

// Bounds on a profile that readProfile checks before the TOML decoder
// sees it: BurntSushi/toml (v1.6.0 and before) takes time and memory
// quadratic in the parts of one dotted key and in the depth of nested
// inline tables (a 40 KB "a.a.a...a = 1" takes a minute; upstream issue
// #496), and a --profile file may come from someone else. A profile
// learn writes has keys of one part, arrays one level deep and a size
// proportional to what the program touched.
const (
	maxProfileSize = 64 << 20
	// maxProfileNesting bounds, on one line outside strings and
	// comments, the dots (dotted key parts, table headers) and the
	// depth of open brackets and braces.
	maxProfileNesting = 32
)

// readProfileBytes reads a profile of at most maxProfileSize bytes and
// refuses one whose keys or nesting exceed maxProfileNesting.
func readProfileBytes(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxProfileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxProfileSize {
		return nil, fmt.Errorf("larger than %d MiB", maxProfileSize>>20)
	}
	if line := tooNested(data); line > 0 {
		return nil, fmt.Errorf("line %d: more than %d dotted key parts or nested brackets", line, maxProfileNesting)
	}
	return data, nil
}

// tooNested returns the first line (from 1) on which more than
// maxProfileNesting dots or open brackets and braces occur outside strings
// and comments, or 0. It skips TOML's four kinds of strings; it need not
// reject everything the decoder does.
func tooNested(data []byte) int {
	line, dots, depth := 1, 0, 0
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '\n':
			line++
			dots = 0
		case '#':
			for i+1 < len(data) && data[i+1] != '\n' {
				i++
			}
		case '"', '\'':
			delim := []byte{c}
			if bytes.HasPrefix(data[i:], []byte{c, c, c}) {
				delim = []byte{c, c, c}
			}
			for i += len(delim); i < len(data) && !bytes.HasPrefix(data[i:], delim); i++ {
				switch {
				case data[i] == '\\' && c == '"':
					i++ // the escaped byte
				case data[i] == '\n' && len(delim) == 1:
					return 0 // an unterminated string: the decoder says so
				}
				if i < len(data) && data[i] == '\n' {
					line++
				}
			}
			i += len(delim) - 1
		case '.':
			dots++
		case '[', '{':
			depth++
		case ']', '}':
			depth--
		}
		if dots > maxProfileNesting || depth > maxProfileNesting {
			return line
		}
	}
	return 0
}
