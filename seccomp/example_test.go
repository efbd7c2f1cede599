package seccomp_test

import (
	"fmt"
	"log"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/seccomp"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// A filter that sends openat with O_CREAT to the supervisor, denies
// getppid, and allows the rest; evaluated without a kernel.
func ExampleFilter_Compile() {
	arch := syscalls.X86_64
	openat, err := seccomp.RuleByName(arch, "openat", seccomp.Notify,
		seccomp.ArgMaskedEq(2, unix.O_CREAT, unix.O_CREAT))
	if err != nil {
		log.Fatal(err)
	}
	getppid, err := seccomp.RuleByName(arch, "getppid", seccomp.Errno(unix.EPERM))
	if err != nil {
		log.Fatal(err)
	}
	f := &seccomp.Filter{Arch: arch, Default: seccomp.Allow, Rules: []seccomp.Rule{openat, getppid}}
	prog, err := f.Compile()
	if err != nil {
		log.Fatal(err)
	}

	for _, d := range []seccomp.Data{
		{Nr: int32(openat.Syscall), Arch: arch.AuditArch(), Args: [6]uint64{0, 0, unix.O_RDONLY}},
		{Nr: int32(openat.Syscall), Arch: arch.AuditArch(), Args: [6]uint64{0, 0, unix.O_WRONLY | unix.O_CREAT}},
		{Nr: int32(getppid.Syscall), Arch: arch.AuditArch()},
		{Nr: int32(getppid.Syscall), Arch: 0x40000003}, // i386 ABI
	} {
		ret, err := prog.Evaluate(d)
		if err != nil {
			log.Fatal(err)
		}
		action, _ := seccomp.ActionFromRet(ret)
		fmt.Println(action)
	}
	// Output:
	// allow
	// notify
	// errno(EPERM)
	// kill-process
}
