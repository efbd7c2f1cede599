package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// profileVersion is the only profile format so far.
const profileVersion = 1

// Profile is what `sandlock-go learn` saw a program do, and what
// `run --profile` then allows: exactly these opens, execs, connects and
// binds, and at most Processes.Max tasks at once.
type Profile struct {
	Version int `toml:"version"`
	// Program is the command line that was learned (for the reader; it
	// is not enforced).
	Program []string `toml:"program"`
	Open    struct {
		// Files are the canonical paths opened without O_DIRECTORY, and
		// paths that did not exist (failed opens are recorded too, so
		// that a re-run fails them the same way).
		Files pathList `toml:"files"`
		// Dirs are the directories opened with O_DIRECTORY (opendir): a
		// re-run may list them and the directories beneath them.
		Dirs pathList `toml:"dirs"`
	} `toml:"open"`
	Exec struct {
		// Paths are the programs executed (canonical), and the paths an
		// exec was attempted on (a shell searching PATH).
		Paths pathList `toml:"paths"`
	} `toml:"exec"`
	Network struct {
		// Connect and Bind are "HOST:PORT" endpoints, as --allow-connect
		// takes them.
		Connect pathList `toml:"connect"`
		Bind    pathList `toml:"bind"`
	} `toml:"network"`
	Processes struct {
		// Max is the most tasks (processes and threads: the kernel's
		// pids.peak of the run; processes only where the trap counted)
		// seen at once (0: no limit).
		Max int `toml:"max"`
	} `toml:"processes"`
}

// pathList is a sorted list of strings written one per line.
type pathList []string

// MarshalTOML writes a multi-line array (the library writes one line).
func (l pathList) MarshalTOML() ([]byte, error) {
	if len(l) == 0 {
		return []byte("[]"), nil
	}
	var b bytes.Buffer
	b.WriteString("[\n")
	for _, s := range l {
		// A JSON string of valid UTF-8 is a TOML basic string, but for
		// DEL, which TOML wants escaped.
		q, err := json.Marshal(s)
		if err != nil {
			return nil, err
		}
		q = bytes.ReplaceAll(q, []byte("\x7f"), []byte(`\u007f`))
		b.WriteString("  ")
		b.Write(q)
		b.WriteString(",\n")
	}
	b.WriteString("]")
	return b.Bytes(), nil
}

// profileHeader starts every written profile.
const profileHeader = `# sandlock-go profile, written by sandlock-go learn. Enforce it with
#   sandlock-go run --profile FILE -- PROGRAM [ARGS...]
# A run may open exactly the files below, open the directories below (and
# list the ones beneath them) with O_DIRECTORY, exec exactly the paths
# below, connect to and bind exactly the endpoints below, and have at most
# processes.max tasks (processes and threads) at once. Empty lists deny
# everything of a kind.
# A path covers what is beneath it; a glob (/tmp/cc*) is learn's
# generalization of a name that changes each run (see docs/cli.md).

`

// writeProfile writes p as TOML, lists sorted.
func writeProfile(w io.Writer, p *Profile) error {
	for _, l := range []*pathList{&p.Open.Files, &p.Open.Dirs, &p.Exec.Paths, &p.Network.Connect, &p.Network.Bind} {
		slices.Sort(*l)
		*l = slices.Compact(*l)
	}
	// A TOML file is UTF-8: a name that is not cannot be written as it is,
	// and changed it would allow another file.
	for _, l := range [][]string{p.Program, p.Open.Files, p.Open.Dirs, p.Exec.Paths, p.Network.Connect, p.Network.Bind} {
		for _, s := range l {
			if !utf8.ValidString(s) {
				return fmt.Errorf("%q is not valid UTF-8, which a profile (TOML) cannot hold", s)
			}
		}
	}
	if _, err := io.WriteString(w, profileHeader); err != nil {
		return err
	}
	enc := toml.NewEncoder(w)
	enc.Indent = ""
	return enc.Encode(p)
}

// readProfile parses a profile; unknown keys and other versions are
// errors.
func readProfile(r io.Reader) (*Profile, error) {
	data, err := readProfileBytes(r) // profile_limits.go
	if err != nil {
		return nil, err
	}
	var p Profile
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&p)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("line %d: %s", pe.Position.Line, escapeControl(pe.Message))
		}
		return nil, errors.New(escapeControl(err.Error()))
	}
	if extra := md.Undecoded(); len(extra) > 0 {
		keys := make([]string, len(extra))
		for i, k := range extra {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("unknown key %s", escapeControl(strings.Join(keys, ", ")))
	}
	if p.Version != profileVersion {
		return nil, fmt.Errorf("version %d not supported (want %d)", p.Version, profileVersion)
	}
	if p.Processes.Max < 0 {
		return nil, fmt.Errorf("processes.max %d: want 0 (no limit) or more", p.Processes.Max)
	}
	return &p, nil
}

// loadProfile reads the profile of --profile; errors are *usageError.
func loadProfile(path string) (*Profile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usagef("--profile %s: %v", path, unwrapPath(err))
	}
	defer f.Close()
	p, err := readProfile(f)
	if err != nil {
		return nil, usagef("--profile %s: %v", path, err)
	}
	return p, nil
}
