package plugin

import (
	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// kongCaller makes PDK calls: every Ask is one round trip over the plugin
// socket (socketCaller, or go-pdk's bridge when its socket cannot be
// reached). Handlers take this instead of *pdk.PDK so that tests can count
// and answer calls, and so the calls made are visible in one place (this
// file).
type kongCaller interface {
	Ask(method string, args proto.Message, out proto.Message) error
}

// PDK method names as Kong's pb_rpc resolves them.
const (
	mSerialize         = "kong.log.serialize"
	mSetSerializeValue = "kong.log.set_serialize_value"
	mGetHeader         = "kong.request.get_header"
	mGetHeaders        = "kong.request.get_headers"
	mSetUpstreamHeads  = "kong.service.request.set_headers"
	mClearUpstreamHead = "kong.service.request.clear_header"
	mSetResponseHeader = "kong.response.set_header"
	mGetCtx            = "kong.nginx.get_ctx"
	mGetStatus         = "kong.response.get_status"
	mGetURICaptures    = "kong.request.get_uri_captures"
	mSharedGet         = "kong.ctx.shared.get"
	mNodeID            = "kong.node.get_id"
)

// maxRequestHeaders is what kong.request.get_headers reads; Kong's own
// default and go-pdk's GetHeaders(-1) both use 100.
const maxRequestHeaders = 100

func callSerialize(k kongCaller) (string, error) {
	var out kpp.String
	err := k.Ask(mSerialize, nil, &out)
	return out.V, err
}

func callGetHeader(k kongCaller, name string) (string, error) {
	var out kpp.String
	err := k.Ask(mGetHeader, &kpp.String{V: name}, &out)
	return out.V, err
}

func callGetHeaders(k kongCaller) (*structpb.Struct, error) {
	out := &structpb.Struct{}
	err := k.Ask(mGetHeaders, &kpp.Int{V: maxRequestHeaders}, out)
	return out, err
}

// callSetUpstreamHeaders sets several upstream request headers in one call.
func callSetUpstreamHeaders(k kongCaller, headers *structpb.Struct) error {
	return k.Ask(mSetUpstreamHeads, headers, nil)
}

func callClearUpstreamHeader(k kongCaller, name string) error {
	return k.Ask(mClearUpstreamHead, &kpp.String{V: name}, nil)
}

func callSetSerializeValue(k kongCaller, key, value string) error {
	return k.Ask(mSetSerializeValue, &kpp.KV{K: key, V: structpb.NewStringValue(value)}, nil)
}

func callSetResponseHeader(k kongCaller, name, value string) error {
	return k.Ask(mSetResponseHeader, &kpp.KV{K: name, V: structpb.NewStringValue(value)}, nil)
}

func callGetStatus(k kongCaller) (int, error) {
	var out kpp.Int
	err := k.Ask(mGetStatus, nil, &out)
	return int(out.V), err
}

// callGetSerializeValues reads ngx.ctx.serialize_values, the list Kong keeps
// for kong.log.set_serialize_value ({key, value, mode} entries). In the log
// timer it comes from the saved ctx clone: a small call that returns the
// hand-off without the full serialize payload.
func callGetSerializeValues(k kongCaller) (*structpb.Value, error) {
	out := &structpb.Value{}
	err := k.Ask(mGetCtx, &kpp.String{V: "serialize_values"}, out)
	return out, err
}

// handoffFromSerializeValues finds our entry among the serialize values.
func handoffFromSerializeValues(v *structpb.Value) (string, bool) {
	list := v.GetListValue()
	if list == nil {
		return "", false
	}
	found, value := false, ""
	for _, item := range list.Values {
		fields := item.GetStructValue().GetFields()
		if fields["key"].GetStringValue() == handoffKey {
			// The last "set" wins, as in Kong's edit_result.
			found, value = true, fields["value"].GetStringValue()
		}
	}
	return value, found
}
