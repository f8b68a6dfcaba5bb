package plugin

import (
	"testing"
	"unsafe"
)

// Attributes are gathered in a stack array sized for a root and three
// tries, then copied into one exact-size array shared by the spans: with
// more tries the stack array grows, and every span must still see its own
// attributes, and only its own.
func TestManyTriesKeepTheirOwnAttributes(t *testing.T) {
	a := newArena(64)
	e, err := parseSerialized(fixture(t, "bench-retried.json"), &parseWants{handoffKey: handoffKey}, &a)
	if err != nil {
		t.Fatal(err)
	}
	for len(e.tries) < 7 {
		e.tries = append(e.tries, e.tries[len(e.tries)-1])
	}
	h, _ := decodeHandoff(e.handoff)
	spans := buildSpans(e, &h.ids, testOptions(), &a)
	if len(spans) != 8 {
		t.Fatalf("%d spans, want a root and 7 tries", len(spans))
	}
	if _, ok := attr(spans[0], "kong.balancer.try"); ok {
		t.Error("the root has a try's attribute")
	}
	if strAttr(t, spans[0], "url.path") != "/echo/orders" {
		t.Errorf("root attributes: %+v", spans[0].Attributes)
	}
	for i, s := range spans {
		if i == 0 {
			continue
		}
		if got := intAttr(t, s, "kong.balancer.try"); got != int64(i) {
			t.Errorf("span %d has kong.balancer.try %d", i, got)
		}
		if cap(s.Attributes) != len(s.Attributes) {
			t.Errorf("span %d: attributes may be appended into its neighbour's (cap %d, len %d)", i, cap(s.Attributes), len(s.Attributes))
		}
		if _, ok := attr(s, "url.path"); ok {
			t.Errorf("try %d has the root's attributes", i)
		}
	}
	// One array for all: the spans' attributes are consecutive.
	for i := 1; i < len(spans); i++ {
		prev := spans[i-1].Attributes
		end := uintptr(unsafe.Pointer(&prev[len(prev)-1])) + unsafe.Sizeof(prev[0])
		if end != uintptr(unsafe.Pointer(&spans[i].Attributes[0])) {
			t.Errorf("span %d's attributes do not follow span %d's in one array", i, i-1)
		}
	}
}

// The log path's allocations per request (BenchmarkLogPayload reports the
// same): the attribute array, the arena, the tries; the queue's own growth
// amortised; the spans themselves on the stack (the pipeline offers the
// queue a pooled copy). A regression here costs every request.
func TestLogPathAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip()
	}
	cfg := benchDiscardConfig()
	rt, err := newTestRuntime(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	for name, max := range map[string]float64{"small-get": 3, "many-headers": 3, "retried": 5} {
		payload := fixture(t, "bench-"+name+".json")
		if n := testing.AllocsPerRun(2000, func() { rt.logPayload(payload, nil) }); n > max {
			t.Errorf("%s: %.1f allocations per request, want at most %.0f", name, n, max)
		}
	}
}
