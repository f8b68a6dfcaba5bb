package jaegertest

import "syscall"

// childAttrs makes the kernel stop Jaeger if the test process dies without
// running cleanups (a `go test -timeout` panic, SIGKILL): no Jaeger outlives
// the run holding ports and memory.
func childAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
