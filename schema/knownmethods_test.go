package schema

import (
	"slices"
	"strings"
	"testing"
)

// http_known_methods defaults to the semantic conventions' list, replaces
// it when set (an empty list makes every method _OTHER), and refuses what
// is not a method token, naming the field.
func TestHTTPKnownMethods(t *testing.T) {
	var c Config
	if err := c.UnmarshalJSON([]byte(`{"traces_endpoint":"http://c:4318/v1/traces"}`)); err != nil {
		t.Fatal(err)
	}
	if want := []string{"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE"}; !slices.Equal(c.HTTPKnownMethods, want) {
		t.Errorf("default %v, want %v", c.HTTPKnownMethods, want)
	}
	c = Config{}
	if err := c.UnmarshalJSON([]byte(`{"traces_endpoint":"http://c:4318/v1/traces","http_known_methods":["GET","PURGE","propfind"]}`)); err != nil {
		t.Fatal(err)
	}
	if want := []string{"GET", "PURGE", "propfind"}; !slices.Equal(c.HTTPKnownMethods, want) {
		t.Errorf("override %v, want %v (case kept: methods are case-sensitive)", c.HTTPKnownMethods, want)
	}
	c = Config{}
	err := c.UnmarshalJSON([]byte(`{"traces_endpoint":"http://c:4318/v1/traces","http_known_methods":["GET","BAD METHOD"]}`))
	if err == nil || !strings.Contains(err.Error(), "http_known_methods") {
		t.Errorf("a method with a space: %v, want an error naming http_known_methods", err)
	}
}
