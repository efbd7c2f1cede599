package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/handler/audit"
	"github.com/sandlock-go/sandlock-go/sandbox/agent"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

const agentUsage = `Usage: sandlock-go agent --socket PATH [flags]

Serve the seccomp listeners that container runtimes (runc, crun; containerd
and CRI-O) send to the unix socket PATH, named as "listenerPath" in a
container's seccomp profile: every syscall the profile sends to the agent
(SCMP_ACT_NOTIFY) is answered by the --on rules, and continues when no rule
names it. Many containers are served at once, each until its processes
exit. On SIGTERM or SIGINT the agent stops accepting, answers what is
pending with the --on-exception policy and exits 0; the containers' later
trapped calls then fail with ENOSYS. See docs/oci-agent.md.

Flags:
  --socket PATH
        The unix socket to listen on (created mode 0600; a stale socket
        file is replaced).
        e.g. --socket /run/sandlock-go/agent.sock
  --on SYSCALL=ACTION
        Answer SYSCALL in every container with ACTION: continue, kill,
        errno:NAME, errno:NUMBER or ret:N. Repeatable. The container's
        seccomp profile decides which syscalls reach the agent.
        e.g. --on getppid=ret:777 --on mkdirat=errno:EPERM
  --on-exception POLICY
        What a trapped syscall gets when its handler fails or the agent
        shuts down under it: kill (default), eperm, continue or eio.
  --trace FILE
        Write one JSON line per trapped syscall to FILE ("-" for stderr),
        with the container's id and pid ("container", "container_pid")
        and the fields of run --trace.
  --allow-path PATH, --deny-path PATH
        The path policy of run, in every container: opens and the other
        file operations the profile notifies are performed by the agent
        on the container's behalf, with the calling task's credentials,
        and paths are the container's (resolved in its root, which they
        cannot leave). Repeatable.
        e.g. --deny-path /etc/shadow
  --allow-exec PATH
        Allow execve and execveat of PATH only (the container's paths),
        where the profile notifies them. Repeatable.
  --profiles DIR
        A container whose listenerMetadata says profile=NAME gets the
        open and exec rules of DIR/NAME.toml (a profile written by
        learn) instead of --allow-path, --deny-path and --allow-exec. A
        bad NAME (a path separator, a leading dot) or an unreadable
        profile is logged and every call of that container is answered
        with --on-exception.
  --workers N
        Handle up to N trapped syscalls of one container at once (default
        8, at most 1024).
  --take-over
        Take the socket and the running containers over from the agent
        listening on --socket, which exits 0 once it has handed them over
        (an upgrade without breaking the containers); without an agent
        there, just listen.
  --wait-after-handover
        Once handed over to a new agent, wait for SIGTERM or SIGINT before
        exiting 0, instead of exiting at once: a DaemonSet pod then does
        not restart its agent while the new pod takes over.
  -h, --help
        Print this help.

Not yet supported in agent mode: --allow-connect, --allow-bind,
--max-processes and --profile (use --profiles); a profile's network and
processes sections are not enforced.

Example:
  sandlock-go agent --socket /run/sandlock-go/agent.sock --on getppid=ret:777 --trace -
  sandlock-go agent --socket /run/sandlock-go/agent.sock --deny-path /secret --profiles /etc/sandlock-go/profiles
`

// agentConfig is a parsed agent command line.
type agentConfig struct {
	Socket      string
	Rules       []OnRule
	OnException handler.ExceptionPolicy
	Trace       string
	Workers     int
	TakeOver    bool
	WaitAfter   bool // --wait-after-handover
	// Paths are --allow-path, --deny-path and --allow-exec.
	Paths policyFlags
	// Profiles is --profiles DIR.
	Profiles string
}

// agentUnsupported are the run flags that agent mode refuses, with why.
var agentUnsupported = []string{"allow-connect", "allow-bind", "max-processes", "profile"}

