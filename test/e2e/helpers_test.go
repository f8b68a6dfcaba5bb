package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trace-exporter/trace-exporter/test/harness"
	"github.com/trace-exporter/trace-exporter/test/jaegertest"
	"github.com/trace-exporter/trace-exporter/test/waterfall"
)

// Kong's PDK method names as the emulator records them.
const (
	pdkGetHeaders        = "kong.request.get_headers"
	pdkGetHeader         = "kong.request.get_header"
	pdkSetUpstreamHeads  = "kong.service.request.set_headers"
	pdkSetSerializeValue = "kong.log.set_serialize_value"
	pdkSetResponseHeader = "kong.response.set_header"
	pdkSerialize         = "kong.log.serialize"
	pdkGetCtx            = "kong.nginx.get_ctx"
	pdkGetStatus         = "kong.response.get_status"
	pdkNodeID            = "kong.node.get_id"
	pdkGetURICaptures    = "kong.request.get_uri_captures"
	pdkSharedGet         = "kong.ctx.shared.get"
)

// randomHex returns n random bytes in hex: unique ids, secrets, paths.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// uniqueService is a service.name no other test (or earlier run against the
// same Jaeger) uses, so searching Jaeger by service finds only ours.
func uniqueService(prefix string) string { return prefix + "-" + randomHex(4) }

