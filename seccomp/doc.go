// Package seccomp compiles syscall rules to a seccomp BPF program, runs that
// program without a kernel for tests, and installs it on the calling
// thread, returning the user-notification listener.
//
// # Rules
//
// A Filter has an architecture (nil means syscalls.Native()), a Default
// Action and a list of Rules. A Rule names a syscall by number on the
// filter's architecture (RuleByName looks the number up), an Action, and
// Conds on the arguments, which must all hold. The rules of one syscall are
// tried in order and the first one that matches decides; when none does,
// Default applies. Conditions compare the full 64-bit argument, unsigned:
// ArgEq, ArgNe, ArgLt, ArgLe, ArgGt, ArgGe and ArgMaskedEq.
//
// Actions are Allow (the zero Action), Notify (SECCOMP_RET_USER_NOTIF),
// Errno(e), Log, Trap, KillThread and KillProcess. Action.Ret gives the
// SECCOMP_RET_* value.
//
// Filter.Compile rejects a filter that cannot mean what it says: a syscall
// number outside the table's range, an argument index outside 0..5, an
// errno above 4095 (ErrInvalidRule); a rule that an earlier rule on the same
// syscall always hides, with another action (ErrConflictingRules); a program
// longer than the kernel's 4096 instructions (ErrProgramTooLong). Filter.Decide
// is the reference model: the Action a filter gives to a seccomp_data,
// computed from the rules without BPF.
//
// # The program
//
// The compiled program:
//
//   - loads seccomp_data.arch and kills the process (KillProcess) unless it
//     is the filter's AUDIT_ARCH: a syscall made through another ABI, such as
//     int 0x80 (i386) on x86_64, has numbers that mean other syscalls;
//   - on x86_64, answers ENOSYS to any number with the x32 bit
//     (syscalls.X32SyscallBit) set, as a kernel without x32 support does, so
//     the x32 ABI cannot bypass the rules;
//   - finds the syscall number by binary search (jge) over the intervals of
//     numbers that share one outcome, so its cost grows with the logarithm
//     of the number of rules. The tree favors syscalls that run: it
//     minimizes their depth and lets trapped syscalls and numbers that are
//     no syscall sit up to two or four levels deeper;
//   - for a syscall with conditional rules, tests each rule's conditions in
//     order, a 64-bit compare being done on the high then the low 32-bit
//     word of the argument (seccomp_data is little-endian on the supported
//     architectures).
//
// With 300 rules on x86_64, spread over the table with alternating actions
// (the worst case for the search), an allowed syscall executes at most 12
// instructions, against 6 with a single rule.
//
// The arch and number are the only fields read before a syscall without
// conditional rules is decided, so Linux 5.11+ can cache the decision for
// every syscall that is always allowed: those then skip the filter.
//
// # Testing without a kernel
//
// Program.Evaluate runs a program on a Data (struct seccomp_data) in a
// seccomp BPF interpreter written in Go and returns the SECCOMP_RET_* value
// the kernel would; EvaluateSteps also counts the instructions executed.
// Program.Validate checks a program as the kernel does before accepting it,
// and Program.Disassemble prints it for failure messages. The package's
// tests compare Evaluate with Decide on random filters and every syscall
// number, and with the kernel itself.
//
// # Installing
//
// Install sets no_new_privs and installs a program on the calling thread
// only, never with SECCOMP_FILTER_FLAG_TSYNC: the caller locks its
// goroutine to the thread first (runtime.LockOSThread) and keeps it locked,
// typically in a helper process that calls execve right after. Install
// makes no allocation and starts no goroutine. With InstallOptions.Listener
// it returns the listener fd for Notify (close-on-exec); only one filter in
// a thread's stack may have a listener.
//
// Program.Marshal and UnmarshalProgram carry a compiled program to such a
// helper, for example a re-executed copy of the supervisor.
//
// # Static policies
//
// ParseStaticPolicy reads an allow or deny list with argument conditions in
// the YAML or JSON format of elastic/go-seccomp-bpf, into that library's
// Policy, checking every key and every syscall name against our tables.
// CompileStatic compiles it with go-seccomp-bpf into a Program to install
// as a filter of its own, stacked on a Filter's (a run's notification
// filter). Three things are added to go-seccomp-bpf: a condition on an
// argument the kernel reads as 32 bits (Arg32: ioctl's request, file
// descriptors, flags and modes) tests the low word only, so that a rule on
// TIOCSTI also stops 0x100005412; the policy is compiled one piece at a
// time (go-seccomp-bpf v1.6.0 compares argument words with syscall numbers
// after a failed condition); and the program is run in the interpreter
// against StaticDecide, the policy's reference model, before it is
// accepted. go-seccomp-bpf's program gives a foreign-ABI call the default
// action: it is only safe stacked with a Filter, which kills those calls.
// MostRestrictive combines two stacked filters' answers as the kernel does;
// StaticAlways tells what a policy answers a syscall whatever its
// arguments.
//
// # Kernel versions
//
//   - seccomp(2) with SECCOMP_SET_MODE_FILTER: Linux 3.17
//   - KillProcess and Log: Linux 4.14
//   - Notify and InstallOptions.Listener (SECCOMP_FILTER_FLAG_NEW_LISTENER):
//     Linux 5.0
//   - SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, requested with the listener:
//     Linux 5.19; on older kernels Install retries without it (unless
//     InstallOptions.WaitKillableRecv is FlagRequired; InstallReport says
//     which), and then a non-fatal signal (Go's preemption SIGURG) can
//     interrupt a syscall waiting for the supervisor's answer
//   - cache of always-allowed syscalls: Linux 5.11
package seccomp
