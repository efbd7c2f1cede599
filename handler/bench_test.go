package handler_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/notif"
)

// BenchmarkDispatch measures the dispatch loop alone: b.N notifications are
// queued on a Fake that records nothing, then Serve answers them all. The
// allocations per operation are the dispatcher's per-notification cost.
func BenchmarkDispatch(b *testing.B) {
	cont := handler.Func(func(*handler.Ctx) handler.Action { return handler.Continue() })
	for _, bc := range []struct {
		name  string
		chain []handler.Handler
	}{
		{"ReturnValue", []handler.Handler{handler.Func(func(*handler.Ctx) handler.Action { return handler.ReturnValue(0) })}},
		{"ContinueChain", []handler.Handler{cont, cont, cont}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tab := table(b, "getppid", bc.chain...)
			f := notif.NewFake()
			f.Record = false
			var answered atomic.Int64
			all := make(chan struct{})
			want := int64(b.N)
			f.OnSend = func(notif.Resp) {
				if answered.Add(1) == want {
					close(all)
				}
			}
			n := trap(b, "getppid")
			for range b.N {
				f.Push(n)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)

			b.ReportAllocs()
			b.ResetTimer()
			go func() { done <- handler.Serve(ctx, f, tab, nil) }()
			<-all
			b.StopTimer()

			f.Drain()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
}
