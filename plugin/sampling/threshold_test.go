package sampling

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/trace-exporter/trace-exporter/exporter"
	"github.com/trace-exporter/trace-exporter/test/binomial"
)

// The specification's table of 1-in-N probabilities and their thresholds
// at the default precision (4 digits, more for leading f digits).
func TestThresholdOfMatchesTheSpecificationTable(t *testing.T) {
	for _, tc := range []struct {
		p  float64
		th string
	}{
		{1, "0"}, {0.5, "8"}, {1.0 / 3, "aaab"}, {0.25, "c"}, {0.2, "cccd"}, {0.125, "e"},
		{0.1, "e666"}, {0.0625, "f"}, {0.01, "fd70a"}, {0.001, "ffbe77"}, {0.0001, "fff9724"},
		{0.00001, "ffff583a"}, {0.000001, "ffffef39"},
	} {
		if got := ThresholdOf(tc.p).TValue(); got != tc.th {
			t.Errorf("p=%v: th %q, want %q", tc.p, got, tc.th)
		}
	}
	for _, p := range []float64{0, -1, math.NaN(), 1.0 / (1 << 57)} {
		if th := ThresholdOf(p); th != maxAdjustedCount {
			t.Errorf("p=%v: threshold %x, want 2^56 (never)", p, uint64(th))
		}
	}
	if th := ThresholdOf(1.0 / (1 << 56)); th != maxAdjustedCount-1 {
		t.Errorf("p=2^-56: threshold %x, want 2^56-1", uint64(th))
	}
}

func TestThresholdAndRandomnessParse(t *testing.T) {
	for s, want := range map[string]uint64{
		"0": 0, "8": 0x80000000000000, "fd70a": 0xfd70a000000000, "ffffffffffffff": 0xffffffffffffff,
	} {
		got, ok := ParseThreshold(s)
		if !ok || uint64(got) != want {
			t.Errorf("th %q: %x %v, want %x", s, uint64(got), ok, want)
		}
		if ok && got.TValue() != strings.TrimRight(s, "0") && s != "0" {
			t.Errorf("th %q formats back as %q", s, got.TValue())
		}
	}
	for _, bad := range []string{"", "F", "fffffffffffffff", "0x1", "g", "8 "} {
		if _, ok := ParseThreshold(bad); ok {
			t.Errorf("th %q accepted", bad)
		}
	}
	if r, ok := ParseRandomness("6e6d1a75832a2f"); !ok || r != 0x6e6d1a75832a2f {
		t.Errorf("rv: %x %v", uint64(r), ok)
	}
	for _, bad := range []string{"6e6d1a75832a2", "6e6d1a75832a2f0", "6E6D1A75832A2F", ""} {
		if _, ok := ParseRandomness(bad); ok {
			t.Errorf("rv %q accepted", bad)
		}
	}
}

// The decision reads the trace id's low 56 bits only: byte 8 (and the high
// half, zero in padded 64-bit ids, a timestamp in AWS X-Ray ids) never
// changes it, as W3C level 2 guarantees randomness only there.
func TestRandomnessIsTheLow56Bits(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 10_000 {
		var id exporter.TraceID
		for i := range id {
			id[i] = byte(r.Uint32())
		}
		want := Randomness(uint64(id[9])<<48 | uint64(id[10])<<40 | uint64(id[11])<<32 |
			uint64(id[12])<<24 | uint64(id[13])<<16 | uint64(id[14])<<8 | uint64(id[15]))
		if got := RandomnessOf(id); got != want {
			t.Fatalf("%x: randomness %x, want %x", id, uint64(got), uint64(want))
		}
		other := id
		other[8] ^= 0xff
		other[0] ^= 0x5a
		if RandomnessOf(other) != RandomnessOf(id) {
			t.Fatalf("%x: byte 8 or the high half changed the randomness", id)
		}
	}
}

// Over random trace ids the kept share is the probability within an exact
// binomial bound, and consistency holds: a trace kept at p is kept at every
// higher p.
func TestRatioKeepsItsShareConsistently(t *testing.T) {
	const n = 100_000
	rates := []float64{0, 0.0001, 0.001, 0.01, 0.1, 0.25, 1.0 / 3, 0.5, 0.75, 0.9, 0.999, 1}
	ratios := make([]Ratio, len(rates))
	for i, p := range rates {
		ratios[i] = NewRatio(p)
	}
	kept := make([]int, len(rates))
	r := rand.New(rand.NewPCG(1, 2))
	for range n {
		rnd := Randomness(r.Uint64() & randomnessMask)
		prev := false
		for i, ratio := range ratios {
			k := ratio.Keeps(rnd)
			if prev && !k {
				t.Fatalf("randomness %x kept at %v but not at %v", uint64(rnd), rates[i-1], rates[i])
			}
			prev = k
			if k {
				kept[i]++
			}
		}
	}
	for i, p := range rates {
		// The ratio's exact probability, after rounding the threshold.
		q := ratios[i].Threshold().Probability()
		lo, hi := binomial.Interval(n, q, 1e-9)
		if kept[i] < lo || kept[i] > hi {
			t.Errorf("p=%v: kept %d of %d, outside [%d, %d]", p, kept[i], n, lo, hi)
		}
	}
}

func binomialBounds(n int, p float64) (int, int) { return binomial.Interval(n, p, 1e-9) }
