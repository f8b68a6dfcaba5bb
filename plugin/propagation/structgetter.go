package propagation

import (
	"strings"

	"google.golang.org/protobuf/types/known/structpb"
)

// StructHeaders is a Getter over the protobuf Struct that
// kong.request.get_headers returns on the wire: a string value per header,
// or a list of strings for a repeated one. Reading it directly skips
// go-pdk's conversion into a map of slices (one allocation per header). A
// nil Struct has no headers.
type StructHeaders struct{ S *structpb.Struct }

// Get implements Getter.
func (h StructHeaders) Get(name string) string {
	if h.S == nil {
		return ""
	}
	v, ok := h.S.Fields[name]
	if !ok || v == nil {
		return ""
	}
	switch k := v.Kind.(type) {
	case *structpb.Value_StringValue:
		return k.StringValue
	case *structpb.Value_ListValue:
		vals := k.ListValue.GetValues()
		if len(vals) == 1 {
			return vals[0].GetStringValue()
		}
		var b strings.Builder
		for i, e := range vals {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(e.GetStringValue())
		}
		return b.String()
	}
	return ""
}
