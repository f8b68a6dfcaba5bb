//go:build !linux

package jaegertest

import "syscall"

// childAttrs: only Linux can tie a child's life to its parent's; elsewhere
// Jaeger is stopped by Stop/cleanup only.
func childAttrs() *syscall.SysProcAttr { return nil }
