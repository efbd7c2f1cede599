#!/usr/bin/env python3
"""Destructive checks of the integration tests (docs/testing.md).

Copies the repository to a private temp dir (the working tree is never
touched), applies one mutation at a time (an exact code fragment replaced),
runs the integration tests, records which top-level tests failed, restores.

    python3 tests/testdata/mutate.py                 # all mutations
    python3 tests/testdata/mutate.py mem-no-id-valid-check killgroup-noop

A mutation whose fragment is no longer found once is reported with
"error": update its fragment after a refactor.
"""
import json, os, re, shutil, subprocess, sys, tempfile, time

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WORK = os.path.join(tempfile.gettempdir(), "sandlock-go-mutations", "tree")
TESTS = ("TestActionErrno|TestActionReturnValue|TestActionKill|TestActionInjectFD|TestCtxReadPathDeniesOneFile|"
         "TestExceptionPolicies|TestMultiThreadedReturnValues|TestHandlersOnLauncherSyscalls|"
         "TestHandlersOnRuntimeSyscallsMultiThreaded|TestExitStatus|TestCancel|TestChildKilledMidNotification|"
         "TestNoLeaks|TestStartErrors|TestGrandchildOutlivesParent|TestLeftoverProcessGroupKilled|"
         "TestCtxReadAfterPidReuse|TestLandlockReadOnlyPaths|TestDenyList|TestCtxFields|TestRegistration")

M = [
 ("dispatch-always-continue", "handler/serve.go",
  "func (s *server) decide(c *Ctx) (Action, ExceptionPolicy) {\n",
  "func (s *server) decide(c *Ctx) (Action, ExceptionPolicy) {\n\tif true {\n\t\treturn Continue(), ExceptionKill\n\t}\n"),
 ("exception-policy-skipped-continue", "handler/serve.go",
  "\t\tif !ok {\n\t\t\ta = policy.action()\n\t\t}\n", "\t\tif !ok {\n\t\t\ta = Continue()\n\t\t}\n"),
 ("exception-policy-skipped-kill", "handler/serve.go",
  "\t\tif !ok {\n\t\t\ta = policy.action()\n\t\t}\n", "\t\tif !ok {\n\t\t\ta = Kill()\n\t\t}\n"),
 ("kill-action-not-killing", "handler/serve.go",
  "\t\terr := killTask(s.n, int(c.n.Pid), id)\n", "\t\tvar err error\n"),
 ("injectfd-as-return-value", "handler/serve.go",
  "\tcase KindInjectFD:\n\t\treturn s.inject(c, a)\n", "\tcase KindInjectFD:\n\t\treturn s.n.Send(&notif.Resp{ID: id, Val: a.value})\n"),
 ("injectfd-flags-dropped", "handler/serve.go",
  "SrcFD: uint32(fd), NewFDFlags: a.flags}", "SrcFD: uint32(fd), NewFDFlags: 0}"),
 ("injectfd-supervisor-fd-not-closed", "handler/serve.go",
  "\tfd := int(a.value)\n\tdefer unix.Close(fd)\n", "\tfd := int(a.value)\n"),
 ("report-gone-as-error", "handler/serve.go",
  "!errors.Is(err, notif.ErrNotificationGone) && ", ""),
 ("failstuck-skipped", "handler/serve.go",
  "\t\t\t\ts.failStuck(c)\n", "\t\t\t\t_ = c\n"),
 ("mem-no-id-valid-check", "mem/mem.go",
  "func (p Process) check() error {\n\tif p.Valid == nil {", "func (p Process) check() error {\n\tif true {"),
 ("ctx-valid-always-nil", "handler/ctx.go",
  "\treturn c.notifier.IDValid(c.n.ID)\n}", "\treturn nil\n}"),
 ("readpath-ignores-cwd", "handler/ctx.go",
  "\tif filepath.IsAbs(path) {\n\t\treturn filepath.Clean(path), nil\n\t}\n",
  "\tif true {\n\t\treturn filepath.Clean(path), nil\n\t}\n"),
 ("gone-without-enoent", "notif/notif.go",
  'return fmt.Errorf("%s id %#x: %w: %w", op, id, ErrNotificationGone, unix.ENOENT)',
  'return fmt.Errorf("%s id %#x: %w: %v", op, id, ErrNotificationGone, unix.ENOENT)'),
 ("killgroup-noop", "sandbox/cmd.go",
  "func (c *Cmd) killGroup() {\n", "func (c *Cmd) killGroup() {\n\tif true {\n\t\treturn\n\t}\n"),
 ("killgroup-only-leader", "sandbox/cmd.go",
  "\t\t_ = unix.Kill(-c.helper.Process.Pid, unix.SIGKILL)\n", ""),
 ("context-not-watched", "sandbox/cmd.go",
  "\tcase <-c.ctx.Done():\n\t\tc.killGroup()\n", "\tcase <-c.ctx.Done():\n\t\t<-c.done\n"),
 ("wait-drops-context-error", "sandbox/cmd.go",
  "\t\tif ctxErr := c.ctx.Err(); ctxErr != nil && err != nil {\n", "\t\tif ctxErr := c.ctx.Err(); false && ctxErr != nil && err != nil {\n"),
 ("exiterror-no-unwrap", "sandbox/cmd.go",
  "func (e *ExitError) Unwrap() error { return e.ExitError }", "func (e *ExitError) unwrap() error { return e.ExitError }"),
 ("start-failure-keeps-helper", "sandbox/cmd.go",
  "\t\tc.helper, c.Process = nil, nil\n", "\n"),
 ("exitstatus-ignores-signal", "sandbox/cmd.go",
  "\tif ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {\n\t\treturn 128 + int(ws.Signal())",
  "\tif ws, ok := ps.Sys().(syscall.WaitStatus); ok && false && ws.Signaled() {\n\t\treturn 128 + int(ws.Signal())"),
 ("deny-list-notified", "sandbox/policy.go",
  "Action: seccomp.Errno(errno)})", "Action: seccomp.Notify})"),
 ("landlock-not-applied", "sandbox/landlock.go",
  "func (c *landlockConfig) restrictThread() error {\n", "func (c *landlockConfig) restrictThread() error {\n\tif true {\n\t\treturn nil\n\t}\n"),
 ("ctx-args-zeroed", "handler/ctx.go",
  "func (c *Ctx) Args() [6]uint64 { return c.n.Data.Args }", "func (c *Ctx) Args() [6]uint64 { return [6]uint64{} }"),
 ("ctx-arg-off-by-one", "handler/ctx.go",
  "\treturn c.n.Data.Args[i]\n", "\treturn c.n.Data.Args[(i+1)%6]\n"),
 ("observe-not-called", "handler/serve.go",
  "\tif s.opts.Observe != nil {\n\t\ts.opts.Observe(c, a, time.Since(start))\n\t}\n", ""),
 ("prefilter-hides-nothing", "sandbox/cmd.go",
  "\tvar launched atomic.Bool\n", "\tvar launched atomic.Bool\n\tlaunched.Store(true)\n"),
]

