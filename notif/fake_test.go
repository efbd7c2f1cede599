package notif_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/notif"
)

// requireGone checks that err is the "notification gone" error, which must
// match both the package sentinel and the kernel's ENOENT.
func requireGone(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	assert.ErrorIs(t, err, notif.ErrNotificationGone)
	assert.ErrorIs(t, err, unix.ENOENT)
}

// recvAsync runs Recv in a goroutine; the result arrives on the channel.
type recvResult struct {
	n   notif.Notif
	err error
}

func recvAsync(f notif.Notifier) <-chan recvResult {
	ch := make(chan recvResult, 1)
	go func() {
		var n notif.Notif
		err := f.Recv(&n)
		ch <- recvResult{n, err}
	}()
	return ch
}

func waitRecv(t *testing.T, ch <-chan recvResult) recvResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("Recv did not return")
		return recvResult{}
	}
}

func requireBlocked(t *testing.T, ch <-chan recvResult) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("Recv returned early: %+v", r)
	case <-time.After(20 * time.Millisecond):
	}
}

func TestFakePushRecvOrderAndIDs(t *testing.T) {
	f := notif.NewFake()
	id1 := f.Push(notif.Notif{Pid: 11})
	id2 := f.Push(notif.Notif{Pid: 12})
	assert.Equal(t, uint64(1), id1)
	assert.Equal(t, uint64(2), id2)
	// An explicit ID is kept, and later automatic IDs continue after it.
	assert.Equal(t, uint64(10), f.Push(notif.Notif{ID: 10, Pid: 13}))
	assert.Equal(t, uint64(11), f.Push(notif.Notif{Pid: 14}))

	for _, want := range []struct {
		id  uint64
		pid uint32
	}{{1, 11}, {2, 12}, {10, 13}, {11, 14}} {
		var n notif.Notif
		require.NoError(t, f.Recv(&n))
		assert.Equal(t, want.id, n.ID)
		assert.Equal(t, want.pid, n.Pid)
		assert.True(t, f.Pending(n.ID), "received but unanswered is still pending")
	}
}

func TestFakeRecvBlocksUntilPush(t *testing.T) {
	f := notif.NewFake()
	ch := recvAsync(f)
	requireBlocked(t, ch)
	id := f.Push(notif.Notif{Pid: 7})
	r := waitRecv(t, ch)
	require.NoError(t, r.err)
	assert.Equal(t, id, r.n.ID)
}

func TestFakeSend(t *testing.T) {
	f := notif.NewFake()
	id := f.Push(notif.Notif{})
	var n notif.Notif
	require.NoError(t, f.Recv(&n))

	require.NoError(t, f.Send(&notif.Resp{ID: id, Val: 42}))
	assert.False(t, f.Pending(id))
	assert.Equal(t, []notif.Resp{{ID: id, Val: 42}}, f.Responses())
	resp, ok := f.WaitResponse(id)
	assert.True(t, ok)
	assert.Equal(t, int64(42), resp.Val)

	// A second answer, or an answer to an unknown ID, is the kernel's ENOENT.
	requireGone(t, f.Send(&notif.Resp{ID: id, Val: 43}))
	requireGone(t, f.Send(&notif.Resp{ID: 999}))
	requireGone(t, f.IDValid(id))
	_, err := f.AddFD(&notif.AddFD{ID: id, Flags: notif.AddFDFlagSend})
	requireGone(t, err)
	assert.Len(t, f.Responses(), 1, "rejected answers are not recorded")
}

func TestFakeIDValid(t *testing.T) {
	f := notif.NewFake()
	id := f.Push(notif.Notif{})
	require.NoError(t, f.IDValid(id))
	requireGone(t, f.IDValid(id+1))
	assert.Equal(t, []uint64{id, id + 1}, f.IDValidCalls())
}