func parseAgent(args []string, arch *syscalls.Arch) (*agentConfig, error) {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var (
		on                         stringList
		socket, trace, onException string
		workers                    string
	)
	fs.StringVar(&socket, "socket", "", "socket path")
	fs.Var(&on, "on", "trap SYSCALL and answer ACTION")
	fs.StringVar(&onException, "on-exception", "kill", "exception policy")
	fs.StringVar(&trace, "trace", "", "trace file")
	fs.StringVar(&workers, "workers", "", "number of workers")
	takeOver := fs.Bool("take-over", false, "take over from the running agent")
	waitAfter := fs.Bool("wait-after-handover", false, "wait for a signal after a handover")
	var paths policyFlags
	fs.Var(&paths.allowPath, "allow-path", "allow opens beneath PATH")
	fs.Var(&paths.denyPath, "deny-path", "deny opens beneath PATH")
	fs.Var(&paths.allowExec, "allow-exec", "allow exec of PATH")
	var profiles string
	fs.StringVar(&profiles, "profiles", "", "directory of profiles")
	unsupported := make([]stringList, len(agentUnsupported))
	for i, name := range agentUnsupported {
		fs.Var(&unsupported[i], name, "not supported")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return nil, usagef("agent: %v (see sandlock-go agent --help)", err)
	}
	for i, name := range agentUnsupported {
		if len(unsupported[i]) > 0 {
			return nil, usagef("agent: --%s is not supported in agent mode yet (see docs/oci-agent.md)", name)
		}
	}
	if fs.NArg() > 0 {
		return nil, usagef("agent: unexpected argument %q (the agent runs no program)", fs.Arg(0))
	}
	if socket == "" {
		return nil, usagef("agent: --socket PATH is required")
	}
	cfg := &agentConfig{Socket: socket, Trace: trace, TakeOver: *takeOver, WaitAfter: *waitAfter, Paths: paths, Profiles: profiles}
	// No kernel layer under the policies: the container's seccomp
	// profile decides what reaches them, and every decision is theirs.
	cfg.Paths.traced = true
	if _, err := buildPolicies(&cfg.Paths, nil, arch); err != nil {
		return nil, err
	}
	if profiles != "" {
		if fi, err := os.Stat(profiles); err != nil || !fi.IsDir() {
			return nil, usagef("--profiles %s: not a directory", profiles)
		}
	}
	for _, s := range on {
		r, err := ParseOn(s, arch)
		if err != nil {
			return nil, usagef("--on %s: %v", s, err)
		}
		cfg.Rules = append(cfg.Rules, r)
	}
	p, err := handler.ParseExceptionPolicy(onException)
	if err != nil {
		return nil, usagef("--on-exception %s: %v", onException, err)
	}
	cfg.OnException = p
	if workers != "" {
		n, err := strconv.Atoi(workers)
		if err != nil || n < 1 || n > maxWorkers {
			return nil, usagef("--workers %s: want a number from 1 to %d", workers, maxWorkers)
		}
		cfg.Workers = n
	}
	return cfg, nil
}

// agentTracer writes one JSON line per trapped syscall, with the container.
type agentTracer struct {
	mu  sync.Mutex
	w   *bufio.Writer
	err error
}

// traceLine is a trace record with its container.
type traceLine struct {
	Container    string `json:"container"`
	ContainerPid int    `json:"container_pid"`
	*audit.Record
}

func (t *agentTracer) observe(st agent.State) func(*handler.Ctx, handler.Action, time.Duration) {
	return func(c *handler.Ctx, a handler.Action, d time.Duration) {
		line, err := json.Marshal(traceLine{Container: st.State.ID, ContainerPid: st.Pid, Record: audit.NewRecord(time.Now(), c, a, d)})
		if err != nil {
			return
		}
		line = append(line, '\n')
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.err == nil {
			_, t.err = t.w.Write(line)
		}
		if t.err == nil {
			t.err = t.w.Flush()
		}
	}
}