def run(name, path, old, new):
    f = os.path.join(WORK, path)
    orig = open(f).read()
    n = orig.count(old)
    if n != 1:
        return {"name": name, "error": f"pattern found {n} times in {path}"}
    open(f, "w").write(orig.replace(old, new))
    try:
        start = time.time()
        p = subprocess.run(["go", "test", "-count=1", "-timeout", "180s", "-run", "^(" + TESTS + ")$", "-v", "./tests/"],
                           cwd=WORK, capture_output=True, text=True)
        out = p.stdout + p.stderr
        failed = sorted(set(re.findall(r"^--- FAIL: (Test\w+) ", out, re.M)))
        panicked = "panic:" in out and not failed
        build = "[build failed]" in out or "setup failed" in out
        return {"name": name, "file": path, "rc": p.returncode, "failed": failed, "panic": "panic:" in out,
                "timeout": "test timed out" in out, "build_failed": build, "secs": round(time.time() - start, 1),
                "tail": out[-1500:] if (build or (p.returncode and not failed)) else ""}
    finally:
        open(f, "w").write(orig)

if __name__ == "__main__":
    if os.path.exists(WORK):
        shutil.rmtree(WORK)
    shutil.copytree(SRC, WORK, ignore=shutil.ignore_patterns(".git"))
    only = sys.argv[1:]
    results = []
    for m in M:
        if only and m[0] not in only:
            continue
        r = run(*m)
        results.append(r)
        print(json.dumps(r), flush=True)
    caught = sum(1 for r in results if r.get("failed") or r.get("panic") or r.get("timeout"))
    print(f"{caught} of {len(results)} mutations caught", file=sys.stderr)
    shutil.rmtree(WORK)
