package plugin

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/proto"

	"github.com/trace-exporter/trace-exporter/exporter"
)

// testNodeID is the node id of the environments tests build.
const testNodeID = "00000000-0000-4000-8000-000000000000"

// The process learns Kong's node id on its first logged request; the tests
// of this package count every request's calls, so the node of the default
// environment, and of those testEnv builds, starts known here. kongNode's
// own behaviour is tested on fresh values below, and through the emulator
// in test/e2e (TestNodeIDOncePerProcess).
func TestMain(m *testing.M) {
	knowNode(&defaultEnv().node)
	os.Exit(m.Run())
}

func knowNode(n *kongNode) {
	id := testNodeID
	n.id.Store(&id)
	n.idState.Store(idKnown)
}

// testEnv is an environment of the default registry whose node id is known.
func testEnv() *Env {
	env := NewEnv(exporter.DefaultRegistry)
	knowNode(&env.node)
	return env
}

// nodeCaller answers kong.node.get_id, counting calls; fail makes it fail.
type nodeCaller struct {
	calls atomic.Int32
	fail  bool
	delay time.Duration // Kong's answer takes this long
}

func (c *nodeCaller) Ask(method string, _ proto.Message, out proto.Message) error {
	if method != mNodeID {
		return errors.New("unexpected " + method)
	}
	c.calls.Add(1)
	time.Sleep(c.delay)
	if c.fail {
		return errors.New("connection closed")
	}
	out.(*kpp.String).V = "6f7f2d2e-1b2c-4d5e-8f90-a1b2c3d4e5f6"
	return nil
}

// Many concurrent first requests make one call between them, and each
// knows the id once its own ensureID returns (their spans carry it); later
// requests make none.
func TestNodeIDFetchedOnce(t *testing.T) {
	var n kongNode
	k := &nodeCaller{delay: 20 * time.Millisecond}
	var wg sync.WaitGroup
	var unknown atomic.Int32
	for range 50 {
		wg.Go(func() {
			for range 20 {
				n.ensureID(k)
				if n.ID() == "" {
					unknown.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if u := unknown.Load(); u != 0 {
		t.Errorf("%d requests went on without the id another request was asking for", u)
	}
	if got := k.calls.Load(); got != 1 {
		t.Errorf("kong.node.get_id called %d times, want 1", got)
	}
	if n.ID() != "6f7f2d2e-1b2c-4d5e-8f90-a1b2c3d4e5f6" {
		t.Errorf("node id %q", n.ID())
	}
}

// A failing call is retried on later requests, a bounded number of times.
func TestNodeIDGivesUpAfterFailures(t *testing.T) {
	var n kongNode
	k := &nodeCaller{fail: true}
	for range 100 {
		n.ensureID(k)
	}
	if got := k.calls.Load(); got != idAttempts {
		t.Errorf("failing kong.node.get_id called %d times, want %d", got, idAttempts)
	}
	if n.ID() != "" {
		t.Errorf("node id %q after failures", n.ID())
	}
}

func TestKongVersionFromHeaders(t *testing.T) {
	for _, tc := range []struct{ payload, want string }{
		{`{"response":{"headers":{"via":"1.1 kong\/3.9.1"},"status":200},"source":"upstream"}`, "3.9.1"},
		{`{"response":{"headers":{"via":"kong\/3.4.2"}}}`, "3.4.2"},
		// The upstream was another Kong: ours is the last Via entry.
		{`{"response":{"headers":{"via":["1.1 kong\/3.3.0","1.1 kong\/3.16.0.0-enterprise-edition"]}}}`, "3.16.0.0"},
		{`{"response":{"headers":{"via":"1.1 kong\/3.3.0, 1.1 kong\/3.10.0"}}}`, "3.10.0"},
		// Kong answered itself: its Server header.
		{`{"response":{"headers":{"server":"kong\/3.9.0"}},"source":"kong"}`, "3.9.0"},
		// The upstream's Server header is not Kong's.
		{`{"response":{"headers":{"server":"kong\/3.5.0"}},"source":"upstream"}`, ""},
		{`{"response":{"headers":{"server":"nginx"}},"source":"kong"}`, ""},
		{`{"request":{"headers":{"via":"1.1 kong\/3.1.0"}},"response":{"headers":{}}}`, ""},
		{`not json`, ""},
	} {
		if got := kongVersionOf(tc.payload); got != tc.want {
			t.Errorf("%s: version %q, want %q", tc.payload, got, tc.want)
		}
	}
}

// Once known the version is not looked for again; without Kong's headers
// (headers = off) the plugin stops looking after a while.
func TestKongVersionLearnedOnce(t *testing.T) {
	var n kongNode
	n.learnVersion(`{"response":{"headers":{"via":"1.1 kong\/3.9.1"}}}`)
	n.learnVersion(`{"response":{"headers":{"via":"1.1 kong\/9.9.9"}}}`)
	if n.Version() != "3.9.1" || n.versions.Load() != 1 {
		t.Errorf("version %q after %d looks", n.Version(), n.versions.Load())
	}
	var off kongNode
	for range 2 * versionTries {
		off.learnVersion(`{"response":{"headers":{}}}`)
	}
	if off.versions.Load() != versionTries {
		t.Errorf("looked %d times without headers, want %d", off.versions.Load(), versionTries)
	}
}
