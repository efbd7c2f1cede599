// Package tests holds the integration tests: real child processes under a
// real seccomp filter.
package tests
