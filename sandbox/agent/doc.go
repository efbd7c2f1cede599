// Package agent is an OCI seccomp agent: it serves the seccomp listeners
// that container runtimes (runc, crun; containerd and CRI-O pass the
// profile through) send to a unix socket named by a seccomp profile's
// listenerPath, with the handlers of package handler.
//
//	a := agent.New(func(st agent.State) (*handler.Table, *handler.Options, error) {
//		t := handler.NewTable(syscalls.Native())
//		// register handlers, chosen by st.State.ID or st.MetadataValue("profile")
//		return t, nil, nil
//	}, &agent.Options{Logf: log.Printf})
//	l, err := agent.Listen("/run/sandlock-go/agent.sock")
//	...
//	go a.Serve(l)
//	...
//	a.Shutdown(ctx) // on SIGTERM
//
// # The runtime's message
//
// The runtime connects once per container, sends the container process
// state as JSON ({"ociVersion", "fds": ["seccompFd"], "pid", "metadata",
// "state": {"id", "status", "bundle", ...}}) with the listener fd in
// SCM_RIGHTS, and closes. The container does not start until the message
// is sent, and without an agent it does not start at all.
//
// ReadMessage and ParseMessage reject, with an error matching one of
// ErrMalformed, ErrUnknownVersion (not a 1.x spec version), ErrBadFDs (no
// descriptor, a count that does not match "fds", "seccompFd" missing or
// named twice, truncated control data), ErrNotListener (the seccompFd is
// not "anon_inode:seccomp notify") and ErrInvalidState (no pid, no
// state.id): the connection is closed, every received descriptor too, the
// rejection is logged with the container id when known, and the agent goes
// on. A descriptor other than the listener, named in "fds", is closed.
//
// # Serving
//
// Each container is served by handler.Serve on goroutines of its own, with
// the table and options the Selector picks, until its tasks have all
// exited (the listener hangs up) or the agent shuts down; the listener is
// then closed. One container's death, a bad message or a Selector error
// never stops the others.
//
// # Acting for a container
//
// Before the Selector is called, the agent opens the container's root
// (/proc/PID/root of the pid in the message, the container's init, which
// has pivoted into its rootfs already): State.Root, for path policies
// (pathpolicy.OpenPolicy.WithRoot), open until the container is no longer
// served. Unless the Selector sets Options.AsTask or Options.AsProcess,
// Ctx.AsProcess runs its function on a thread of the agent that has the
// trapped task's credentials: its fs uid and gid, supplementary groups and
// effective capabilities, read from /proc/TID/status at each call (no
// capability when the task is in another user namespace: its capabilities
// are over that namespace only). Each distinct set of credentials of a
// container (at most 16) has up to 4 such threads, started on demand and
// ended with the container.
//
// # Handover
//
// A new agent calls TakeOver on the running agent's socket: the old agent
// passes its listening socket, then each container's state and listener
// (after its Serve of it has returned), and its Serve returns
// ErrHandedOver; the new agent serves them with its own Selector and
// passes the socket to its Serve. If the handover fails midway, the old
// agent keeps the containers it has not passed yet and its Serve returns
// an error matching ErrHandoverFailed; it may Listen and Serve again.
//
// # Limits
//
// Closing a listener makes the container's trapped calls fail with ENOSYS
// for good: an agent that exits without a handover breaks the containers
// it served. The agent runs in the host's namespaces: handlers read memory
// through /proc/PID/mem of the host pid; the threads that act for a
// container have its credentials but not its user namespace, LSM label
// (AppArmor, SELinux), Landlock domain or seccomp filter, and are in the
// host's mount and network namespaces (paths reach the container's mounts
// through its root descriptor). Continue is never a security decision
// (see the handler package).
package agent
