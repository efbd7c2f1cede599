package args

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/syscalls"
)

// prototypes are kernel prototypes as include/linux/syscalls.h declares
// them (kernel/fork.c for clone's two orders), for a sample of the model.
// The arch is nil when the prototype holds on every arch.
var prototypes = []struct {
	arch  *syscalls.Arch
	proto string
}{
	{nil, "sys_openat(int dfd, const char __user *filename, int flags, umode_t mode)"},
	{nil, "sys_openat2(int dfd, const char __user *filename, struct open_how *how, size_t size)"},
	{nil, "sys_open(const char __user *filename, int flags, umode_t mode)"},
	{nil, "sys_linkat(int olddfd, const char __user *oldname, int newdfd, const char __user *newname, int flags)"},
	{nil, "sys_renameat2(int olddfd, const char __user *oldname, int newdfd, const char __user *newname, unsigned int flags)"},
	{nil, "sys_symlinkat(const char __user * oldname, int newdfd, const char __user * newname)"},
	{nil, "sys_mknodat(int dfd, const char __user * filename, umode_t mode, unsigned dev)"},
	{nil, "sys_unlinkat(int dfd, const char __user * pathname, int flag)"},
	{nil, "sys_fchownat(int dfd, const char __user *filename, uid_t user, gid_t group, int flag)"},
	{nil, "sys_chown(const char __user *filename, uid_t user, gid_t group)"},
	{nil, "sys_fchmodat2(int dfd, const char __user *filename, umode_t mode, unsigned int flags)"},
	{nil, "sys_newfstatat(int dfd, const char __user *filename, struct stat __user *statbuf, int flag)"},
	{nil, "sys_statx(int dfd, const char __user *path, unsigned flags, unsigned mask, struct statx __user *buffer)"},
	{nil, "sys_utimensat(int dfd, const char __user *filename, struct __kernel_timespec __user *utimes, int flags)"},
	{nil, "sys_truncate(const char __user *path, long length)"},
	{nil, "sys_setxattr(const char __user *path, const char __user *name, const void __user *value, size_t size, int flags)"},
	{nil, "sys_setxattrat(int dfd, const char __user *path, unsigned int at_flags, const char __user *name, const struct xattr_args __user *args, size_t size)"},
	{nil, "sys_listxattr(const char __user *path, char __user *list, size_t size)"},
	{nil, "sys_inotify_add_watch(int fd, const char __user *path, u32 mask)"},
	{nil, "sys_fanotify_mark(int fanotify_fd, unsigned int flags, u64 mask, int fd, const char  __user *pathname)"},
	{nil, "sys_name_to_handle_at(int dfd, const char __user *name, struct file_handle __user *handle, int __user *mnt_id, int flag)"},
	{nil, "sys_open_by_handle_at(int mountdirfd, struct file_handle __user *handle, int flags)"},
	{nil, "sys_move_mount(int from_dfd, const char __user *from_path, int to_dfd, const char __user *to_path, unsigned int ms_flags)"},
	{nil, "sys_mount_setattr(int dfd, const char __user *path, unsigned int flags, struct mount_attr __user *uattr, size_t usize)"},
	{nil, "sys_mount(char __user *dev_name, char __user *dir_name, char __user *type, unsigned long flags, void __user *data)"},
	{nil, "sys_execve(const char __user *filename, const char __user *const __user *argv, const char __user *const __user *envp)"},
	{nil, "sys_execveat(int dfd, const char __user *filename, const char __user *const __user *argv, const char __user *const __user *envp, int flags)"},
	{nil, "sys_clone3(struct clone_args __user *uargs, size_t size)"},
	{nil, "sys_kill(pid_t pid, int sig)"},
	{nil, "sys_wait4(pid_t pid, int __user *stat_addr, int options, struct rusage __user *ru)"},
	{nil, "sys_prlimit64(pid_t pid, unsigned int resource, const struct rlimit64 __user *new_rlim, struct rlimit64 __user *old_rlim)"},
	{nil, "sys_connect(int, struct sockaddr __user *, int)"},
	{nil, "sys_bind(int, struct sockaddr __user *, int)"},
	{nil, "sys_accept4(int, struct sockaddr __user *, int __user *, int)"},
	{nil, "sys_sendto(int, void __user *, size_t, unsigned, struct sockaddr __user *, int)"},
	{nil, "sys_recvfrom(int, void __user *, size_t, unsigned, struct sockaddr __user *, int __user *)"},
	{nil, "sys_sendmsg(int fd, struct user_msghdr __user *msg, unsigned flags)"},
	{nil, "sys_sendmmsg(int fd, struct mmsghdr __user *msg, unsigned int vlen, unsigned flags)"},
	{nil, "sys_recvmsg(int fd, struct user_msghdr __user *msg, unsigned flags)"},
	{nil, "sys_recvmmsg(int fd, struct mmsghdr __user *msg, unsigned int vlen, unsigned flags, struct __kernel_timespec __user *timeout)"},
	// kernel/fork.c: the default order, and CONFIG_CLONE_BACKWARDS.
	{syscalls.X86_64, "sys_clone(unsigned long, unsigned long, int __user *, int __user *, unsigned long)"},
	{syscalls.AArch64, "sys_clone(unsigned long, unsigned long, int __user *, unsigned long, int __user *)"},
	{syscalls.RISCV64, "sys_clone(unsigned long, unsigned long, int __user *, unsigned long, int __user *)"},
}

