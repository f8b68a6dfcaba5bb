package jaegertest

import "syscall"

// childAttrs makes the kernel stop Jaeger if the test process dies without
// running cleanups (a `go test -timeout` panic, SIGKILL): no Jaeger outlives
// the run holding ports and memory. Its own process group keeps a terminal's
// Ctrl-C (aimed at `make demo`) from stopping it before its owner has
// flushed into it; the owner stops it with Stop.
func childAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
}