func TestFakeKill(t *testing.T) {
	f := notif.NewFake()
	received := f.Push(notif.Notif{Pid: 1})
	queued := f.Push(notif.Notif{Pid: 2})
	next := f.Push(notif.Notif{Pid: 3})
	var n notif.Notif
	require.NoError(t, f.Recv(&n))
	require.Equal(t, received, n.ID)

	f.Kill(received)
	assert.False(t, f.Pending(received))
	requireGone(t, f.Send(&notif.Resp{ID: received}))
	requireGone(t, f.IDValid(received))
	_, err := f.AddFD(&notif.AddFD{ID: received, Flags: notif.AddFDFlagSend})
	requireGone(t, err)
	resp, ok := f.WaitResponse(received)
	assert.False(t, ok, "a killed notification has no answer")
	assert.Equal(t, notif.Resp{}, resp)

	// A notification killed before it was received is never delivered.
	f.Kill(queued)
	require.NoError(t, f.Recv(&n))
	assert.Equal(t, next, n.ID)
	assert.Empty(t, f.Responses())
	assert.Empty(t, f.AddFDs())
}

func TestFakeWaitResponseWakesOnKill(t *testing.T) {
	f := notif.NewFake()
	id := f.Push(notif.Notif{})
	done := make(chan bool, 1)
	go func() {
		_, ok := f.WaitResponse(id)
		done <- ok
	}()
	time.Sleep(10 * time.Millisecond)
	f.Kill(id)
	select {
	case ok := <-done:
		assert.False(t, ok)
	case <-time.After(5 * time.Second):
		t.Fatal("WaitResponse did not wake up on Kill")
	}
}

func TestFakeAddFD(t *testing.T) {
	f := notif.NewFake()
	id := f.Push(notif.Notif{})

	// Without SEND the fd is installed and the notification stays pending.
	fd, err := f.AddFD(&notif.AddFD{ID: id, SrcFD: 5})
	require.NoError(t, err)
	assert.Equal(t, 100, fd)
	assert.True(t, f.Pending(id))
	fd, err = f.AddFD(&notif.AddFD{ID: id, Flags: notif.AddFDFlagSetFD, SrcFD: 5, NewFD: 42})
	require.NoError(t, err)
	assert.Equal(t, 42, fd, "SETFD installs at NewFD")
	assert.Empty(t, f.Responses())

	// With SEND it answers with the new number.
	fd, err = f.AddFD(&notif.AddFD{ID: id, Flags: notif.AddFDFlagSend, SrcFD: 6, NewFDFlags: unix.O_CLOEXEC})
	require.NoError(t, err)
	assert.Equal(t, 102, fd)
	assert.False(t, f.Pending(id))
	assert.Equal(t, []notif.Resp{{ID: id, Val: 102}}, f.Responses())
	assert.Equal(t, []notif.AddFD{
		{ID: id, SrcFD: 5},
		{ID: id, Flags: notif.AddFDFlagSetFD, SrcFD: 5, NewFD: 42},
		{ID: id, Flags: notif.AddFDFlagSend, SrcFD: 6, NewFDFlags: unix.O_CLOEXEC},
	}, f.AddFDs())
}

func TestFakeDrain(t *testing.T) {
	f := notif.NewFake()
	id := f.Push(notif.Notif{})
	f.Drain()
	// Queued notifications are still delivered.
	var n notif.Notif
	require.NoError(t, f.Recv(&n))
	assert.Equal(t, id, n.ID)
	err := f.Recv(&n)
	assert.ErrorIs(t, err, notif.ErrTargetsExited)
	assert.NotErrorIs(t, err, notif.ErrClosed)
	// Answers still work after a drain.
	require.NoError(t, f.Send(&notif.Resp{ID: id}))
}

func TestFakeDrainWakesBlockedRecv(t *testing.T) {
	f := notif.NewFake()
	ch := recvAsync(f)
	requireBlocked(t, ch)
	f.Drain()
	assert.ErrorIs(t, waitRecv(t, ch).err, notif.ErrTargetsExited)
}