// agentSelector builds the handler table of cfg for each container.
func agentSelector(cfg *agentConfig, arch *syscalls.Arch, tr *agentTracer, logf func(string, ...any)) agent.Selector {
	return func(st agent.State) (*handler.Table, *handler.Options, error) {
		t := handler.NewTable(arch)
		for _, r := range cfg.Rules {
			if err := t.RegisterName(r.Syscall, ruleHandler(r, cfg.OnException)); err != nil {
				return nil, nil, fmt.Errorf("--on %s: %w", r, err)
			}
		}
		t, err := registerContainerPolicies(t, cfg, st, arch, logf)
		if err != nil {
			return nil, nil, err
		}
		opts := &handler.Options{
			Workers:       cfg.Workers,
			ShutdownGrace: 300 * time.Millisecond,
			OnError:       func(err error) { logf("%s: warning: %v", st, err) },
		}
		if tr != nil {
			opts.Observe = tr.observe(st)
		}
		return t, opts, nil
	}
}

func agentMain(args []string, stdout, stderr io.Writer) int {
	arch := syscalls.Native()
	cfg, err := parseAgent(args, arch)
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdout, agentUsage)
		return 0
	}
	if err != nil {
		return fail(stderr, err)
	}
	var logMu sync.Mutex
	logf := func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(stderr, "sandlock-go agent: "+format+"\n", args...)
	}
	var tr *agentTracer
	if cfg.Trace != "" {
		out := stderr
		if cfg.Trace != "-" {
			f, err := os.OpenFile(cfg.Trace, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
			if err != nil {
				return fail(stderr, usagef("--trace %s: %v", cfg.Trace, unwrapPath(err)))
			}
			defer f.Close()
			out = f
		}
		tr = &agentTracer{w: bufio.NewWriter(out)}
	}
	a := agent.New(agentSelector(cfg, arch, tr, logf), &agent.Options{
		Logf: func(format string, args ...any) {
			logf("%s", strings.TrimPrefix(fmt.Sprintf(format, args...), "agent: "))
		},
	})
	var l *net.UnixListener
	if cfg.TakeOver {
		l, err = a.TakeOver(cfg.Socket)
		if errors.Is(err, agent.ErrNoAgent) {
			logf("no agent to take over from on %s", cfg.Socket)
			l, err = agent.Listen(cfg.Socket)
		}
	} else {
		l, err = agent.Listen(cfg.Socket)
	}
	if err != nil {
		_ = a.Close()
		return fail(stderr, fmt.Errorf("agent: %w", err))
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT)
	defer signal.Stop(sigs)
	served := make(chan error, 1)
	go func() { served <- a.Serve(l) }()
	serving := true
	logf("listening on %s", cfg.Socket)

	for {
		select {
		case s := <-sigs:
			logf("%v: shutting down", s)
			ctx, cancel := context.WithTimeout(context.Background(), 900*time.Millisecond)
			err := a.Shutdown(ctx)
			cancel()
			if serving {
				<-served
			}
			if err != nil {
				logf("shutdown: %v (handlers still running)", err)
			}
			return 0
		case err := <-served:
			serving = false
			switch {
			case errors.Is(err, agent.ErrHandedOver):
				_ = a.Close()
				if cfg.WaitAfter {
					logf("handed over to the new agent: waiting for SIGTERM")
					<-sigs
				}
				logf("handed over to the new agent: exiting")
				return 0
			case errors.Is(err, agent.ErrHandoverFailed):
				// The containers not handed over are still ours.
				logf("%v", err)
				l, err := agent.Listen(cfg.Socket)
				if err != nil {
					logf("%v: serving the running containers only", err)
					continue
				}
				go func() { served <- a.Serve(l) }()
				serving = true
				logf("listening on %s again", cfg.Socket)
			default:
				_ = a.Close()
				return fail(stderr, fmt.Errorf("agent: %w", err))
			}
		}
	}
}
