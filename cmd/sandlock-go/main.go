// Command sandlock-go runs a program under seccomp user-notification
// supervision.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "sandlock-go: not implemented yet")
	os.Exit(2)
}
