// Package binomial gives exact binomial acceptance intervals for tests that
// count random outcomes (sampling decisions over random trace ids): a count
// outside the interval is evidence of a wrong probability, not bad luck,
// at the false-alarm rate the test chooses.
package binomial

import "math"

// Interval returns the smallest [lo, hi] with P(X < lo) <= alpha/2 and
// P(X > hi) <= alpha/2 for X ~ Binomial(n, p), from the exact probability
// mass function (no normal approximation). p <= 0 gives [0, 0], p >= 1
// gives [n, n].
func Interval(n int, p, alpha float64) (lo, hi int) {
	switch {
	case p <= 0:
		return 0, 0
	case p >= 1:
		return n, n
	}
	lgN, _ := math.Lgamma(float64(n + 1))
	lp, lq := math.Log(p), math.Log1p(-p)
	pmf := func(k int) float64 {
		a, _ := math.Lgamma(float64(k + 1))
		b, _ := math.Lgamma(float64(n - k + 1))
		return math.Exp(lgN - a - b + float64(k)*lp + float64(n-k)*lq)
	}
	half := alpha / 2
	lo, hi = 0, n
	for k, tail := 0, 0.0; k <= n; k++ {
		if tail += pmf(k); tail > half {
			lo = k
			break
		}
	}
	for k, tail := n, 0.0; k >= 0; k-- {
		if tail += pmf(k); tail > half {
			hi = k
			break
		}
	}
	return lo, hi
}
