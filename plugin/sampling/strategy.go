package sampling

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
)

// StrategyKind is the kind of a Jaeger sampling strategy.
type StrategyKind uint8

// Jaeger's strategy kinds.
const (
	Probabilistic StrategyKind = iota // one probability for every trace
	RateLimiting                      // at most N traces per second
	PerOperation                      // a probability per operation, a default, and a lower bound
)

func (k StrategyKind) String() string {
	switch k {
	case RateLimiting:
		return "ratelimiting"
	case PerOperation:
		return "per-operation"
	}
	return "probabilistic"
}

// Strategy is one service's sampling strategy as Jaeger's remote sampling
// API answers it.
type Strategy struct {
	Kind StrategyKind
	// Probability: Probabilistic's rate, or PerOperation's
	// defaultSamplingProbability (operations it does not list).
	Probability float64
	// MaxTracesPerSecond: RateLimiting's rate.
	MaxTracesPerSecond float64
	// LowerBound: PerOperation's defaultLowerBoundTracesPerSecond, traces
	// per second each operation keeps at least, whatever its probability.
	LowerBound float64
	// Operations: PerOperation's probability per operation name.
	Operations map[string]float64
}

// Equal reports whether two strategies decide alike.
func (s *Strategy) Equal(o *Strategy) bool {
	return s.Kind == o.Kind && s.Probability == o.Probability && s.MaxTracesPerSecond == o.MaxTracesPerSecond &&
		s.LowerBound == o.LowerBound && maps.Equal(s.Operations, o.Operations)
}

// The JSON of Jaeger's sampling API. Two encodings are in use: the legacy
// one (Jaeger v2's remote_sampling extension and v1's agent, from Thrift,
// strategyType an integer: 0 probabilistic, 1 rate limiting) and the proto
// one (the collector's /api/sampling: strategyType a name, zero values
// left out). Both use the same field names.
type strategyJSON struct {
	StrategyType          json.RawMessage `json:"strategyType"`
	ProbabilisticSampling *struct {
		SamplingRate float64 `json:"samplingRate"`
	} `json:"probabilisticSampling"`
	RateLimitingSampling *struct {
		MaxTracesPerSecond float64 `json:"maxTracesPerSecond"`
	} `json:"rateLimitingSampling"`
	OperationSampling *struct {
		DefaultSamplingProbability       float64 `json:"defaultSamplingProbability"`
		DefaultLowerBoundTracesPerSecond float64 `json:"defaultLowerBoundTracesPerSecond"`
		PerOperationStrategies           []struct {
			Operation             string `json:"operation"`
			ProbabilisticSampling *struct {
				SamplingRate float64 `json:"samplingRate"`
			} `json:"probabilisticSampling"`
		} `json:"perOperationStrategies"`
	} `json:"operationSampling"`
}

// ParseStrategy reads a sampling strategy response. As Jaeger's clients
// do, operationSampling wins when present; otherwise strategyType (or,
// when it is left out, the sampling object present) says which kind.
// Probabilities must lie in [0, 1] and rates be non-negative: a strategy
// that breaks this is refused whole, so the last good one stays in force.
// defaultUpperBoundTracesPerSecond is not used (Jaeger's clients ignore it
// too).
func ParseStrategy(data []byte) (Strategy, error) {
	var in strategyJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return Strategy{}, fmt.Errorf("sampling strategy: %w", err)
	}
	if op := in.OperationSampling; op != nil {
		s := Strategy{Kind: PerOperation, Probability: op.DefaultSamplingProbability,
			LowerBound: op.DefaultLowerBoundTracesPerSecond, Operations: make(map[string]float64, len(op.PerOperationStrategies))}
		if err := checkProbability("defaultSamplingProbability", s.Probability); err != nil {
			return Strategy{}, err
		}
		if err := checkRate("defaultLowerBoundTracesPerSecond", s.LowerBound); err != nil {
			return Strategy{}, err
		}
		for _, o := range op.PerOperationStrategies {
			if o.ProbabilisticSampling == nil {
				return Strategy{}, fmt.Errorf("sampling strategy: operation %q has no probabilisticSampling", o.Operation)
			}
			if err := checkProbability("operation "+o.Operation, o.ProbabilisticSampling.SamplingRate); err != nil {
				return Strategy{}, err
			}
			if _, dup := s.Operations[o.Operation]; !dup {
				s.Operations[o.Operation] = o.ProbabilisticSampling.SamplingRate
			}
		}
		return s, nil
	}
	kind, err := strategyKind(in.StrategyType, in.ProbabilisticSampling != nil, in.RateLimitingSampling != nil)
	if err != nil {
		return Strategy{}, err
	}
	switch kind {
	case RateLimiting:
		s := Strategy{Kind: RateLimiting}
		if in.RateLimitingSampling != nil {
			s.MaxTracesPerSecond = in.RateLimitingSampling.MaxTracesPerSecond
		}
		return s, checkRate("maxTracesPerSecond", s.MaxTracesPerSecond)
	default:
		s := Strategy{Kind: Probabilistic}
		if in.ProbabilisticSampling != nil {
			s.Probability = in.ProbabilisticSampling.SamplingRate
		}
		return s, checkProbability("samplingRate", s.Probability)
	}
}

func strategyKind(raw json.RawMessage, hasProbabilistic, hasRateLimiting bool) (StrategyKind, error) {
	raw = bytes.TrimSpace(raw)
	switch string(raw) {
	case "", "null":
		// The proto encoding leaves out strategyType PROBABILISTIC (0).
		switch {
		case hasProbabilistic:
			return Probabilistic, nil
		case hasRateLimiting:
			return RateLimiting, nil
		}
		return 0, errors.New("sampling strategy: no strategyType and no sampling object")
	case "0", `"PROBABILISTIC"`:
		return Probabilistic, nil
	case "1", `"RATE_LIMITING"`:
		return RateLimiting, nil
	}
	return 0, fmt.Errorf("sampling strategy: unknown strategyType %s", raw)
}

var errNotFinite = errors.New("not a finite number")

func checkProbability(what string, p float64) error {
	if math.IsNaN(p) || p < 0 || p > 1 {
		return fmt.Errorf("sampling strategy: %s %v is not a probability", what, p)
	}
	return nil
}

func checkRate(what string, r float64) error {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return fmt.Errorf("sampling strategy: %s: %w", what, errNotFinite)
	}
	if r < 0 {
		return fmt.Errorf("sampling strategy: %s %v is negative", what, r)
	}
	return nil
}