// cTypeKinds are the kinds a C parameter type may have in the model.
var cTypeKinds = map[string][]Kind{
	"char *":                    {Path, LinkTarget, String, Buffer},
	"const char *":              {Path, LinkTarget, String, Buffer},
	"const char *const *":       {Argv, Envp},
	"int":                       {Fd, Dirfd, Int, Uint, OpenFlags, AtFlags, UnlinkFlags, AccessFlags, AccessMode, Signal, Family, SockType, SockFlags, ShutdownHow, Hex},
	"unsigned int":              {Fd, Uint, Int, Hex, AtFlags, OpenFlags, RenameFlags, MsgFlags, FanotifyMarkFlags, Dev},
	"unsigned":                  {Fd, Uint, Int, Hex, AtFlags, OpenFlags, RenameFlags, MsgFlags, FanotifyMarkFlags, Dev},
	"umode_t":                   {Mode, CreateMode},
	"uid_t":                     {Uid},
	"gid_t":                     {Gid},
	"pid_t":                     {Pid},
	"size_t":                    {Uint},
	"long":                      {Long},
	"unsigned long":             {Hex, CloneFlags, Ptr, Uint, Long},
	"u32":                       {InotifyMask, Hex, Uint},
	"u64":                       {Hex, Uint},
	"int *":                     {Ptr},
	"void *":                    {Buffer, Ptr},
	"const void *":              {Buffer, Ptr},
	"struct sockaddr *":         {Sockaddr, SockaddrOut},
	"struct open_how *":         {OpenHow},
	"struct clone_args *":       {CloneArgs},
	"struct user_msghdr *":      {Msghdr, MsghdrOut},
	"struct mmsghdr *":          {Mmsghdr, MmsghdrOut},
	"const struct xattr_args *": {XattrArgs},
	"struct xattr_args *":       {XattrArgs},
	"struct mount_attr *":       {MountAttr},
	"struct file_handle *":      {FileHandle},
}

var flagKinds = []Kind{OpenFlags, AtFlags, UnlinkFlags, AccessFlags, RenameFlags, MsgFlags, SockFlags, FanotifyMarkFlags, CloneFlags, Hex}

// param is one parameter of a prototype: its normalized C type and name
// ("" when unnamed).
type param struct{ ctype, name string }

var protoRE = regexp.MustCompile(`^sys_(\w+)\((.*)\)$`)

