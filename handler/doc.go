// Package handler defines Handler, Action, ExceptionPolicy and Ctx, and the
// dispatch loop Serve that answers trapped syscalls.
package handler
