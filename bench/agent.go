package main

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Names of the agent configurations: the same trapped calls and rules in
// a runc container under sandlock-go agent, and under sandlock-go run.
const (
	cfgAgentReturn = "agent + runc: getppid, ret:777"
	cfgRunReturn   = "run: getppid, ret:777"
	cfgAgentOpen   = "agent + runc: open, path policy"
	cfgRunOpen     = "run: open, path policy"
)

// agentDenied is the --deny-path of both: no open names it, so every open
// is checked by the path policy and performed by the supervisor as the
// caller (the agent's credential threads, run's confined threads).
const agentDenied = "/sandlock-bench-denied"

// agentCalls is the victim's loop in the agent figure.
type agentCalls struct {
	s samples
	// skipped says why the figure was not measured, "" when it was.
	skipped string
}

// agentNames are the configurations in table order.
var agentNames = []string{cfgAgentReturn, cfgRunReturn, cfgAgentOpen, cfgRunOpen}

// staticBusybox returns a busybox without an ELF interpreter, or "".
func staticBusybox() string {
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		static := true
		for _, prog := range f.Progs {
			static = static && prog.Type != elf.PT_INTERP
		}
		f.Close()
		if static {
			return p
		}
	}
	return ""
}

// runAgent measures one trapped call of a runc container served by
// sandlock-go agent against the same call and rule under sandlock-go run:
// getppid answered with a value, and an open checked by a path policy
// (performed by the supervisor with the caller's credentials). It returns
// a skipped figure, not an error, where runc cannot run.
func runAgent(set settings, root, tmp, victim string) (*agentCalls, error) {
	if os.Geteuid() != 0 {
		return &agentCalls{skipped: "runc containers need root"}, nil
	}
	runc, err := exec.LookPath("runc")
	if err != nil {
		return &agentCalls{skipped: "runc is not installed (apt-get install runc busybox-static)"}, nil
	}
	busybox := staticBusybox()
	if busybox == "" {
		return &agentCalls{skipped: "no static busybox for the container's rootfs (apt-get install busybox-static)"}, nil
	}
	dir, err := os.MkdirTemp(tmp, "agent-")
	if err != nil {
		return nil, err
	}
	bin, err := goBuild(root, dir, "sandlock-go", "./cmd/sandlock-go")
	if err != nil {
		return nil, err
	}
	rc := runcEnv{runc: runc, busybox: busybox, state: filepath.Join(dir, "state"), victim: victim}
	probe, err := rc.bundle(filepath.Join(dir, "probe"), "", nil, []string{"/bin/true"})
	if err != nil {
		return nil, err
	}
	if out, err := rc.run(probe, "sandlock-bench-probe"); err != nil {
		return &agentCalls{skipped: fmt.Sprintf("runc cannot run a container here: %v: %s", err, strings.TrimSpace(out))}, nil
	}

	sock := filepath.Join(dir, "agent.sock")
	agent := exec.Command(bin, "agent", "--socket", sock, "--on", "getppid=ret:777", "--deny-path", agentDenied)
	var agentLog bytes.Buffer
	agent.Stdout, agent.Stderr = &agentLog, &agentLog
	if err := agent.Start(); err != nil {
		return nil, fmt.Errorf("start the agent: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- agent.Wait() }()
	defer func() {
		_ = agent.Process.Kill()
		<-exited
	}()
	if err := waitSocket(sock, exited); err != nil {
		return nil, fmt.Errorf("agent: %w: %s", err, agentLog.String())
	}

	n := strconv.Itoa(set.slowCalls)
	getppid := []string{"loop", "-n", n, "-want", "777"}
	// The victim opens itself: the same file, by its path in the
	// container and on the host.
	openIn := []string{"loop", "-open", "-path", "/bin/victim", "-n", n}
	openOut := []string{"loop", "-open", "-path", victim, "-n", n}
	// runc's init opens its exec fifo and lists /proc/self/fd after the
	// filter is in: both are opens the path policy allows.
	bGetppid, err := rc.bundle(filepath.Join(dir, "getppid"), sock, []string{"getppid"}, append([]string{"/bin/victim"}, getppid...))
	if err != nil {
		return nil, err
	}
	bOpen, err := rc.bundle(filepath.Join(dir, "open"), sock, []string{"open", "openat"}, append([]string{"/bin/victim"}, openIn...))
	if err != nil {
		return nil, err
	}
	cli := func(args ...string) (float64, error) {
		return nsPerCall(runPlain(bin, append([]string{"run", "--no-pty"}, args...)...))
	}
	seq := 0
	container := func(b string) (float64, error) {
		seq++
		out, err := rc.run(b, fmt.Sprintf("sandlock-bench-%d-%d", os.Getpid(), seq))
		if err != nil {
			return 0, fmt.Errorf("%w: %s\nagent: %s", err, strings.TrimSpace(out), agentLog.String())
		}
		return nsPerCall(out, nil)
	}
	cfgs := []config{
		{cfgAgentReturn, func() (float64, error) { return container(bGetppid) }},
		{cfgRunReturn, func() (float64, error) {
			return cli(append([]string{"--on", "getppid=ret:777", "--", victim}, getppid...)...)
		}},
		{cfgAgentOpen, func() (float64, error) { return container(bOpen) }},
		{cfgRunOpen, func() (float64, error) {
			return cli(append([]string{"--deny-path", agentDenied, "--", victim}, openOut...)...)
		}},
	}
	s, err := interleave(set.rounds, cfgs)
	if err != nil {
		return nil, err
	}
	return &agentCalls{s: s}, nil
}

// waitSocket waits until the agent accepts on sock, or has exited.
func waitSocket(sock string, exited <-chan error) error {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-exited:
			return fmt.Errorf("exited: %v", err)
		default:
		}
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return nil
		}
	}
	return errors.New("not listening after 30s")
}