func parsePrototype(t *testing.T, proto string) (string, []param) {
	t.Helper()
	m := protoRE.FindStringSubmatch(proto)
	if m == nil {
		t.Fatalf("bad prototype %q", proto)
	}
	var ps []param
	for _, s := range strings.Split(m[2], ",") {
		s = strings.ReplaceAll(s, "__user", "")
		s = strings.ReplaceAll(s, "*", " * ")
		f := strings.Fields(s)
		name := ""
		if last := f[len(f)-1]; last != "*" && !slices.Contains([]string{"int", "unsigned", "long", "size_t"}, last) {
			name, f = last, f[:len(f)-1]
		}
		ctype := strings.ReplaceAll(strings.Join(f, " "), "* ", "*")
		ctype = strings.ReplaceAll(ctype, " *", " *")
		ps = append(ps, param{ctype: ctype, name: name})
	}
	return m[1], ps
}

// TestPrototypes checks the model against the kernel's prototypes: the
// same number of arguments, and a kind that fits each C type; a dirfd
// (named *dfd) must be a Dirfd, a flags parameter a flags kind.
func TestPrototypes(t *testing.T) {
	for _, tc := range prototypes {
		name, params := parsePrototype(t, tc.proto)
		arches := []*syscalls.Arch{tc.arch}
		if tc.arch == nil {
			arches = syscalls.Arches()
		}
		found := false
		for _, arch := range arches {
			l, ok := Of(arch, name)
			if !ok {
				if _, err := arch.Number(name); err == nil {
					t.Errorf("%s on %s: not in the model", name, arch)
				}
				continue
			}
			found = true
			if len(l.Args) != len(params) {
				t.Errorf("%s on %s: %d arguments, the kernel has %d (%s)", name, arch, len(l.Args), len(params), tc.proto)
				continue
			}
			for i, p := range params {
				got := l.Args[i]
				kinds, ok := cTypeKinds[p.ctype]
				if !ok && (strings.HasPrefix(p.ctype, "struct ") || strings.HasPrefix(p.ctype, "const struct ")) {
					kinds, ok = []Kind{Ptr}, true
				}
				if !ok {
					t.Fatalf("%s: no kinds for C type %q", name, p.ctype)
				}
				if !slices.Contains(kinds, got.Kind) {
					t.Errorf("%s on %s: argument %d (%s %s) is %s in the model, want one of %v", name, arch, i, p.ctype, p.name, got.Kind, kinds)
				}
				if strings.HasSuffix(p.name, "dfd") && got.Kind != Dirfd {
					t.Errorf("%s on %s: argument %d (%s) is %s, want dirfd", name, arch, i, p.name, got.Kind)
				}
				if strings.Contains(p.name, "flag") && !slices.Contains(flagKinds, got.Kind) {
					t.Errorf("%s on %s: argument %d (%s) is %s, want a flags kind", name, arch, i, p.name, got.Kind)
				}
			}
		}
		if !found {
			t.Errorf("%s: on no arch", name)
		}
	}
}

