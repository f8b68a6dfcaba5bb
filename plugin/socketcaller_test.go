package plugin

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/Kong/go-pdk/bridge"
	kpp "github.com/Kong/go-pdk/server/kong_plugin_protocol"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// The pinned go-pdk keeps its socket where newKongCaller looks: if an
// upgrade moves it, this fails instead of every call silently taking the
// slower bridge.
func TestSocketCallerFindsGoPDKConnection(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c, ok := newKongCaller(bridge.New(a)).(socketCaller)
	if !ok || c.conn != a {
		t.Fatalf("newKongCaller = %#v, want a socketCaller on the bridge's connection", c)
	}
	if _, ok := newKongCaller(bridge.PdkBridge{}).(bridge.PdkBridge); !ok {
		t.Fatal("a bridge without a connection must stay go-pdk's")
	}
}

// countingConn records every Write as one system call would carry it.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, bytes.Clone(p))
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// kongSide plays Kong for one call: it reads the method and argument frames
// the way Kong's pb_rpc does (length, then body) and answers with answer
// framed, followed by extra bytes.
func kongSide(t *testing.T, conn net.Conn, answer, extra []byte) (method string, args []byte) {
	t.Helper()
	read := func() []byte {
		var n uint32
		if err := binary.Read(conn, binary.LittleEndian, &n); err != nil {
			t.Errorf("kong side: %v", err)
			return nil
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(conn, b); err != nil {
			t.Errorf("kong side: %v", err)
		}
		return b
	}
	method, args = string(read()), read()
	out := binary.LittleEndian.AppendUint32(nil, uint32(len(answer)))
	out = append(append(out, answer...), extra...)
	if _, err := conn.Write(out); err != nil {
		t.Errorf("kong side: %v", err)
	}
	return method, args
}

// ask runs one call from caller (built on the plugin end of a socket pair)
// against kongSide, and returns what Kong received and each write the
// plugin made.
func ask(t *testing.T, newCaller func(net.Conn) kongCaller, method string, args, out proto.Message, answer, extra []byte) (gotMethod string, gotArgs []byte, writes [][]byte, err error) {
	t.Helper()
	pluginEnd, kongEnd := socketPair(t)
	cc := &countingConn{Conn: pluginEnd}
	done := make(chan struct{})
	go func() {
		defer close(done)
		gotMethod, gotArgs = kongSide(t, kongEnd, answer, extra)
	}()
	err = newCaller(cc).Ask(method, args, out)
	<-done
	return gotMethod, gotArgs, cc.writes, err
}

func socketPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	l, err := net.Listen("unix", t.TempDir()+"/s")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	a, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := <-accepted
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func viaSocket(c net.Conn) kongCaller { return socketCaller{c} }
func viaBridge(c net.Conn) kongCaller { return bridge.New(c) }

// Kong receives the same frames as from go-pdk's bridge, in one write
// instead of three or four, and the answer decodes the same.
func TestSocketCallerMatchesGoPDKBridge(t *testing.T) {
	headers, _ := structpb.NewStruct(map[string]any{"traceparent": "00-" + strings.Repeat("1", 32) + "-" + strings.Repeat("2", 16) + "-01"})
	serialize := `{"request":{"method":"GET"}}`
	answer, _ := proto.Marshal(&kpp.String{V: serialize})
	for _, tc := range []struct {
		name   string
		method string
		args   proto.Message
	}{
		{"no arguments", mSerialize, nil},
		{"string argument", mGetHeader, &kpp.String{V: "traceparent"}},
		{"empty string argument", mGetHeader, &kpp.String{}},
		{"struct argument", mSetUpstreamHeads, headers},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fromBridge, fromSocket kpp.String
			bm, ba, bw, berr := ask(t, viaBridge, tc.method, tc.args, &fromBridge, answer, nil)
			sm, sa, sw, serr := ask(t, viaSocket, tc.method, tc.args, &fromSocket, answer, nil)
			if berr != nil || serr != nil {
				t.Fatalf("bridge: %v, socket caller: %v", berr, serr)
			}
			if sm != bm || !bytes.Equal(sa, ba) {
				t.Fatalf("Kong received %q %x from the socket caller, %q %x from go-pdk", sm, sa, bm, ba)
			}
			if !bytes.Equal(bytes.Join(sw, nil), bytes.Join(bw, nil)) {
				t.Fatalf("bytes differ:\n socket caller %x\n go-pdk        %x", bytes.Join(sw, nil), bytes.Join(bw, nil))
			}
			if len(sw) != 1 || len(bw) < 3 {
				t.Fatalf("writes: socket caller %d (want 1), go-pdk %d", len(sw), len(bw))
			}
			if fromSocket.V != serialize || fromBridge.V != serialize {
				t.Fatalf("answers %q and %q, want %q", fromSocket.V, fromBridge.V, serialize)
			}
		})
	}
}

// An answer larger than the call buffer (a serialize payload of a request
// with many headers) arrives whole; a call that expects no answer body
// ignores it.
func TestSocketCallerLargeAndIgnoredAnswers(t *testing.T) {
	big := strings.Repeat("x", 200<<10)
	answer, _ := proto.Marshal(&kpp.String{V: big})
	var out kpp.String
	if _, _, _, err := ask(t, viaSocket, mSerialize, nil, &out, answer, nil); err != nil || out.V != big {
		t.Fatalf("large answer: %d bytes, %v", len(out.V), err)
	}
	if _, _, _, err := ask(t, viaSocket, mClearUpstreamHead, &kpp.String{V: "x"}, nil, answer, nil); err != nil {
		t.Fatalf("ignored answer: %v", err)
	}
}

// Bytes after the answer frame break the protocol (Kong writes only in
// answer to a call): the call fails instead of misreading the next frame.
func TestSocketCallerRefusesTrailingBytes(t *testing.T) {
	answer, _ := proto.Marshal(&kpp.String{V: "v"})
	var out kpp.String
	_, _, _, err := ask(t, viaSocket, mGetHeader, &kpp.String{V: "h"}, &out, answer, []byte{1, 2, 3})
	if !errors.Is(err, errTrailingBytes) {
		t.Fatalf("err = %v, want errTrailingBytes", err)
	}
}

// A connection that closes mid-answer is an error, not a short answer.
func TestSocketCallerTruncatedAnswer(t *testing.T) {
	pluginEnd, kongEnd := socketPair(t)
	go func() {
		var buf [64]byte
		_, _ = kongEnd.Read(buf[:]) // the call
		_, _ = kongEnd.Write(binary.LittleEndian.AppendUint32(nil, 100))
		_, _ = kongEnd.Write([]byte("short"))
		kongEnd.Close()
	}()
	var out kpp.String
	if err := (socketCaller{pluginEnd}).Ask(mSerialize, nil, &out); err == nil {
		t.Fatal("truncated answer accepted")
	}
}
