//go:build koala_go

package hooks_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/koala-replay/koala/go-hooks/internal/gid"
	"github.com/koala-replay/koala/go-hooks/internal/hooks"
	"github.com/koala-replay/koala/go-hooks/internal/pb"
)

// TestKeepAliveConnectionWorksForEachRequestsOwner sends two requests from two owners over one
// pooled HTTP/1.1 connection; each request's bytes, both ways, must carry its own owner.
func TestKeepAliveConnectionWorksForEachRequestsOwner(t *testing.T) {
	rec, stop := hooks.Capture()
	defer stop()
	ln := listen(t)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "answer for "+r.URL.Path)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	url := "http://" + ln.Addr().String()

	get := func(owner uint64, path string) {
		done := make(chan error)
		go func() {
			gid.SetOwner(owner)
			resp, err := client.Get(url + path)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			done <- err
		}()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	get(1001, "/first")
	get(1002, "/second")

	conn := connectTo(t, rec.Events(), port(ln.Addr())) // exactly one: the connection was reused
	if conn.Vtid != 1001 {
		t.Fatalf("CONNECT vtid %d, want the first requester 1001", conn.Vtid)
	}
	owners := map[string]int64{}
	for _, ev := range connEvents(rec.Events(), conn.ConnId) {
		p := string(ev.Payload)
		switch {
		case ev.Kind == pb.EventKind_EVENT_KIND_SEND && strings.HasPrefix(p, "GET /first"):
			owners["send first"] = ev.Vtid
		case ev.Kind == pb.EventKind_EVENT_KIND_SEND && strings.HasPrefix(p, "GET /second"):
			owners["send second"] = ev.Vtid
		case ev.Kind == pb.EventKind_EVENT_KIND_RECV && strings.Contains(p, "answer for /first"):
			owners["recv first"] = ev.Vtid
		case ev.Kind == pb.EventKind_EVENT_KIND_RECV && strings.Contains(p, "answer for /second"):
			owners["recv second"] = ev.Vtid
		}
	}
	want := map[string]int64{"send first": 1001, "recv first": 1001, "send second": 1002, "recv second": 1002}
	for k, v := range want {
		if owners[k] != v {
			t.Fatalf("%s: vtid %d, want %d (all: %v)", k, owners[k], v, owners)
		}
	}
}