// TestRows checks every row on its own: a real syscall, at most six
// arguments, unique names, and Rel and Flags that point at an argument of
// the right kind.
func TestRows(t *testing.T) {
	check := func(name string, arch *syscalls.Arch, l []Arg) {
		where := name
		if arch != nil {
			where += " on " + arch.String()
		}
		if len(l) > 6 {
			t.Errorf("%s: %d arguments", where, len(l))
		}
		seen := map[string]bool{}
		for i, x := range l {
			if seen[x.Name] {
				t.Errorf("%s: argument %s twice", where, x.Name)
			}
			seen[x.Name] = true
			if x.Kind >= numKinds || x.Kind.String() == "" {
				t.Errorf("%s: argument %d: bad kind %d", where, i, x.Kind)
			}
			rel := func() Kind {
				if x.Rel < 0 || x.Rel >= len(l) || x.Rel == i {
					t.Errorf("%s: argument %d (%s): Rel %d out of range", where, i, x.Name, x.Rel)
					return Hex
				}
				return l[x.Rel].Kind
			}
			switch {
			case x.Kind == Path:
				if x.Rel >= 0 && rel() != Dirfd {
					t.Errorf("%s: path %d: Rel %d is not a dirfd", where, i, x.Rel)
				}
				if x.Access == 0 {
					t.Errorf("%s: path %d: no access", where, i)
				}
				if x.Flags >= 0 {
					if x.Flags >= len(l) || !slices.Contains(append([]Kind{OpenHow, InotifyMask}, flagKinds...), l[x.Flags].Kind) {
						t.Errorf("%s: path %d: Flags %d is not a flags argument", where, i, x.Flags)
					}
				}
			case x.Kind == CreateMode:
				if rel() != OpenFlags {
					t.Errorf("%s: create mode %d: Rel is not the open flags", where, i)
				}
			case x.Kind == SockaddrOut:
				if rel() != Ptr {
					t.Errorf("%s: %s: Rel is not a length pointer", where, x.Name)
				}
			case x.Kind.needsRel():
				if k := rel(); k != Uint {
					t.Errorf("%s: %s: Rel is %s, want a length or size (uint)", where, x.Name, k)
				}
			default:
				if x.Rel != -1 {
					t.Errorf("%s: %s: Rel %d on a %s", where, x.Name, x.Rel, x.Kind)
				}
			}
			if x.Kind != Path && (x.Flags != -1 || x.Access != 0 || x.Follow) {
				t.Errorf("%s: %s: path fields on a %s", where, x.Name, x.Kind)
			}
			if x.Kind == Dirfd {
				used := false
				for _, y := range l {
					used = used || y.Kind == Path && y.Rel == i
				}
				if !used {
					t.Errorf("%s: dirfd %d is the base of no path", where, i)
				}
			}
		}
	}
	for name, l := range model {
		known := false
		for _, arch := range syscalls.Arches() {
			_, err := arch.Number(name)
			known = known || err == nil
		}
		if !known {
			t.Errorf("%s is no syscall on any arch", name)
		}
		if _, ok := perArch[name]; ok {
			t.Errorf("%s is both in model and perArch", name)
		}
		check(name, nil, l)
	}
	for name, per := range perArch {
		for _, arch := range syscalls.Arches() {
			l, ok := per[arch]
			_, err := arch.Number(name)
			if (err == nil) != ok {
				t.Errorf("%s on %s: row %v, syscall exists %v", name, arch, ok, err == nil)
			}
			if ok {
				check(name, arch, l)
			}
		}
	}
}

// TestCloneArchOrder: clone's tls and child_tid swap places between
// x86_64 and the CLONE_BACKWARDS archs.
func TestCloneArchOrder(t *testing.T) {
	for _, tc := range []struct {
		arch          *syscalls.Arch
		childTid, tls int
	}{
		{syscalls.X86_64, 3, 4},
		{syscalls.AArch64, 4, 3},
		{syscalls.RISCV64, 4, 3},
	} {
		l, ok := Of(tc.arch, "clone")
		if !ok {
			t.Fatalf("clone on %s: not in the model", tc.arch)
		}
		if l.Args[tc.childTid].Name != "child_tid" || l.Args[tc.tls].Name != "tls" {
			t.Errorf("clone on %s: %v, want child_tid at %d and tls at %d", tc.arch, names(l), tc.childTid, tc.tls)
		}
		if l.Args[0].Kind != CloneFlags {
			t.Errorf("clone on %s: flags not first", tc.arch)
		}
	}
	if _, ok := Of(nil, "clone"); ok {
		t.Error("a nil arch knows clone")
	}
}

func names(l Layout) []string {
	var out []string
	for _, x := range l.Args {
		out = append(out, x.Name)
	}
	return out
}

