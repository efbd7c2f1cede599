package tests

import (
	"fmt"
	"os"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/sandbox"
)

// ExampleCommand is the library example of the README, verbatim between
// the braces. A program calls sandbox.Init() first thing in main; here
// TestMain does.
func ExampleCommand() {
	// The shell's $PPID comes from getppid(2): answer it from Go.
	cmd := sandbox.Command("sh", "-c", "echo $PPID")
	cmd.Stdout = os.Stdout
	err := cmd.Handle("getppid", handler.Func(func(c *handler.Ctx) handler.Action {
		return handler.ReturnValue(777)
	}))
	if err != nil {
		panic(err)
	}
	err = cmd.Run()
	fmt.Println("exit status:", cmd.ExitStatus(), err)
	// Output:
	// 777
	// exit status: 0 <nil>
}
