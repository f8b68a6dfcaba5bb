package sampling

import (
	"strings"
	"testing"
)

// Answers captured from Jaeger v2.13's remote_sampling extension (file
// strategies), and the proto encoding of Jaeger's collector endpoint.
func TestParseStrategy(t *testing.T) {
	for _, tc := range []struct {
		name, json string
		want       Strategy
	}{
		{"jaeger probabilistic", `{"strategyType":0,"probabilisticSampling":{"samplingRate":0.8}}`,
			Strategy{Kind: Probabilistic, Probability: 0.8}},
		{"jaeger ratelimiting", `{"strategyType":1,"rateLimitingSampling":{"maxTracesPerSecond":5}}`,
			Strategy{Kind: RateLimiting, MaxTracesPerSecond: 5}},
		{"jaeger per-operation", `{"strategyType":0,"probabilisticSampling":{"samplingRate":0.2},"operationSampling":{"defaultSamplingProbability":0.2,"defaultLowerBoundTracesPerSecond":0,"perOperationStrategies":[{"operation":"GET /orders","probabilisticSampling":{"samplingRate":0.1}},{"operation":"GET /health","probabilisticSampling":{"samplingRate":0}}],"defaultUpperBoundTracesPerSecond":0}}`,
			Strategy{Kind: PerOperation, Probability: 0.2, Operations: map[string]float64{"GET /orders": 0.1, "GET /health": 0}}},
		{"adaptive lower bound", `{"strategyType":0,"operationSampling":{"defaultSamplingProbability":0.001,"defaultLowerBoundTracesPerSecond":0.016666666666666666,"perOperationStrategies":[{"operation":"GET /a","probabilisticSampling":{"samplingRate":1}}]}}`,
			Strategy{Kind: PerOperation, Probability: 0.001, LowerBound: 1.0 / 60, Operations: map[string]float64{"GET /a": 1}}},
		{"proto names", `{"strategyType":"RATE_LIMITING","rateLimitingSampling":{"maxTracesPerSecond":100}}`,
			Strategy{Kind: RateLimiting, MaxTracesPerSecond: 100}},
		{"proto without strategyType", `{"probabilisticSampling":{"samplingRate":0.25}}`,
			Strategy{Kind: Probabilistic, Probability: 0.25}},
		{"proto zero rate", `{"probabilisticSampling":{}}`, Strategy{Kind: Probabilistic}},
		{"per-operation without operations", `{"operationSampling":{"defaultSamplingProbability":0.5}}`,
			Strategy{Kind: PerOperation, Probability: 0.5, Operations: map[string]float64{}}},
		{"first duplicate wins", `{"operationSampling":{"defaultSamplingProbability":0.5,"perOperationStrategies":[{"operation":"x","probabilisticSampling":{"samplingRate":0.1}},{"operation":"x","probabilisticSampling":{"samplingRate":0.9}}]}}`,
			Strategy{Kind: PerOperation, Probability: 0.5, Operations: map[string]float64{"x": 0.1}}},
	} {
		got, err := ParseStrategy([]byte(tc.json))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !got.Equal(&tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestParseStrategyRefusesNonsense(t *testing.T) {
	for _, tc := range []struct{ json, want string }{
		{`not json`, "sampling strategy"},
		{`{}`, "no strategyType"},
		{`{"strategyType":7,"probabilisticSampling":{"samplingRate":0.5}}`, "unknown strategyType 7"},
		{`{"strategyType":0,"probabilisticSampling":{"samplingRate":1.5}}`, "not a probability"},
		{`{"strategyType":1,"rateLimitingSampling":{"maxTracesPerSecond":-3}}`, "negative"},
		{`{"operationSampling":{"defaultSamplingProbability":-0.1}}`, "not a probability"},
		{`{"operationSampling":{"defaultSamplingProbability":0.1,"defaultLowerBoundTracesPerSecond":-1}}`, "negative"},
		{`{"operationSampling":{"defaultSamplingProbability":0.1,"perOperationStrategies":[{"operation":"x"}]}}`, "no probabilisticSampling"},
		{`{"operationSampling":{"defaultSamplingProbability":0.1,"perOperationStrategies":[{"operation":"x","probabilisticSampling":{"samplingRate":2}}]}}`, "operation x"},
	} {
		_, err := ParseStrategy([]byte(tc.json))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", tc.json, err, tc.want)
		}
	}
}
