package tests

import (
	"os"
	"testing"

	"github.com/sandlock-go/sandlock-go/sandbox"
)

func TestMain(m *testing.M) {
	sandbox.Init()
	os.Exit(m.Run())
}
