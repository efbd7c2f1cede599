// Package audit records trapped syscalls with decoded arguments, one line
// per syscall, as JSON or as strace-like text.
//
// # Use
//
// A Recorder fits in two places. As handler.Options.Observe it sees every
// trapped syscall after the chain decided, with the final action and the
// time the handlers took:
//
//	rec := audit.New(f, nil)
//	defer rec.Close()
//	cmd.ServeOptions = &handler.Options{Observe: rec.Observe}
//
// As a member of a chain (Handle), it records the syscall when the chain
// reaches it and answers Continue, so that the next handler decides; its
// records have no action. Either way it only reads: it never changes an
// answer, and its exception policy is Continue.
//
// # Lines
//
// JSON (the default Format) writes one object per line:
//
//	{"time":"2025-01-02T15:04:05.123456789Z","pid":4242,"syscall":"openat","nr":257,
//	 "args":["0xffffffffffffff9c","0x7ffd2c1e8f20","0x80000","0x0","0x0","0x0"],
//	 "decoded":{"dirfd":"AT_FDCWD","path":"/etc/hostname","flags":"O_RDONLY|O_CLOEXEC"},
//	 "path":"/etc/hostname","action":"continue","latency_ns":1830}
//
// (wrapped here). Record documents each field. Text writes the same as
//
//	[pid 4242] openat(AT_FDCWD, "/etc/hostname", O_RDONLY|O_CLOEXEC) = continue
//
// # Decoding
//
// Decode reads each syscall's signature from the syscall-argument model
// (package syscalls/args), in the order of the notification's arch (clone
// differs between x86_64 and aarch64): the file, exec, process and network
// syscalls (Family lists them) and a few others; the rest keep their raw
// arguments. The "file" family is every syscall with a path argument in
// the model, exec's aside. It shows
//
//   - paths, symlink targets, xattr names as the process passed them (the
//     top-level "path" is the first looked-up path made absolute, see
//     PathArg);
//   - open flags, AT_* flags, access modes, clone flags and exit signals,
//     socket families and types, MSG_* flags by name; leftover bits in hex;
//   - modes in octal ("0644"); open's mode only with O_CREAT or O_TMPFILE,
//     since the kernel ignores it otherwise;
//   - a dirfd of AT_FDCWD by name, other fds as numbers;
//   - the sockaddr of connect, bind and sendto as its family and address:
//     "127.0.0.1:80", "[::1]:80", a unix path, or "@name" for an abstract
//     socket;
//   - execve's argv as a list (at most MaxArgs entries of MaxArgLen bytes,
//     MaxArgBytes in all; a list cut short ends with "..."), and the number
//     of environment variables;
//   - struct open_how (openat2) and struct clone_args (clone3) as objects.
//
// A pointer that cannot be read shows as {"addr":"0x…","error":"EFAULT"}.
// Strings are JSON strings: bytes that are not UTF-8 become U+FFFD there
// (the text format escapes them instead).
//
// # Limits
//
// Everything is read from the process's memory while its syscall waits; a
// thread of the process can change that memory right after, so a record is
// a log of what was asked, not proof of what the kernel did (see
// docs/security.md).
package audit