// runcEnv runs busybox containers holding the victim.
type runcEnv struct {
	runc, busybox string
	state         string // runc --root
	victim        string
}

// bundle writes an OCI bundle in dir running args in a busybox rootfs
// with the victim at /bin/victim; with a socket, its seccomp profile sends
// the notify syscalls to it.
func (e runcEnv) bundle(dir, socket string, notify, args []string) (string, error) {
	rootfs := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "tmp", "etc", "proc", "dev", "sys"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			return "", err
		}
	}
	for from, to := range map[string]string{e.busybox: "bin/busybox", e.victim: "bin/victim"} {
		b, err := os.ReadFile(from)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(rootfs, to), b, 0o755); err != nil {
			return "", err
		}
	}
	for _, c := range []string{"sh", "true"} {
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", c)); err != nil {
			return "", err
		}
	}
	if out, err := exec.Command(e.runc, "spec", "--bundle", dir).CombinedOutput(); err != nil {
		return "", fmt.Errorf("runc spec: %w: %s", err, out)
	}
	path := filepath.Join(dir, "config.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var all map[string]any
	if err := json.Unmarshal(raw, &all); err != nil {
		return "", fmt.Errorf("runc spec's config.json: %w", err)
	}
	proc, _ := all["process"].(map[string]any)
	rootCfg, _ := all["root"].(map[string]any)
	linux, _ := all["linux"].(map[string]any)
	if proc == nil || rootCfg == nil || linux == nil {
		return "", errors.New("runc spec's config.json: no process, root or linux")
	}
	proc["terminal"] = false
	proc["args"] = args
	rootCfg["readonly"] = false
	if socket != "" {
		linux["seccomp"] = map[string]any{
			"defaultAction": "SCMP_ACT_ALLOW",
			"listenerPath":  socket,
			"syscalls":      []any{map[string]any{"names": notify, "action": "SCMP_ACT_NOTIFY"}},
		}
	}
	if raw, err = json.Marshal(all); err != nil {
		return "", err
	}
	return dir, os.WriteFile(path, raw, 0o644)
}

// run is `runc run` of the bundle as container id; it returns the
// container's output.
func (e runcEnv) run(bundle, id string) (string, error) {
	cmd := exec.Command(e.runc, "--root", e.state, "run", "--bundle", bundle, id)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	watchdog := time.AfterFunc(victimTimeout, func() { _ = cmd.Process.Kill() })
	defer watchdog.Stop()
	err := cmd.Run()
	if err != nil {
		// A container left behind would keep its id.
		_ = exec.Command(e.runc, "--root", e.state, "delete", "--force", id).Run()
	}
	return out.String(), err
}
