package agent_test

import (
	"context"
	"log"
	"os"
	"os/signal"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/sandbox/agent"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// An agent that makes mkdir fail with EPERM in containers whose profile
// has listenerMetadata "profile=strict", lets every other trapped call
// continue, and shuts down on SIGTERM.
func Example() {
	a := agent.New(func(st agent.State) (*handler.Table, *handler.Options, error) {
		t := handler.NewTable(syscalls.Native())
		if p, _ := st.MetadataValue("profile"); p == "strict" {
			deny := handler.Func(func(*handler.Ctx) handler.Action { return handler.Errno(unix.EPERM) })
			for _, name := range []string{"mkdir", "mkdirat"} {
				if err := t.RegisterName(name, deny); err != nil {
					return nil, nil, err
				}
			}
		}
		return t, nil, nil
	}, &agent.Options{Logf: log.Printf})

	l, err := agent.Listen("/run/sandlock-go/agent.sock")
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		if err := a.Serve(l); err != agent.ErrClosed {
			log.Print(err)
		}
	}()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT)
	<-sigs
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		log.Print(err)
	}
}
