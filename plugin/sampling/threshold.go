package sampling

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"

	"github.com/trace-exporter/trace-exporter/exporter"
)

// OpenTelemetry's consistent probability sampling (the SDK specification's
// TraceIdRatioBased, "tracestate-probability-sampling"): a trace carries 56
// bits of randomness R, the least-significant 7 bytes of its trace id (which
// W3C Trace Context level 2 guarantees random) or the `rv` sub-key of the
// `ot` tracestate entry; a sampler with probability p keeps it when
// R >= T, T = (1-p)·2^56 being the rejection threshold. Every participant
// with the same p decides alike, and a trace kept at p is kept at every
// higher probability.

// maxAdjustedCount is 2^56: the threshold that rejects everything.
const maxAdjustedCount = 1 << 56

// randomnessMask keeps the 56 random bits of a trace id's low 8 bytes.
const randomnessMask = maxAdjustedCount - 1

// Threshold is a rejection threshold in [0, 2^56]: 0 keeps every trace,
// 2^56 none.
type Threshold uint64

// Randomness is a trace's 56 random bits.
type Randomness uint64

// RandomnessOf is the randomness of a trace id: its low 56 bits.
func RandomnessOf(id exporter.TraceID) Randomness {
	return Randomness(binary.BigEndian.Uint64(id[8:]) & randomnessMask)
}

// Keeps reports whether a sampler with threshold t keeps a trace with
// randomness r.
func (t Threshold) Keeps(r Randomness) bool { return uint64(r) >= uint64(t) }

// Probability is the share of traces t keeps.
func (t Threshold) Probability() float64 {
	return float64(maxAdjustedCount-uint64(t)) / maxAdjustedCount
}

// thresholdPrecision is the number of hexadecimal digits a probability is
// rounded to, the specification's recommended default; it grows by one per
// leading "f" digit so small probabilities keep their precision.
const thresholdPrecision = 4

// ThresholdOf converts a probability to its threshold as the specification
// does: (1-p)·2^56 rounded to thresholdPrecision significant hexadecimal
// digits. p >= 1 gives 0; p below 2^-56 (0, negatives, NaN) gives 2^56.
func ThresholdOf(p float64) Threshold {
	switch {
	case p >= 1:
		return 0
	case !(p >= 1.0/maxAdjustedCount): // also NaN
		return maxAdjustedCount
	}
	_, exp := math.Frexp(p)
	digits := min(14, thresholdPrecision+exp/-4)
	t := maxAdjustedCount - uint64(math.Round(p*maxAdjustedCount))
	if shift := 4 * uint(14-digits); shift > 0 {
		t = (t + 1<<(shift-1)) >> shift << shift
	}
	return Threshold(min(t, maxAdjustedCount))
}

// TValue is t's `th` value: up to 14 hexadecimal digits without trailing
// zeros ("0" for 0). It is meaningless for 2^56, which has none.
func (t Threshold) TValue() string {
	if t == 0 {
		return "0"
	}
	s := strconv.FormatUint(uint64(t)|maxAdjustedCount, 16)[1:] // 14 digits, leading zeros kept
	return strings.TrimRight(s, "0")
}

// ParseThreshold reads a `th` value: 1 to 14 lowercase hexadecimal digits,
// the threshold's leading digits.
func ParseThreshold(s string) (Threshold, bool) {
	v, ok := parseHex56(s, 1)
	if !ok {
		return 0, false
	}
	return Threshold(v << (4 * uint(14-len(s)))), true
}

// ParseRandomness reads an `rv` value: exactly 14 lowercase hexadecimal
// digits.
func ParseRandomness(s string) (Randomness, bool) {
	v, ok := parseHex56(s, 14)
	return Randomness(v), ok
}

func parseHex56(s string, minLen int) (uint64, bool) {
	if len(s) < minLen || len(s) > 14 {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// Ratio is a probability sampler, compiled once.
type Ratio struct {
	t      Threshold
	tvalue string // "" for never
	alone  string // the tracestate holding only this threshold: "ot=th:<tvalue>"
}

// NewRatio compiles probability p (clamped to [0, 1]).
func NewRatio(p float64) Ratio {
	t := ThresholdOf(p)
	r := Ratio{t: t}
	if t < maxAdjustedCount {
		r.tvalue = t.TValue()
		r.alone = otKey + "=" + subKeyTh + subKeyValue + r.tvalue
	}
	return r
}

// Keeps reports whether the ratio keeps a trace with randomness r.
func (r Ratio) Keeps(rnd Randomness) bool { return r.t.Keeps(rnd) }

// Always reports whether the ratio keeps every trace.
func (r Ratio) Always() bool { return r.t == 0 }

// Never reports whether the ratio keeps no trace.
func (r Ratio) Never() bool { return r.t == maxAdjustedCount }

// Threshold is the ratio's rejection threshold.
func (r Ratio) Threshold() Threshold { return r.t }
