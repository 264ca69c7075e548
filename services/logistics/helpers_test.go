package logistics_test

import (
	"context"
	"errors"
	"testing"

	"github.com/masscustom/orchestrator/services/logistics"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/internal/platform"
	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/orders"
	"github.com/masscustom/orchestrator/services/store"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// env is the real stack with the logistics service on it.
type env struct {
	p   *platform.Platform
	svc *logistics.Service
}

func newEnv(t *testing.T) env {
	t.Helper()
	p := testenv.Platform(t)
	if err := p.Catalog.EnsureSeeded(context.Background(), catalog.SeedTemplates()); err != nil {
		t.Fatal(err)
	}
	return env{p: p, svc: logistics.New(p.DB, p.Cache)}
}

// account creates an enterprise with a user of role and returns its principal.
func (e env) account(t *testing.T, kind identity.Kind, role identity.Role) (identity.Account, *identity.Principal) {
	t.Helper()
	a := testenv.Account(t, e.p, kind, role)
	return a, e.principal(t, a)
}

func (e env) principal(t *testing.T, a identity.Account) *identity.Principal {
	t.Helper()
	pr, err := e.p.Identity.Authenticate(context.Background(), a.Secret)
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

// member adds a user of role to a's enterprise.
func (e env) member(t *testing.T, a identity.Account, role identity.Role) *identity.Principal {
	t.Helper()
	return e.principal(t, testenv.Member(t, e.p, a.Enterprise, role))
}

type pageOf = store.Page[logistics.Shipment]

// place places an order of 2 AC-SPLIT units to CN as a fresh customer (or as
// customer, when given) and returns it with its customer.
func (e env) place(t *testing.T, customer *identity.Principal) (*orders.Order, *identity.Principal) {
	t.Helper()
	ctx := context.Background()
	if customer == nil {
		_, customer = e.account(t, identity.KindCustomer, identity.RoleAdmin)
	}
	var tid uuid.UUID
	if err := e.p.DB.QueryRow(ctx, `SELECT id FROM product_templates WHERE code = 'AC-SPLIT' ORDER BY version DESC LIMIT 1`).Scan(&tid); err != nil {
		t.Fatal(err)
	}
	n := d("3.5")
	o, _, err := e.p.Orders.Place(ctx, customer, orders.PlaceInput{
		IdempotencyKey: "place-" + testenv.Suffix(), TemplateID: &tid, Quantity: 2,
		Selections:      []catalog.Selection{{Option: "capacity", Number: &n}},
		ShippingAddress: orders.Address{Recipient: "Li Lei", Line1: "1 Haier Road", City: "Qingdao", PostalCode: "266101", Country: "CN"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return o, customer
}

// carrier creates a carrier with a lane to CN at price (CNY) and lead days.
func (e env) carrier(t *testing.T, price string, leadDays int) (identity.Account, *identity.Principal) {
	t.Helper()
	a, pr := e.account(t, identity.KindCarrier, identity.RoleAdmin)
	if _, err := e.svc.SetLane(context.Background(), pr, logistics.Lane{CarrierID: a.Enterprise.ID, Country: "CN", LeadDays: leadDays, Price: d(price), Currency: "CNY"}); err != nil {
		t.Fatal(err)
	}
	return a, pr
}

// book books the order among the given carriers.
func (e env) book(t *testing.T, o *orders.Order, carriers ...uuid.UUID) *logistics.Shipment {
	t.Helper()
	sh, _, err := e.svc.Book(context.Background(), logistics.BookInput{OrderID: o.ID, Key: "book", Destination: o.ShippingAddress, Currency: o.Currency, Candidates: carriers})
	if err != nil {
		t.Fatal(err)
	}
	return sh
}

// code is the coded error's code (the first of a list), or "" for none.
func code(err error) errs.Code {
	if err == nil {
		return ""
	}
	var l errs.List
	if errors.As(err, &l) && len(l) > 0 {
		return l[0].Code
	}
	if e, ok := errs.As(err); ok {
		return e.Code
	}
	return "UNCODED: " + errs.Code(err.Error())
}

func wantCode(t *testing.T, err error, want errs.Code) {
	t.Helper()
	if got := code(err); got != want {
		t.Fatalf("error %v: code %q, want %q", err, got, want)
	}
}

func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