// TestArchPresence: Of follows the syscall tables: the legacy calls are
// x86_64 only; aliases give the canonical name.
func TestArchPresence(t *testing.T) {
	for _, name := range []string{"open", "creat", "stat", "rename", "link", "symlink", "unlink", "mkdir", "chmod", "chown", "utimes", "futimesat", "fork", "uselib"} {
		if _, ok := Of(syscalls.X86_64, name); !ok {
			t.Errorf("%s not on x86_64", name)
		}
		if _, ok := Of(syscalls.AArch64, name); ok {
			t.Errorf("%s on aarch64", name)
		}
		if slices.Contains(Names(syscalls.RISCV64), name) {
			t.Errorf("Names(riscv64) has %s", name)
		}
	}
	l, ok := Of(syscalls.X86_64, "fstatat")
	if !ok || l.Name != "newfstatat" {
		t.Errorf("fstatat: %v %v, want newfstatat", l.Name, ok)
	}
	if _, ok := Of(syscalls.X86_64, "getuid"); ok {
		t.Error("getuid is in the model")
	}
	if !slices.IsSorted(Names(syscalls.X86_64)) {
		t.Error("Names not sorted")
	}
}

// TestCoverage: the path operations issue 11 lists, and what the policies
// and the audit decoder handle, are in the model on every arch that has
// them, with the expected path arguments.
func TestCoverage(t *testing.T) {
	paths := map[string]string{
		// name: indexes of the looked-up paths, with their dirfds ("1@0")
		"open": "0", "openat": "1@0", "openat2": "1@0", "creat": "0",
		"link": "0 1", "linkat": "1@0 3@2", "symlink": "1", "symlinkat": "2@1",
		"rename": "0 1", "renameat": "1@0 3@2", "renameat2": "1@0 3@2",
		"unlink": "0", "unlinkat": "1@0", "rmdir": "0",
		"mkdir": "0", "mkdirat": "1@0", "mknod": "0", "mknodat": "1@0",
		"truncate": "0",
		"chmod":    "0", "fchmodat": "1@0", "fchmodat2": "1@0",
		"chown": "0", "lchown": "0", "fchownat": "1@0",
		"utime": "0", "utimes": "0", "futimesat": "1@0", "utimensat": "1@0",
		"setxattr": "0", "lsetxattr": "0", "getxattr": "0", "lgetxattr": "0",
		"listxattr": "0", "llistxattr": "0", "removexattr": "0", "lremovexattr": "0",
		"setxattrat": "1@0", "getxattrat": "1@0", "listxattrat": "1@0", "removexattrat": "1@0",
		"inotify_add_watch": "1", "fanotify_mark": "4@3",
		"execve": "0", "execveat": "1@0",
		"stat": "0", "lstat": "0", "newfstatat": "1@0", "statx": "1@0", "statfs": "0",
		"access": "0", "faccessat": "1@0", "faccessat2": "1@0", "readlink": "0", "readlinkat": "1@0",
		"chdir": "0", "chroot": "0", "name_to_handle_at": "1@0", "open_tree": "1@0", "move_mount": "1@0 3@2",
		"fspick": "1@0", "mount_setattr": "1@0", "file_getattr": "1@0", "file_setattr": "1@0",
		"fsetxattr": "", "fchmod": "", "fchown": "", "ftruncate": "", "open_by_handle_at": "",
	}
	for name, want := range paths {
		some := false
		for _, arch := range syscalls.Arches() {
			if _, err := arch.Number(name); err != nil {
				continue
			}
			some = true
			l, ok := Of(arch, name)
			if !ok {
				t.Errorf("%s on %s: not in the model", name, arch)
				continue
			}
			var got []string
			for _, p := range l.Paths() {
				s := fmt.Sprint(p.Index)
				if p.Dirfd >= 0 {
					s += fmt.Sprintf("@%d", p.Dirfd)
				}
				got = append(got, s)
			}
			if strings.Join(got, " ") != want {
				t.Errorf("%s on %s: paths %q, want %q", name, arch, strings.Join(got, " "), want)
			}
		}
		if !some {
			t.Errorf("%s: on no arch", name)
		}
	}
	for name, want := range map[string][2]int{"connect": {1, 2}, "bind": {1, 2}, "sendto": {4, 5}} {
		l, _ := Of(syscalls.Native(), name)
		ptr, n, ok := l.Sockaddr()
		if !ok || ptr != want[0] || n != want[1] {
			t.Errorf("%s: Sockaddr() = %d, %d, %v; want %v", name, ptr, n, ok, want)
		}
	}
	l, _ := Of(syscalls.Native(), "sendmsg")
	if l.Index(Msghdr) != 1 {
		t.Error("sendmsg: msghdr not argument 1")
	}
	for _, arch := range syscalls.Arches() {
		var sends []string
		for _, name := range Names(arch) {
			if l, _ := Of(arch, name); l.SendsAddress() {
				sends = append(sends, name)
			}
		}
		if want := []string{"bind", "connect", "sendmmsg", "sendmsg", "sendto"}; !slices.Equal(sends, want) {
			t.Errorf("%s: SendsAddress on %v, want %v", arch, sends, want)
		}
	}
	l, _ = Of(syscalls.Native(), "sendmmsg")
	if ptr, n, ok := l.Sized(Mmsghdr); !ok || ptr != 1 || n != 2 {
		t.Errorf("sendmmsg: Sized(Mmsghdr) = %d, %d, %v", ptr, n, ok)
	}
	for name, want := range map[string][3]int{"openat2": {int(OpenHow), 2, 3}, "clone3": {int(CloneArgs), 0, 1}, "setxattrat": {int(XattrArgs), 4, 5}} {
		l, _ := Of(syscalls.Native(), name)
		if ptr, n, ok := l.Sized(Kind(want[0])); !ok || ptr != want[1] || n != want[2] {
			t.Errorf("%s: Sized(%s) = %d, %d, %v", name, Kind(want[0]), ptr, n, ok)
		}
	}
	for _, name := range []string{"fork", "vfork", "clone", "clone3", "setsid", "setpgid", "kill", "tgkill", "prlimit64", "socket", "accept4", "shutdown", "recvfrom", "sendmmsg"} {
		if _, ok := Of(syscalls.AArch64, name); !ok {
			if _, err := syscalls.AArch64.Number(name); err == nil {
				t.Errorf("%s on aarch64: not in the model", name)
			}
		}
	}
}

