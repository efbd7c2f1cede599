package handler

import (
	"errors"
	"fmt"

	"github.com/sandlock-go/sandlock-go/syscalls"
)

// Handler answers trapped syscalls.
//
// Handle may run on many goroutines at once, also for the same Handler
// value: a handler guards its own state. It should not block: while it
// runs, the trapped thread waits, and one of the dispatcher's workers is
// busy; when every worker is busy, new notifications wait. To answer later
// without holding a worker, take the Ctx's Responder and return Hold.
type Handler interface {
	Handle(c *Ctx) Action
}

// Func adapts a plain function to a Handler.
type Func func(c *Ctx) Action

// Handle calls f(c).
func (f Func) Handle(c *Ctx) Action { return f(c) }

// PolicyHandler is implemented by handlers that declare their own exception
// policy. Handlers that do not get ExceptionKill.
type PolicyHandler interface {
	Handler
	ExceptionPolicy() ExceptionPolicy
}

// WithExceptionPolicy returns h with exception policy p.
func WithExceptionPolicy(h Handler, p ExceptionPolicy) Handler {
	return policyHandler{Handler: h, policy: p}
}

type policyHandler struct {
	Handler
	policy ExceptionPolicy
}

func (p policyHandler) ExceptionPolicy() ExceptionPolicy { return p.policy }

// policyOf returns the handler's declared exception policy.
func policyOf(h Handler) ExceptionPolicy {
	if p, ok := h.(PolicyHandler); ok {
		return p.ExceptionPolicy()
	}
	return ExceptionKill
}

// ErrUnknownSyscall is returned by Table.Register* for a syscall the table's
// architecture does not have.
var ErrUnknownSyscall = syscalls.ErrUnknownSyscall

// Table maps syscall numbers of one architecture to handler chains. Build it
// before Serve; it must not change while Serve runs.
type Table struct {
	arch   *syscalls.Arch
	chains [][]Handler // indexed by syscall number
}

// NewTable returns an empty table for arch (nil means the native one).
func NewTable(arch *syscalls.Arch) *Table {
	if arch == nil {
		arch = syscalls.Native()
	}
	return &Table{arch: arch}
}

// Arch returns the table's architecture.
func (t *Table) Arch() *syscalls.Arch { return t.arch }

// Register appends h to the chain of syscall nr. Handlers of one syscall
// are asked in registration order; the first answer other than Continue
// wins.
func (t *Table) Register(nr int, h Handler) error {
	if h == nil {
		return errors.New("register: nil handler")
	}
	if _, ok := t.arch.Name(nr); !ok {
		return fmt.Errorf("register syscall %d: %w on %s", nr, ErrUnknownSyscall, t.arch)
	}
	for len(t.chains) <= nr {
		t.chains = append(t.chains, nil)
	}
	t.chains[nr] = append(t.chains[nr], h)
	return nil
}

// RegisterName is Register by syscall name.
func (t *Table) RegisterName(name string, h Handler) error {
	nr, err := t.arch.Number(name)
	if err != nil {
		return fmt.Errorf("register: %w", err)
	}
	return t.Register(nr, h)
}

// Syscalls returns the numbers that have handlers, ascending.
func (t *Table) Syscalls() []int {
	var nrs []int
	for nr, chain := range t.chains {
		if len(chain) > 0 {
			nrs = append(nrs, nr)
		}
	}
	return nrs
}

// chain returns the handlers of nr, nil when none.
func (t *Table) chain(nr int32) []Handler {
	if nr < 0 || int(nr) >= len(t.chains) {
		return nil
	}
	return t.chains[nr]
}
