package genealogy_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/genealogy"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/registry"
)

// The journey's mints never fail the write they belong to on a suffix the
// enterprise took itself, and minting the same thing again finds it.
func TestJourneyMintsStepAroundTakenSuffixesAndFindWhatTheyMinted(t *testing.T) {
	p := testenv.Platform(t)
	ctx := context.Background()
	customer := testenv.Account(t, p, identity.KindCustomer, identity.RoleAdmin)
	supplier := testenv.Account(t, p, identity.KindSupplier, identity.RoleAdmin)
	order := testenv.PlaceOrder(t, p, customer)
	// The supplier took the journey's first 30 lot numbers for lots of its
	// own (more than a mint tries one by one), one of them in lower case.
	own := []string{"lot-0000001"}
	for n := 2; n <= 30; n++ {
		own = append(own, fmt.Sprintf("LOT-%07d", n))
	}
	if _, err := p.Registry.MintBatch(ctx, testenv.Principal(supplier), registry.BatchInput{Key: "own", Kind: registry.KindLot, Suffixes: own}); err != nil {
		t.Fatal(err)
	}
	ship := genealogy.LotShipment{TaskID: uuid.New(), OrderID: order, SupplierID: supplier.Enterprise.ID, Seq: 1,
		Material: "COMP-ROTARY", Quantity: decimal.NewFromInt(4), Unit: "pcs", At: time.Now()}
	lot := func() string {
		var h string
		if err := pgx.BeginFunc(ctx, p.DB, func(tx pgx.Tx) error {
			if err := p.Genealogy.LotShipped(ctx, tx, ship); err != nil {
				return err
			}
			return tx.QueryRow(ctx, `SELECT handle FROM handles WHERE owner_id = $1 AND mint_key = $2`, supplier.Enterprise.ID, "lot:"+ship.TaskID.String()+":1").Scan(&h)
		}); err != nil {
			t.Fatal(err)
		}
		return h
	}
	first := lot()
	if !strings.HasSuffix(first, "/LOT-0000031") {
		t.Fatalf("the shipped lot is %s, want the first free number, 31", first)
	}
	if again := lot(); again != first {
		t.Fatalf("the same shipment again minted %s, want %s", again, first)
	}
	var events int
	if err := p.DB.QueryRow(ctx, `SELECT count(*) FROM epcis_events WHERE order_id = $1`, order).Scan(&events); err != nil || events != 2 {
		t.Fatalf("%d events for the shipment (commissioning and shipping), %v", events, err)
	}

	// Two machines whose serials differ in case only get two identifiers.
	lessor := testenv.Account(t, p, identity.KindLessor, identity.RoleAdmin)
	var a, b string
	if err := pgx.BeginFunc(ctx, p.DB, func(tx pgx.Tx) error {
		var err error
		if a, err = p.Genealogy.Equipment(ctx, tx, uuid.New(), lessor.Enterprise.ID, "vmc-"+testenv.Suffix(), "CNC_MILL"); err != nil {
			return err
		}
		b, err = p.Genealogy.Equipment(ctx, tx, uuid.New(), lessor.Enterprise.ID, strings.ToUpper(strings.SplitN(a, "/EQ-", 2)[1]), "CNC_MILL")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if strings.EqualFold(a, b) || !strings.HasPrefix(strings.ToLower(b), strings.ToLower(a)+"-") {
		t.Fatalf("machines %s and %s", a, b)
	}
}