// pluginConfig is a trace-exporter config exporting to endpoint as service,
// flushing fast (50 ms) so tests do not wait for the default 1 s delay;
// extra fields are merged over it.
func pluginConfig(endpoint, service string, extra map[string]any) map[string]any {
	c := map[string]any{
		"traces_endpoint":     endpoint,
		"resource_attributes": map[string]any{"service.name": service},
		"queue":               map[string]any{"max_coalescing_delay": 0.05},
	}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

func plugin(config map[string]any) map[string]any {
	return map[string]any{"name": harness.PluginName, "config": config}
}

// bounded returns a context for one wait, cancelled at test cleanup.
func bounded(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitTrace reads trace id back from Jaeger once it has n spans, and fails
// the test unless it has exactly n.
func waitTrace(t testing.TB, j *jaegertest.Jaeger, traceID string, n int) *jaegertest.Trace {
	t.Helper()
	tr, err := j.WaitTrace(bounded(t, 20*time.Second), traceID, n)
	if err != nil {
		if tr != nil {
			t.Fatalf("%v; got:\n%s", err, render(tr))
		}
		t.Fatal(err)
	}
	// Spans of one request leave in one export; give a stray extra span a
	// moment to show up before counting.
	time.Sleep(100 * time.Millisecond)
	if again, err := j.Trace(bounded(t, 10*time.Second), traceID); err == nil {
		tr = again
	}
	if len(tr.Spans) != n {
		t.Fatalf("trace %s has %d spans, want %d:\n%s", traceID, len(tr.Spans), n, render(tr))
	}
	return tr
}

// findTrace polls Jaeger for a trace of service whose spans satisfy match.
func findTrace(t testing.TB, j *jaegertest.Jaeger, service string, match func(*jaegertest.Trace) bool) *jaegertest.Trace {
	t.Helper()
	ctx := bounded(t, 20*time.Second)
	for {
		traces, err := j.FindTraces(ctx, service, 100)
		if err != nil && ctx.Err() == nil {
			t.Fatalf("search Jaeger: %v", err)
		}
		for _, tr := range traces {
			if match(tr) {
				return tr
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no matching trace of service %s in Jaeger after 20 s (%d traces seen)", service, len(traces))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// assertTraceAbsent fails if Jaeger knows traceID. Call it only after a
// later trace of the same pipeline has arrived, so "absent" means "never
// exported" rather than "not yet".
func assertTraceAbsent(t testing.TB, j *jaegertest.Jaeger, traceID, why string) {
	t.Helper()
	tr, err := j.Trace(bounded(t, 10*time.Second), traceID)
	switch {
	case err == nil:
		t.Errorf("%s: trace %s was exported:\n%s", why, traceID, render(tr))
	case !errors.Is(err, jaegertest.ErrTraceNotFound):
		t.Errorf("%s: reading trace %s: %v", why, traceID, err)
	}
}

func render(tr *jaegertest.Trace) string {
	return waterfall.String(tr.Waterfall(), waterfall.Options{ASCII: true})
}

// spanCheck collects attribute expectations on one span, reporting every
// mismatch with the span named.
type spanCheck struct {
	t    testing.TB
	s    *jaegertest.Span
	what string
}

func check(t testing.TB, s *jaegertest.Span, what string) spanCheck {
	t.Helper()
	if s == nil {
		t.Fatalf("%s: span missing", what)
	}
	return spanCheck{t: t, s: s, what: what}
}

func (c spanCheck) str(key, want string) spanCheck {
	c.t.Helper()
	if got, ok := c.s.Tag(key); !ok || got.Type != jaegertest.TagString || got.Str != want {
		c.t.Errorf("%s (%s): %s = %v (present %v), want %q", c.what, c.s.OperationName, key, got, ok, want)
	}
	return c
}

func (c spanCheck) num(key string, want int64) spanCheck {
	c.t.Helper()
	if got, ok := c.s.IntTag(key); !ok || got != want {
		c.t.Errorf("%s (%s): %s = %d (present %v), want %d", c.what, c.s.OperationName, key, got, ok, want)
	}
	return c
}

func (c spanCheck) absent(keys ...string) spanCheck {
	c.t.Helper()
	for _, key := range keys {
		if got, ok := c.s.Tag(key); ok {
			c.t.Errorf("%s (%s): unexpected %s = %v", c.what, c.s.OperationName, key, got)
		}
	}
	return c
}

func (c spanCheck) kind(want string) spanCheck {
	c.t.Helper()
	if c.s.Kind != want {
		c.t.Errorf("%s (%s): kind %q, want %q", c.what, c.s.OperationName, c.s.Kind, want)
	}
	return c
}

func (c spanCheck) name(want string) spanCheck {
	c.t.Helper()
	if c.s.OperationName != want {
		c.t.Errorf("%s: name %q, want %q", c.what, c.s.OperationName, want)
	}
	return c
}

func (c spanCheck) parent(want string) spanCheck {
	c.t.Helper()
	if c.s.ParentSpanID != want {
		c.t.Errorf("%s (%s): parent %q, want %q", c.what, c.s.OperationName, c.s.ParentSpanID, want)
	}
	return c
}

func (c spanCheck) isError(want bool) spanCheck {
	c.t.Helper()
	if c.s.IsError() != want {
		c.t.Errorf("%s (%s): error status %v, want %v", c.what, c.s.OperationName, c.s.IsError(), want)
	}
	return c
}

func (c spanCheck) service(want string) spanCheck {
	c.t.Helper()
	if c.s.ServiceName != want {
		c.t.Errorf("%s (%s): service %q, want %q", c.what, c.s.OperationName, c.s.ServiceName, want)
	}
	return c
}

// within checks that the span lies inside outer, give or take slack (Kong's
// started_at has millisecond resolution, try starts have nanoseconds).
func (c spanCheck) within(outer *jaegertest.Span, slack time.Duration) spanCheck {
	c.t.Helper()
	sl := slack.Microseconds()
	start, end := c.s.StartMicros, c.s.StartMicros+c.s.DurationMicros
	oStart, oEnd := outer.StartMicros, outer.StartMicros+outer.DurationMicros
	if start < oStart-sl || end > oEnd+sl {
		c.t.Errorf("%s (%s) [%d, %d]µs is not within %s [%d, %d]µs", c.what, c.s.OperationName, start, end,
			outer.OperationName, oStart, oEnd)
	}
	return c
}

// eachSpanHasNo fails if any tag or process tag of any span contains one of
// the secrets.
func eachSpanHasNo(t testing.TB, tr *jaegertest.Trace, secrets ...string) {
	t.Helper()
	for i := range tr.Spans {
		s := &tr.Spans[i]
		for _, tags := range [][]jaegertest.Tag{s.Tags, s.ProcessTags} {
			for _, tag := range tags {
				for _, secret := range secrets {
					if strings.Contains(tag.String(), secret) || strings.Contains(tag.Key, secret) {
						t.Errorf("span %s: tag %s = %q leaks a secret", s.OperationName, tag.Key, tag.String())
					}
				}
			}
		}
	}
}

// callsEqual compares recorded PDK calls with the expected list.
func callsEqual(got, want []string) bool {
	if len(got) == 0 && len(want) == 0 {
		return true
	}
	return slices.Equal(got, want)
}

func fmtCalls(c []string) string {
	if len(c) == 0 {
		return "[]"
	}
	return fmt.Sprintf("%v", c)
}
