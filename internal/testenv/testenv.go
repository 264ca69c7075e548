// Package testenv gives integration tests the real local stack that `make test`
// starts (Postgres, Redis, the Temporal dev server), read from the same
// environment variables as the binaries. Without the stack a test is skipped,
// unless ORCH_REQUIRE_STACK=1 (as `make test` sets), where it fails instead.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/internal/platform"
	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/services/config"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/orders"
)

var (
	once   sync.Once
	shared *platform.Platform
	err    error
)

// Config returns the stack's configuration, or skips (fails under ORCH_REQUIRE_STACK=1).
func Config(t testing.TB) config.Config {
	t.Helper()
	if os.Getenv("DATABASE_URL") == "" || os.Getenv("REDIS_URL") == "" || os.Getenv("TEMPORAL_ADDRESS") == "" {
		if os.Getenv("ORCH_REQUIRE_STACK") == "1" {
			t.Fatal("integration stack required but DATABASE_URL, REDIS_URL or TEMPORAL_ADDRESS is unset")
		}
		t.Skip("integration stack not running: `make test` starts it (or eval \"$(scripts/stack.sh env test)\")")
	}
	cfg, cerr := config.FromEnv()
	if cerr != nil {
		t.Fatal(cerr)
	}
	return cfg
}

// Platform returns the package's shared connection to the stack, migrated.
func Platform(t testing.TB) *platform.Platform {
	t.Helper()
	cfg := Config(t)
	once.Do(func() {
		// Tests log only what goes wrong; set TEST_LOG=debug to see everything.
		lvl := slog.LevelWarn
		if os.Getenv("TEST_LOG") == "debug" {
			lvl = slog.LevelDebug
		}
		slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})))
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		shared, err = platform.Open(ctx, cfg, platform.Options{Temporal: true})
	})
	if err != nil {
		t.Fatalf("open stack: %v", err)
	}
	return shared
}

// Suffix returns a random suffix that keeps names of parallel tests apart.
func Suffix() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Account creates an enterprise of kind with one user of role and a token, and
// returns it with its secret.
func Account(t testing.TB, p *platform.Platform, kind identity.Kind, role identity.Role) identity.Account {
	t.Helper()
	s := Suffix()
	a := identity.Account{
		Enterprise: identity.Enterprise{ID: uuid.New(), Kind: kind, Name: string(kind) + " " + s},
		User:       identity.User{ID: uuid.New(), Email: string(role) + "." + s + "@test.example", Name: "Test " + string(role), Role: role},
		TokenID:    uuid.New(),
		TokenName:  "test",
		Secret:     "mco_test_" + s + Suffix(),
	}
	a.User.EnterpriseID = a.Enterprise.ID
	a.User.Role = role
	if err := p.Identity.EnsureAccount(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	return a
}

// Member adds a user of role with a token to an existing enterprise.
func Member(t testing.TB, p *platform.Platform, e identity.Enterprise, role identity.Role) identity.Account {
	t.Helper()
	s := Suffix()
	a := identity.Account{
		Enterprise: e,
		User:       identity.User{ID: uuid.New(), EnterpriseID: e.ID, Email: string(role) + "." + s + "@test.example", Name: "Test " + string(role), Role: role},
		TokenID:    uuid.New(),
		TokenName:  "test",
		Secret:     "mco_test_" + s + Suffix(),
	}
	if err := p.Identity.EnsureAccount(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	return a
}

// Principal is the principal the gateway authenticates for a's token.
func Principal(a identity.Account) *identity.Principal {
	return &identity.Principal{UserID: a.User.ID, EnterpriseID: a.Enterprise.ID, Kind: a.Enterprise.Kind, Role: a.User.Role, TokenID: a.TokenID}
}

// Template returns the seeded template with code (seeding the catalog first).
func Template(t testing.TB, p *platform.Platform, code string) catalog.Stored {
	t.Helper()
	ctx := context.Background()
	if err := p.Catalog.EnsureSeeded(ctx, catalog.SeedTemplates()); err != nil {
		t.Fatal(err)
	}
	page, err := p.Catalog.Latest(ctx, 50, "")
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(page.Items, func(s catalog.Stored) bool { return s.Code == code })
	if i < 0 {
		t.Fatalf("template %s not seeded", code)
	}
	return page.Items[i]
}

// PlaceOrder places one 3.5 kW AC-SPLIT for customer, shipped to Qingdao,
// and returns its id (the order row only: no workflow is started).
func PlaceOrder(t testing.TB, p *platform.Platform, customer identity.Account) uuid.UUID {
	t.Helper()
	tmpl := Template(t, p, "AC-SPLIT")
	capacity := decimal.RequireFromString("3.5")
	o, _, err := p.Orders.Place(context.Background(), Principal(customer), orders.PlaceInput{
		IdempotencyKey: "test-" + Suffix(), TemplateID: &tmpl.UUID,
		Selections: []catalog.Selection{{Option: "capacity", Number: &capacity}}, Quantity: 1,
		ShippingAddress: orders.Address{Recipient: "Zhang Min", Line1: "88 Haier Road", City: "Qingdao", PostalCode: "266101", Country: "CN"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return o.ID
}
