package propagation

import (
	"encoding/hex"
	"testing"

	"github.com/trace-exporter/trace-exporter/exporter"
)

// hm builds a HeaderMap from name, value pairs; a name given twice gets two
// values, as a repeated header does.
func hm(kv ...string) HeaderMap {
	m := HeaderMap{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = append(m[kv[i]], kv[i+1])
	}
	return m
}

func tid(t testing.TB, s string) exporter.TraceID {
	t.Helper()
	var id exporter.TraceID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) > len(id) {
		t.Fatalf("bad test trace id %q", s)
	}
	copy(id[len(id)-len(b):], b)
	return id
}

func sid(t testing.TB, s string) exporter.SpanID {
	t.Helper()
	var id exporter.SpanID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) > len(id) {
		t.Fatalf("bad test span id %q", s)
	}
	copy(id[len(id)-len(b):], b)
	return id
}

// extractCase is one row of a per-format extraction table.
type extractCase struct {
	name      string
	headers   HeaderMap
	want      SpanContext // compared when ok
	ok        bool
	malformed bool // the format under test must be reported malformed
}

// runExtractCases extracts each case with formats and checks the result and
// whether the format under test is reported malformed.
func runExtractCases(t *testing.T, counted Format, formats []Format, cases []extractCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, bad := ExtractChecked(tc.headers, formats)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v (got %+v)", ok, tc.ok, got)
			}
			if ok && got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
			if !ok && got != (SpanContext{}) {
				t.Errorf("not ok but returned %+v", got)
			}
			if bad.Has(counted) != tc.malformed {
				t.Errorf("reported malformed: %v, want %v", bad.Has(counted), tc.malformed)
			}
		})
	}
}