// TestPathDetails pins the lookup details of a few paths.
func TestPathDetails(t *testing.T) {
	for _, tc := range []struct {
		name  string
		index int
		want  PathArg
	}{
		{"linkat", 1, PathArg{Index: 1, Dirfd: 0, Flags: 4, FlagsKind: AtFlags, Access: Link, Follow: false}},
		{"linkat", 3, PathArg{Index: 3, Dirfd: 2, Flags: -1, FlagsKind: Hex, Access: Create, Follow: false}},
		{"openat", 1, PathArg{Index: 1, Dirfd: 0, Flags: 2, FlagsKind: OpenFlags, Access: Open, Follow: true}},
		{"openat2", 1, PathArg{Index: 1, Dirfd: 0, Flags: 2, FlagsKind: OpenHow, Access: Open, Follow: true}},
		{"renameat2", 1, PathArg{Index: 1, Dirfd: 0, Flags: -1, FlagsKind: Hex, Access: Delete | Link, Follow: false}},
		{"lchown", 0, PathArg{Index: 0, Dirfd: -1, Flags: -1, FlagsKind: Hex, Access: SetAttr, Follow: false}},
		{"inotify_add_watch", 1, PathArg{Index: 1, Dirfd: -1, Flags: 2, FlagsKind: InotifyMask, Access: Watch, Follow: true}},
		{"execveat", 1, PathArg{Index: 1, Dirfd: 0, Flags: 4, FlagsKind: AtFlags, Access: Exec, Follow: true}},
	} {
		l, ok := Of(syscalls.X86_64, tc.name)
		if !ok {
			t.Fatalf("%s: not in the model", tc.name)
		}
		got, ok := l.PathAt(tc.index)
		if !ok || got != tc.want {
			t.Errorf("%s: PathAt(%d) = %+v, %v; want %+v", tc.name, tc.index, got, ok, tc.want)
		}
	}
	l, _ := Of(syscalls.X86_64, "symlink")
	if _, ok := l.PathAt(0); ok {
		t.Error("symlink's target is a looked-up path")
	}
	if p, ok := l.Path(); !ok || p.Index != 1 {
		t.Errorf("symlink: Path() = %+v, %v", p, ok)
	}
	if d, ok := l.DirfdOf(1); ok {
		t.Errorf("symlink: DirfdOf(1) = %d", d)
	}
	l, _ = Of(syscalls.X86_64, "renameat2")
	if d, ok := l.DirfdOf(3); !ok || d != 2 {
		t.Errorf("renameat2: DirfdOf(3) = %d, %v", d, ok)
	}
	if Access(Create|Delete).String() != "create|delete" || Access(0).String() != "0" {
		t.Error("Access.String")
	}
	if Path.String() != "path" || Kind(200).String() != "kind(200)" {
		t.Error("Kind.String")
	}
}

