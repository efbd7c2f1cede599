package tests

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/sandbox"
)

func TestSmokeGetppid(t *testing.T) {
	cmd := sandbox.Command("/bin/sh", "-c", "echo $PPID")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	require.NoError(t, cmd.Handle("getppid", handler.Func(func(c *handler.Ctx) handler.Action {
		return handler.ReturnValue(777)
	})))
	require.NoError(t, cmd.Run())
	require.Equal(t, "777", strings.TrimSpace(out.String()))
}
