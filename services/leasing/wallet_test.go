package leasing_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/leasing"
)

func (l *lease) eventTypes(t *testing.T) []string {
	t.Helper()
	rows, err := l.p.DB.Query(context.Background(), `SELECT type FROM lease_events WHERE contract_id = $1 ORDER BY seq`, l.contract.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// A wallet topped up ahead of usage pays each charge as it is issued; 80%
// and 100% used are announced once; once empty the lessee owes again, and
// the next top-up pays that first.
func TestAPrepaidWalletPaysChargesAndWarnsAt80And100Percent(t *testing.T) {
	l := newLease(t, func(c *leasing.Contract) { c.VATRatePercent = d("13") })
	ctx := context.Background()
	finance := testenv.Principal(testenv.Member(t, l.p, l.lessor.Enterprise, identity.RoleFinance))
	factory := testenv.Principal(l.factory)
	w, err := l.store.TopUpWallet(ctx, finance, l.contract.ID, d("1000"), "prepay-1")
	if err != nil || !w.Balance.Equal(d("1000")) || !w.UsedPercent.IsZero() {
		t.Fatalf("top-up: %+v, %v", w, err)
	}
	job := func(hours string, day int) {
		t.Helper()
		l.use(t, hours, jan(day, 8))
		if _, err := l.store.InstantSettle(ctx, factory, l.contract.ID, "job-"+uuid.NewString(), []uuid.UUID{l.machine.ID}, jan(day, 0), jan(day+1, 0)); err != nil {
			t.Fatal(err)
		}
	}
	wallet := func(balance, used, owed string) {
		t.Helper()
		w, err := l.store.WalletOf(ctx, l.contract)
		if err != nil {
			t.Fatal(err)
		}
		bal, err := l.store.Balance(ctx, l.contract)
		if err != nil {
			t.Fatal(err)
		}
		if !w.Balance.Equal(d(balance)) || !w.UsedPercent.Equal(d(used)) || !bal.Equal(d(owed)) {
			t.Fatalf("wallet %s (%s%% used), owed %s; want %s, %s%%, %s", w.Balance, w.UsedPercent, bal, balance, used, owed)
		}
		if s := l.ledgerSum(t); !s.IsZero() {
			t.Fatalf("ledger sums to %s", s)
		}
	}
	job("5", 5) // 500.00 + 65.00 VAT
	wallet("435", "56.5", "0")
	if n := count(l.eventTypes(t), leasing.EventWalletLow); n != 0 {
		t.Fatalf("warned at 56.5%%")
	}
	job("3", 6) // 339.00
	wallet("96", "90.4", "0")
	job("1", 7) // 113.00: 96.00 from the wallet, 17.00 owed
	wallet("0", "100", "17")
	if _, err := l.store.TopUpWallet(ctx, finance, l.contract.ID, d("1000"), "prepay-1"); err != nil {
		t.Fatal(err)
	}
	wallet("0", "100", "17") // the same reference is the same top-up
	evs := l.eventTypes(t)
	if count(evs, leasing.EventWalletLow) != 1 || count(evs, leasing.EventWalletEmpty) != 1 || count(evs, leasing.EventWalletToppedUp) != 1 {
		t.Fatalf("timeline %v: want one top-up, one 80%% and one empty", evs)
	}

	if _, err := l.store.TopUpWallet(ctx, finance, l.contract.ID, d("500"), "prepay-2"); err != nil {
		t.Fatal(err)
	}
	wallet("483", "67.8", "0") // the 17.00 owed paid first; 1,017 of 1,500 used
	job("2", 8)                // 226.00: 1,243 of 1,500 = 82.87%: warned again for this filling
	wallet("257", "82.87", "0")
	if n := count(l.eventTypes(t), leasing.EventWalletLow); n != 2 {
		t.Fatalf("%d 80%% warnings after a second filling crossed 80%%, want 2", n)
	}

	_, err = l.store.TopUpWallet(ctx, factory, l.contract.ID, d("100"), "self")
	if e, ok := errs.As(err); !ok || e.Code != errs.Forbidden {
		t.Fatalf("the lessee topping up its own wallet: %v", err)
	}
	_, err = l.store.TopUpWallet(ctx, finance, l.contract.ID, d("-5"), "neg")
	if e, ok := refusal(err); !ok || e.Code != errs.InvalidInput {
		t.Fatalf("a negative top-up: %v", err)
	}
}
