package reqmetrics

import (
	"slices"
	"testing"
)

// A bucket holds the values above the previous bound up to its own,
// included, as OTLP's explicit buckets do.
func TestBucketBoundsAreInclusive(t *testing.T) {
	for _, tc := range []struct {
		l    *layout
		v    int64
		want int
	}{
		{latencyLayout, 0, 0},
		{latencyLayout, 1000, 0}, // 1 ms
		{latencyLayout, 1001, 1},
		{latencyLayout, 10_000_000, 15}, // 10 s, the last bound
		{latencyLayout, 10_000_001, 16},
		{sizeLayout, 256, 0},
		{sizeLayout, 257, 1},
		{sizeLayout, 1 << 40, 10},
	} {
		if got := tc.l.bucket(tc.v); got != tc.want {
			t.Errorf("bucket(%d) = %d, want %d (bounds %v)", tc.v, got, tc.want, tc.l.export)
		}
	}
	semconv := []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}
	if !slices.Equal(durationBounds, semconv) {
		t.Errorf("duration bounds %v, want the semantic conventions' %v", durationBounds, semconv)
	}
	// Each latency bucket maps to the duration bucket holding its values.
	for i, b := range latencyLayout.export {
		d := durationBucket(i)
		if b > durationBounds[d] || d > 0 && b <= durationBounds[d-1] {
			t.Errorf("latency bucket %d (≤ %v) maps to duration bucket %d", i, b, d)
		}
	}
	if durationBucket(len(latencyLayout.bounds)) != len(durationBounds) {
		t.Errorf("the overflow bucket maps to %d", durationBucket(len(latencyLayout.bounds)))
	}
}
