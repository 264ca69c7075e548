package remote_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/masscustom/orchestrator/internal/handleroot"
	"github.com/masscustom/orchestrator/services/identifiers/remote"
)

func TestANodeRegistersItsPrefixWithTheUpperNode(t *testing.T) {
	root, err := handleroot.New(handleroot.Options{Token: "s3cret", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(root)
	defer srv.Close()
	ctx := context.Background()
	if err := remote.Register(ctx, nil, srv.URL, "wrong", "88.777", "http://127.0.0.1:9080"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("a wrong token: %v", err)
	}
	if err := remote.Register(ctx, nil, srv.URL, "s3cret", "88.07", "http://127.0.0.1:9080"); err == nil {
		t.Fatal("a malformed prefix was registered")
	}
	if err := remote.Register(ctx, nil, srv.URL, "s3cret", "88.777", "http://127.0.0.1:9080"); err != nil {
		t.Fatal(err)
	}
	reg, ok := root.Lookup("88.777.1304")
	if !ok || reg.URL != "http://127.0.0.1:9080" {
		t.Fatalf("the root maps 88.777.1304 to %+v (%v)", reg, ok)
	}
	// Registering again (a restarted gateway) is fine.
	if err := remote.Register(ctx, nil, srv.URL, "s3cret", "88.777", "http://127.0.0.1:9080"); err != nil {
		t.Fatal(err)
	}
}
