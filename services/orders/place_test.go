package orders_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/orders"
)

func TestPlaceRefusesNULAndControlCharactersInWhatItStoresAndWritesNothing(t *testing.T) {
	t.Parallel()
	p := testenv.Platform(t)
	ctx := context.Background()
	tmpl := testenv.Template(t, p, "AC-SPLIT")
	a := testenv.Account(t, p, identity.KindCustomer, identity.RoleMember)
	customer := testenv.Principal(a)
	good := orders.Address{Recipient: "Zhang Min", Line1: "88 Haier Road", City: "Qingdao", PostalCode: "266101", Country: "CN"}
	with := func(f func(*orders.Address)) orders.Address { x := good; f(&x); return x }
	cases := []struct {
		name    string
		key     string
		address orders.Address
		path    string
	}{
		{"a NUL in the recipient", "k1", with(func(x *orders.Address) { x.Recipient = "Zhang\x00Min" }), "input.shippingAddress.recipient"},
		{"a line break in the city", "k2", with(func(x *orders.Address) { x.City = "Qing\ndao" }), "input.shippingAddress.city"},
		{"an escape in the second line", "k3", with(func(x *orders.Address) { x.Line2 = "\x1b[31m" }), "input.shippingAddress.line2"},
		{"a NUL in the idempotency key", "k\x004", good, "input.idempotencyKey"},
	}
	for _, c := range cases {
		_, _, err := p.Orders.Place(ctx, customer, orders.PlaceInput{IdempotencyKey: c.key, TemplateID: &tmpl.UUID,
			Selections: []catalog.Selection{{Option: "capacity", Number: decimalPtr("3.5")}}, Quantity: 1, ShippingAddress: c.address})
		var list errs.List
		if errors.As(err, &list) && len(list) == 1 {
			err = list[0]
		}
		e, ok := errs.As(err)
		if !ok || e.Code != errs.InvalidInput || strings.Join(e.Field, ".") != c.path || e.Message == "" {
			t.Errorf("%s: %v, want INVALID_INPUT on %s", c.name, err, c.path)
		}
	}
	var n int
	if err := p.DB.QueryRow(ctx, `SELECT count(*) FROM orders WHERE customer_id = $1`, a.Enterprise.ID).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d orders written by refused input (%v)", n, err)
	}
}

func decimalPtr(s string) *decimal.Decimal {
	d := decimal.RequireFromString(s)
	return &d
}
