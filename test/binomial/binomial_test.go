package binomial

import (
	"math"
	"testing"
)

func TestIntervalSmallExact(t *testing.T) {
	// Binomial(10, 0.5): P(X=0) = P(X=10) = 1/1024, P(X<=1) = 11/1024.
	if lo, hi := Interval(10, 0.5, 2.0/1024+1e-9); lo != 1 || hi != 9 {
		t.Errorf("alpha just above 2/1024: [%d, %d], want [1, 9]", lo, hi)
	}
	if lo, hi := Interval(10, 0.5, 2.0/1024-1e-9); lo != 0 || hi != 10 {
		t.Errorf("alpha just below 2/1024: [%d, %d], want [0, 10]", lo, hi)
	}
	if lo, hi := Interval(10, 0.5, 22.0/1024+1e-9); lo != 2 || hi != 8 {
		t.Errorf("alpha just above 22/1024: [%d, %d], want [2, 8]", lo, hi)
	}
}

func TestIntervalLargeNearNormal(t *testing.T) {
	n, p := 100_000, 0.1
	lo, hi := Interval(n, p, 1e-6)
	mean, sd := float64(n)*p, math.Sqrt(float64(n)*p*(1-p))
	// 1e-6 two-sided is about 4.9 standard deviations.
	for _, b := range []int{lo, hi} {
		if z := math.Abs(float64(b)-mean) / sd; z < 4.5 || z > 5.3 {
			t.Errorf("bound %d is %.2f sd from the mean", b, z)
		}
	}
	if lo, hi := Interval(5, 0, 0.01); lo != 0 || hi != 0 {
		t.Errorf("p=0: [%d, %d]", lo, hi)
	}
	if lo, hi := Interval(5, 1, 0.01); lo != 5 || hi != 5 {
		t.Errorf("p=1: [%d, %d]", lo, hi)
	}
}
