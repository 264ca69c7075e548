package platform

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestServePprof_OffByDefaultAndServesProfilesOnItsOwnListener(t *testing.T) {
	if err := ServePprof(context.Background(), "", "test"); err != nil {
		t.Fatalf("empty address: %v", err)
	}
	// Find a free port, then serve there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := ServePprof(ctx, addr, "test"); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{"/debug/pprof/": "goroutine", "/debug/pprof/goroutine?debug=1": "goroutine profile:"} {
		res, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Fatalf("%s: status %d, body %.200s", path, res.StatusCode, body)
		}
	}
	if err := ServePprof(ctx, addr, "test"); err == nil {
		t.Fatal("a second listener on a taken address was accepted")
	}
	cancel()
	deadline := time.Now().Add(3 * time.Second)
	for {
		if _, err := http.Get("http://" + addr + "/debug/pprof/"); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("pprof still serving after its context ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