// TestFollowsLast: the flags that change whether the last symlink is
// followed, per syscall.
func TestFollowsLast(t *testing.T) {
	for _, tc := range []struct {
		name          string
		index         int
		raw           [6]uint64
		follow, known bool
	}{
		{"newfstatat", 1, [6]uint64{3: 0}, true, true},
		{"newfstatat", 1, [6]uint64{3: unix.AT_SYMLINK_NOFOLLOW}, false, true},
		{"linkat", 1, [6]uint64{4: 0}, false, true},
		{"linkat", 1, [6]uint64{4: unix.AT_SYMLINK_FOLLOW}, true, true},
		{"linkat", 3, [6]uint64{4: unix.AT_SYMLINK_FOLLOW}, false, true},
		{"openat", 1, [6]uint64{2: unix.O_RDONLY}, true, true},
		{"openat", 1, [6]uint64{2: unix.O_RDONLY | unix.O_NOFOLLOW}, false, true},
		{"openat", 1, [6]uint64{2: unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL}, false, true},
		{"openat", 1, [6]uint64{2: unix.O_WRONLY | unix.O_CREAT}, true, true},
		{"openat2", 1, [6]uint64{}, true, false},
		{"lstat", 0, [6]uint64{}, false, true},
		{"stat", 0, [6]uint64{}, true, true},
		{"inotify_add_watch", 1, [6]uint64{2: unix.IN_DONT_FOLLOW}, false, true},
		{"fanotify_mark", 4, [6]uint64{1: unix.FAN_MARK_DONT_FOLLOW}, false, true},
		{"fanotify_mark", 4, [6]uint64{}, true, true},
		{"fchownat", 1, [6]uint64{4: unix.AT_SYMLINK_NOFOLLOW}, false, true},
		{"faccessat2", 1, [6]uint64{3: unix.AT_SYMLINK_NOFOLLOW}, false, true},
		{"umount2", 0, [6]uint64{}, true, false},
		{"move_mount", 1, [6]uint64{}, false, false},
		{"unlinkat", 1, [6]uint64{2: unix.AT_REMOVEDIR}, false, true},
	} {
		l, ok := Of(syscalls.X86_64, tc.name)
		if !ok {
			t.Fatalf("%s: not in the model", tc.name)
		}
		p, ok := l.PathAt(tc.index)
		if !ok {
			t.Fatalf("%s: argument %d is no path", tc.name, tc.index)
		}
		follow, known := p.FollowsLast(tc.raw)
		if follow != tc.follow || known != tc.known {
			t.Errorf("%s %x: FollowsLast = %v, %v; want %v, %v", tc.name, tc.raw, follow, known, tc.follow, tc.known)
		}
	}
	l, _ := Of(syscalls.X86_64, "execveat")
	p, _ := l.Path()
	if !p.EmptyPath([6]uint64{4: unix.AT_EMPTY_PATH}) || p.EmptyPath([6]uint64{}) {
		t.Error("execveat: EmptyPath")
	}
	l, _ = Of(syscalls.X86_64, "stat")
	p, _ = l.Path()
	if p.EmptyPath([6]uint64{0: unix.AT_EMPTY_PATH, 1: unix.AT_EMPTY_PATH}) {
		t.Error("stat: EmptyPath without a dirfd")
	}
}
