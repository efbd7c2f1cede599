// Command execattack runs programs an exec policy does not allow through
// the #! line of a script in an allowed directory, for the exec policy
// tests.
//
//	execattack shebang DIR INTERP    write DIR/attack ("#!INTERP HACKED")
//	                                 and exec it
//	execattack xonly DIR INTERP      the same with DIR/attack execute-only
//	                                 (mode 0111: the exec policy cannot
//	                                 read it as the process)
//	execattack chain DIR INTERP      write DIR/inner ("#!INTERP HACKED") and
//	                                 DIR/outer ("#!DIR/inner"), exec outer
//	execattack flip DIR OK BAD N     run DIR/attack N times while another
//	                                 thread renames over it, in turn, a
//	                                 script for OK and one for BAD; print
//	                                 "runs=N ok=N hacked=N failed=N"
//
// An exec that fails prints "exec errno=NAME".
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

func script(path, line string) {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte("#!"+line+"\n"), 0o755); err != nil {
		fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Println("FAIL", err)
	os.Exit(1)
}

func execute(path string) {
	err := syscall.Exec(path, []string{path}, os.Environ())
	var errno syscall.Errno
	if errors.As(err, &errno) {
		fmt.Println("exec errno=" + errnoName(errno))
		return
	}
	fail(err)
}

func errnoName(e syscall.Errno) string {
	switch e {
	case syscall.EACCES:
		return "EACCES"
	case syscall.ELOOP:
		return "ELOOP"
	case syscall.ENOENT:
		return "ENOENT"
	case syscall.EPERM:
		return "EPERM"
	}
	return strconv.Itoa(int(e))
}

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: execattack shebang|chain|flip DIR ...")
		os.Exit(2)
	}
	dir := os.Args[2]
	switch os.Args[1] {
	case "shebang":
		p := filepath.Join(dir, "attack")
		script(p, os.Args[3]+" HACKED")
		execute(p)
	case "xonly":
		p := filepath.Join(dir, "attack")
		script(p, os.Args[3]+" HACKED")
		if err := os.Chmod(p, 0o111); err != nil {
			fail(err)
		}
		execute(p)
	case "chain":
		inner, outer := filepath.Join(dir, "inner"), filepath.Join(dir, "outer")
		script(inner, os.Args[3]+" HACKED")
		script(outer, inner)
		execute(outer)
	case "flip":
		n, _ := strconv.Atoi(os.Args[5])
		flip(dir, os.Args[3], os.Args[4], n)
	default:
		os.Exit(2)
	}
}

func flip(dir, ok, bad string, n int) {
	p := filepath.Join(dir, "attack")
	okScript, badScript := filepath.Join(dir, "ok"), filepath.Join(dir, "bad")
	script(okScript, ok+" OK")
	script(badScript, bad+" HACKED")
	link := func(from string) {
		tmp := p + ".link"
		_ = os.Remove(tmp)
		if err := os.Link(from, tmp); err != nil {
			fail(err)
		}
		if err := os.Rename(tmp, p); err != nil {
			fail(err)
		}
	}
	link(okScript)
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; !stop.Load(); i++ {
			if i%2 == 0 {
				link(badScript)
			} else {
				link(okScript)
			}
		}
	}()
	var okRuns, hacked, failed int
	for range n {
		out, err := exec.Command(p).Output()
		switch {
		case strings.HasPrefix(string(out), "HACKED"):
			hacked++
		case err == nil && strings.HasPrefix(string(out), "OK"):
			okRuns++
		default:
			failed++
		}
	}
	stop.Store(true)
	<-done
	fmt.Printf("runs=%d ok=%d hacked=%d failed=%d\n", n, okRuns, hacked, failed)
}
