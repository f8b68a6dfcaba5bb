package kongsim

import (
	"strings"
	"testing"

	pb "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/proto"
)

// A regex route's groups are kong.request.get_uri_captures, in the access
// phase and from the saved data in the log timer; the whole match ([0] in
// Lua) is not sent.
func TestURICaptures(t *testing.T) {
	rt, err := newRouter([]*Route{{Name: "users", Paths: []string{`~/users/(?<id>\d+)/(\w+)`}}})
	if err != nil {
		t.Fatal(err)
	}
	m := rt.match("GET", "kong", "/users/42/orders")
	if m == nil || strings.Join(m.captures, ",") != "42,orders" || m.named["id"] != "42" || len(m.named) != 1 {
		t.Fatalf("match %+v", m)
	}
	x := &Exchange{URICaptures: m.captures, NamedCaptures: m.named}
	for _, st := range []*pdkState{{x: x}, {saved: &LogData{URICaptures: m.captures, NamedCaptures: m.named}}} {
		b, err := pdkMethods["kong.request.get_uri_captures"](st, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got pb.UriCapturesResult
		if err := proto.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if len(got.Unnamed) != 2 || string(got.Unnamed[0]) != "42" || string(got.Unnamed[1]) != "orders" || string(got.Named["id"]) != "42" {
			t.Errorf("reply %v", &got)
		}
	}
	if m := rt.match("GET", "kong", "/other"); m != nil {
		t.Errorf("unexpected match %+v", m)
	}
}
