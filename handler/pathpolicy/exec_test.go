package pathpolicy

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseShebang(t *testing.T) {
	long := "#!/" + strings.Repeat("x", 300)
	for _, tc := range []struct {
		head   string
		interp string
		ok     bool
	}{
		{"#!/bin/sh\necho", "/bin/sh", true},
		{"#! /usr/bin/env python3\n", "/usr/bin/env", true},
		{"#!\t/usr/bin/printf HACKED\n", "/usr/bin/printf", true},
		{"#!/usr/bin/python3 -cprint(1)", "/usr/bin/python3", true},
		{"#!relative/interp\n", "relative/interp", true},
		{"#!/bin/sh", "/bin/sh", true}, // no newline: the file ends, NUL-padded
		{"#!\n", "", false},
		{"#!   \n", "", false},
		{"\x7fELF", "", false},
		{"#", "", false},
		{"", "", false},
		{long, "", false}, // the name does not end within 256 bytes
		{"#!/bin/sh " + strings.Repeat("a", 300), "/bin/sh", true},
	} {
		interp, ok := ParseShebang([]byte(tc.head))
		require.Equal(t, tc.ok, ok, "%q", tc.head)
		require.Equal(t, tc.interp, interp, "%q", tc.head)
	}
}
