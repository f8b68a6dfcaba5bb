package propagation

import "testing"

func TestExtractAWS(t *testing.T) {
	const (
		root   = "Root=1-5759e988-bd862e3fe1be46a994272793"
		trace  = "5759e988bd862e3fe1be46a994272793"
		parent = "53995c3f42cd8ad8"
	)
	want := func(s Sampling, withParent bool) SpanContext {
		sc := SpanContext{TraceID: tid(t, trace), Sampling: s, Format: AWS}
		if withParent {
			sc.SpanID = sid(t, parent)
		}
		return sc
	}
	runExtractCases(t, AWS, []Format{AWS}, []extractCase{
		{name: "full sampled", headers: hm("x-amzn-trace-id", root+";Parent="+parent+";Sampled=1"), want: want(Sampled, true), ok: true},
		{name: "not sampled", headers: hm("x-amzn-trace-id", root+";Parent="+parent+";Sampled=0"), want: want(NotSampled, true), ok: true},
		{name: "sampled unknown", headers: hm("x-amzn-trace-id", root+";Parent="+parent+";Sampled=?"), want: want(NoDecision, true), ok: true},
		{name: "load balancer: Self and Root only", headers: hm("x-amzn-trace-id", "Self=1-67891234-12456789abcdef012345678;"+root),
			want: want(NoDecision, false), ok: true},
		{name: "order and spaces", headers: hm("x-amzn-trace-id", " Sampled=1; Parent = "+parent+" ;"+root+";"), want: want(Sampled, true), ok: true},
		{name: "lineage and custom keys ignored", headers: hm("x-amzn-trace-id", root+";Parent="+parent+";Sampled=1;Lineage=a87bd80c:1|68fd508a:5;Foo=bar"),
			want: want(Sampled, true), ok: true},
		{name: "uppercase hex", headers: hm("x-amzn-trace-id", "Root=1-5759E988-BD862E3FE1BE46A994272793;Parent=53995C3F42CD8AD8"), want: want(NoDecision, true), ok: true},
		{name: "all-zero parent is no parent", headers: hm("x-amzn-trace-id", root+";Parent=0000000000000000;Sampled=1"), want: want(Sampled, false), ok: true},
		{name: "no Root", headers: hm("x-amzn-trace-id", "Parent="+parent+";Sampled=1"), malformed: true},
		{name: "Root version 2", headers: hm("x-amzn-trace-id", "Root=2-5759e988-bd862e3fe1be46a994272793"), malformed: true},
		{name: "Root short unique part", headers: hm("x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a99427279"), malformed: true},
		{name: "Root bad delimiter", headers: hm("x-amzn-trace-id", "Root=1_5759e988-bd862e3fe1be46a994272793"), malformed: true},
		{name: "Root all zero", headers: hm("x-amzn-trace-id", "Root=1-00000000-000000000000000000000000"), malformed: true},
		{name: "Root not hex", headers: hm("x-amzn-trace-id", "Root=1-5759e98g-bd862e3fe1be46a994272793"), malformed: true},
		{name: "short parent", headers: hm("x-amzn-trace-id", root+";Parent=53995c3f42cd8ad"), malformed: true},
		{name: "bad sampled", headers: hm("x-amzn-trace-id", root+";Sampled=yes"), malformed: true},
		{name: "part without equals", headers: hm("x-amzn-trace-id", root+";garbage"), malformed: true},
		{name: "lowercase key is not Root", headers: hm("x-amzn-trace-id", "root=1-5759e988-bd862e3fe1be46a994272793"), malformed: true},
	})
}

func TestInjectAWS(t *testing.T) {
	sc := SpanContext{TraceID: tid(t, "5759e988bd862e3fe1be46a994272793"), SpanID: sid(t, "53995c3f42cd8ad8"), Sampling: Sampled}
	assertHeaders(t, Inject(nil, sc, []Format{AWS}, W3C),
		[]Header{{"x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"}})
	sc.Sampling = NoDecision
	assertHeaders(t, Inject(nil, sc, []Format{AWS}, W3C),
		[]Header{{"x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"}})
}
