package handler_test

import (
	"context"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/notif"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// push queues a trapped syscall by name on a Fake, as the kernel would
// report it.
func push(f *notif.Fake, name string, args ...uint64) uint64 {
	arch := syscalls.Native()
	nr, err := arch.Number(name)
	if err != nil {
		panic(err)
	}
	n := notif.Notif{Data: notif.Data{Nr: int32(nr), Arch: arch.AuditArch()}}
	copy(n.Data.Args[:], args)
	return f.Push(n)
}

// describe prints an answer the way a trapped task would see it.
func describe(r notif.Resp) string {
	switch {
	case r.Flags&notif.RespFlagContinue != 0:
		return "runs in the kernel"
	case r.Error != 0:
		return "fails with " + unix.ErrnoName(unix.Errno(-r.Error))
	}
	return fmt.Sprintf("returns %d", r.Val)
}

// Serve answers trapped syscalls with the handlers of a Table. Here the
// notifications come from a Fake instead of the kernel.
func ExampleServe() {
	tab := handler.NewTable(nil) // the native architecture
	_ = tab.RegisterName("getpid", handler.Func(func(c *handler.Ctx) handler.Action {
		return handler.ReturnValue(777)
	}))
	// Two handlers on openat: the first one to answer other than Continue
	// wins.
	_ = tab.RegisterName("openat", handler.Func(func(c *handler.Ctx) handler.Action {
		if c.Arg(2)&unix.O_ACCMODE == unix.O_RDONLY {
			return handler.Continue() // no opinion: ask the next handler
		}
		return handler.Errno(unix.EROFS)
	}))
	_ = tab.RegisterName("openat", handler.WithExceptionPolicy(handler.Func(func(c *handler.Ctx) handler.Action {
		if c.Arg(2)&unix.O_CLOEXEC == 0 {
			panic("unexpected flags") // answered with the policy: EIO
		}
		return handler.Continue()
	}), handler.ExceptionDenyEIO))

	f := notif.NewFake()
	names := map[uint64]string{
		push(f, "getpid"):                                     "getpid",
		push(f, "openat", 0, 0, unix.O_WRONLY):                "openat write",
		push(f, "openat", 0, 0, unix.O_RDONLY|unix.O_CLOEXEC): "openat read",
		push(f, "openat", 0, 0, unix.O_RDONLY):                "openat read, no cloexec",
		push(f, "getppid"):                                    "getppid (no handler)",
	}
	f.Drain() // every task exits after these

	err := handler.Serve(context.Background(), f, tab, nil)
	fmt.Println("Serve:", err)
	resps := f.Responses()
	slices.SortFunc(resps, func(a, b notif.Resp) int { return int(a.ID) - int(b.ID) })
	for _, r := range resps {
		fmt.Printf("%s %s\n", names[r.ID], describe(r))
	}
	// Output:
	// Serve: <nil>
	// getpid returns 777
	// openat write fails with EROFS
	// openat read runs in the kernel
	// openat read, no cloexec fails with EIO
	// getppid (no handler) runs in the kernel
}

// A handler that must wait for something slow takes the Responder, returns
// Hold, and answers later from another goroutine; the worker is free
// meanwhile.
func ExampleCtx_Responder() {
	tab := handler.NewTable(nil)
	_ = tab.RegisterName("connect", handler.Func(func(c *handler.Ctx) handler.Action {
		r := c.Responder()
		go func() {
			time.Sleep(time.Millisecond) // ask someone
			_ = r.Respond(handler.Errno(unix.ECONNREFUSED))
		}()
		return handler.Hold()
	}))

	f := notif.NewFake()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- handler.Serve(ctx, f, tab, nil) }()

	id := push(f, "connect")
	r, _ := f.WaitResponse(id)
	fmt.Println("connect", describe(r))
	cancel()
	fmt.Println("Serve:", <-done)
	// Output:
	// connect fails with ECONNREFUSED
	// Serve: context canceled
}

func ExampleParseExceptionPolicy() {
	p, err := handler.ParseExceptionPolicy("eio")
	fmt.Println(p, int(p), err)
	_, err = handler.ParseExceptionPolicy("deny")
	fmt.Println(err)
	// Output:
	// eio 3 <nil>
	// unknown exception policy "deny" (want kill, eperm, continue or eio)
}