func TestFakeShutdown(t *testing.T) {
	f := notif.NewFake()
	id := f.Push(notif.Notif{})
	var n notif.Notif
	require.NoError(t, f.Recv(&n))

	queued := f.Push(notif.Notif{})
	require.NoError(t, f.Recv(&n))
	require.Equal(t, queued, n.ID)
	unread := f.Push(notif.Notif{})

	blocked := recvAsync(f)
	// The receiver takes unread first, then blocks.
	require.Equal(t, unread, waitRecv(t, blocked).n.ID)
	blocked = recvAsync(f)
	requireBlocked(t, blocked)

	f.Shutdown()
	f.Shutdown() // twice is safe
	assert.ErrorIs(t, waitRecv(t, blocked).err, notif.ErrClosed, "Shutdown wakes a blocked Recv")
	assert.ErrorIs(t, f.Recv(&n), notif.ErrClosed)

	// Answers keep working so that in-flight notifications can be answered.
	require.NoError(t, f.IDValid(id))
	require.NoError(t, f.Send(&notif.Resp{ID: id, Error: -int32(unix.EPERM)}))
	_, err := f.AddFD(&notif.AddFD{ID: queued, Flags: notif.AddFDFlagSend})
	require.NoError(t, err)
	assert.Len(t, f.Responses(), 2)
}

func TestFakeClose(t *testing.T) {
	f := notif.NewFake()
	id := f.Push(notif.Notif{})
	require.NoError(t, f.Close())
	require.NoError(t, f.Close(), "closing twice is safe")
	var n notif.Notif
	assert.ErrorIs(t, f.Recv(&n), notif.ErrClosed)
	assert.ErrorIs(t, f.Send(&notif.Resp{ID: id}), notif.ErrClosed)
	assert.ErrorIs(t, f.IDValid(id), notif.ErrClosed)
	_, err := f.AddFD(&notif.AddFD{ID: id})
	assert.ErrorIs(t, err, notif.ErrClosed)
	assert.Empty(t, f.Responses())
}

func TestFakeCloseWakesBlockedRecv(t *testing.T) {
	f := notif.NewFake()
	ch := recvAsync(f)
	requireBlocked(t, ch)
	require.NoError(t, f.Close())
	assert.ErrorIs(t, waitRecv(t, ch).err, notif.ErrClosed)
}

func TestFakeRecordOffAndOnSend(t *testing.T) {
	f := notif.NewFake()
	f.Record = false
	var sent atomic.Int64
	var last atomic.Int64
	f.OnSend = func(r notif.Resp) {
		sent.Add(1)
		last.Store(r.Val)
	}
	a := f.Push(notif.Notif{})
	b := f.Push(notif.Notif{})
	require.NoError(t, f.Send(&notif.Resp{ID: a, Val: 1}))
	_, err := f.AddFD(&notif.AddFD{ID: b, Flags: notif.AddFDFlagSend})
	require.NoError(t, err)
	require.NoError(t, f.IDValid(f.Push(notif.Notif{})))
	requireGone(t, f.Send(&notif.Resp{ID: a}))

	assert.Equal(t, int64(2), sent.Load(), "OnSend sees accepted answers only, AddFD+SEND included")
	assert.Equal(t, int64(100), last.Load())
	assert.Empty(t, f.Responses())
	assert.Empty(t, f.AddFDs())
	assert.Empty(t, f.IDValidCalls())
}

func TestFakeConcurrentReceivers(t *testing.T) {
	f := notif.NewFake()
	const n = 200
	got := make(chan uint64, n)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			for {
				var m notif.Notif
				if err := f.Recv(&m); err != nil {
					errs <- err
					return
				}
				got <- m.ID
				if err := f.Send(&notif.Resp{ID: m.ID}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for range n {
		f.Push(notif.Notif{})
	}
	seen := map[uint64]bool{}
	for range n {
		select {
		case id := <-got:
			assert.False(t, seen[id], "id %d delivered twice", id)
			seen[id] = true
		case <-time.After(5 * time.Second):
			t.Fatal("notifications lost")
		}
	}
	f.Drain()
	for range 4 {
		assert.True(t, errors.Is(<-errs, notif.ErrTargetsExited))
	}
	assert.Len(t, f.Responses(), n)
}
