package reqmetrics

// Histogram bucket layouts. Values are recorded as integers in the layout's
// base unit (microseconds for durations, bytes for sizes) and compared with
// bounds in that unit; bounds are exported in the metric's unit (seconds,
// bytes). A bucket counts the values above the previous bound up to and
// including its own bound, as OTLP's explicit buckets do; the last counts
// the values above every bound.

// maxBuckets is the bucket count of the widest layout: the cells of every
// histogram have this many counters.
const maxBuckets = 17

type layout struct {
	bounds  []int64   // in the base unit, ascending
	export  []float64 // the same bounds in the metric's unit
	perUnit float64   // base units per metric unit
}

func newLayout(perUnit float64, export ...float64) *layout {
	l := &layout{export: export, perUnit: perUnit}
	for _, b := range export {
		l.bounds = append(l.bounds, int64(b*perUnit+0.5))
	}
	if len(l.bounds)+1 > maxBuckets {
		panic("reqmetrics: layout wider than maxBuckets")
	}
	return l
}

// bucket is the index of the bucket holding v. Latencies and sizes are
// mostly small: a forward scan ends early.
func (l *layout) bucket(v int64) int {
	for i, b := range l.bounds {
		if v <= b {
			return i
		}
	}
	return len(l.bounds)
}

// microsPerSecond: durations are recorded in microseconds.
const microsPerSecond = 1e6

var (
	// latencyLayout is Kong's latencies in seconds: the semantic
	// conventions' http.server.request.duration buckets with 1 ms and 2 ms
	// below them, since Kong's own share of a request is mostly a few
	// milliseconds (Kong reports whole milliseconds).
	latencyLayout = newLayout(microsPerSecond, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
	// durationBounds are the semantic conventions' buckets of
	// http.server.request.duration; its points are latencyLayout's with the
	// first three buckets merged (durationBucket).
	durationBounds = latencyLayout.export[2:]
	// sizeLayout is request and response sizes in bytes: powers of 4 from
	// 256 B to 64 MiB.
	sizeLayout = newLayout(1, 256, 1024, 4096, 16384, 65536, 262144, 1<<20, 1<<22, 1<<24, 1<<26)
	// genAIDurationLayout is the GenAI semantic conventions' buckets of
	// gen_ai.client.operation.duration and gen_ai.server.request.duration.
	genAIDurationLayout = newLayout(microsPerSecond, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
	// genAITokenTimeLayout is the GenAI semantic conventions' buckets of
	// gen_ai.server.time_per_output_token.
	genAITokenTimeLayout = newLayout(microsPerSecond, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5)
)

// durationBucket maps a latencyLayout bucket to its
// http.server.request.duration bucket.
func durationBucket(i int) int { return max(i-2, 0) }
