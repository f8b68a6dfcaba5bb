package testutil

import (
	"net"
	"strconv"
	"testing"
)

// FreePorts returns n distinct loopback TCP ports that were free a moment
// ago (each is held until all are picked, so they differ). Another process
// may take one before the caller binds it; tests that start a server
// themselves should prefer listening on port 0.
func FreePorts(tb testing.TB, n int) []int {
	tb.Helper()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("free port: %v", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// FreePort returns one free loopback TCP port (see FreePorts).
func FreePort(tb testing.TB) int {
	tb.Helper()
	return FreePorts(tb, 1)[0]
}

// FreeAddr returns "127.0.0.1:<a free port>": an address nobody listens on
// yet (a connection to it is refused until someone does).
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	return "127.0.0.1:" + strconv.Itoa(FreePort(tb))
}
