package activities_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/leasing"
	"github.com/masscustom/orchestrator/services/orders"
	"github.com/masscustom/orchestrator/services/production"
)

// TestFinishedProductionChargesTheFactorysLeasedEquipmentUsageAtOnce guards
// instant settlement from production: the usage of machines leased to the
// factory while the job ran is charged once, when the job ends.
func TestFinishedProductionChargesTheFactorysLeasedEquipmentUsageAtOnce(t *testing.T) {
	p := testenv.Platform(t)
	ctx := context.Background()
	if err := p.Catalog.EnsureSeeded(ctx, catalog.SeedTemplates()); err != nil {
		t.Fatal(err)
	}
	customer := testenv.Account(t, p, identity.KindCustomer, identity.RoleMember)
	factory := testenv.Account(t, p, identity.KindFactory, identity.RoleAdmin)
	lessor := testenv.Account(t, p, identity.KindLessor, identity.RoleAdmin)
	cp := &identity.Principal{UserID: customer.User.ID, EnterpriseID: customer.Enterprise.ID, Kind: identity.KindCustomer, Role: identity.RoleMember}

	page, err := p.Catalog.Latest(ctx, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	var tpl *catalog.Stored
	for i := range page.Items {
		if page.Items[i].Code == "AC-SPLIT" {
			tpl = &page.Items[i]
		}
	}
	capacity := decimal.RequireFromString("3.5")
	o, _, err := p.Orders.Place(ctx, cp, orders.PlaceInput{IdempotencyKey: "lease-" + testenv.Suffix(), TemplateID: &tpl.UUID,
		Selections: []catalog.Selection{{Option: "capacity", Number: &capacity}}, Quantity: 1,
		ShippingAddress: orders.Address{Recipient: "Zhang Min", Line1: "88 Haier Road", City: "Qingdao", PostalCode: "266101", Country: "CN"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range o.Result.Routing {
		if _, err := p.Production.SetCapability(ctx, identity.System, factory.Enterprise.ID, st.WorkCentreKind, 480); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { // the stack is shared: do not compete for others' orders
		for _, st := range o.Result.Routing {
			_, _ = p.Production.SetCapability(context.Background(), identity.System, factory.Enterprise.ID, st.WorkCentreKind, 0)
		}
	})
	po, _, err := p.Production.Assign(ctx, production.AssignInput{OrderID: o.ID, Key: "production", Quantity: 1, Stages: o.Result.Routing,
		ScrapTolerance: decimal.RequireFromString("0.05"), Candidates: []uuid.UUID{factory.Enterprise.ID}})
	if err != nil {
		t.Fatal(err)
	}
	fp := &identity.Principal{UserID: factory.User.ID, EnterpriseID: factory.Enterprise.ID, Kind: identity.KindFactory, Role: identity.RoleAdmin}
	if _, err := p.Production.StartStage(ctx, fp, po.ID, po.Seqs()[0]); err != nil {
		t.Fatal(err)
	}

	// A machine leased to the factory, used during the job (and once before it).
	lp := &identity.Principal{UserID: lessor.User.ID, EnterpriseID: lessor.Enterprise.ID, Kind: identity.KindLessor, Role: identity.RoleAdmin}
	m, err := p.Leasing.RegisterEquipment(ctx, lp, lessor.Enterprise.ID, "VMC-"+testenv.Suffix(), "CNC_MILL", []leasing.Meter{leasing.MeterSpindleHours})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -1)
	c, err := p.Leasing.CreateContract(ctx, lp, leasing.Contract{LessorID: lessor.Enterprise.ID.String(), LesseeID: factory.Enterprise.ID.String(),
		EquipmentIDs: []string{m.ID.String()}, Currency: "CNY",
		Plans:       map[leasing.Meter]leasing.RatePlan{leasing.MeterSpindleHours: {Model: leasing.ModelPerUnit, UnitPrice: decimal.NewFromInt(60)}},
		CreditLimit: decimal.NewFromInt(100000), Period: leasing.BillingPeriod{Unit: leasing.PeriodMonthly, Anchor: leasing.AnchorCalendar},
		Start: start, End: start.AddDate(1, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	use := func(hours string, at time.Time) {
		per, err := leasing.PeriodAt(c.Terms, at)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.DB.Exec(ctx, `INSERT INTO usage_events (equipment_id, event_id, meter, value, at, seq, contract_id, period_key)
			VALUES ($1,$2,'spindle_hours',$3,$4,$5,$6,$7)`, m.ID, uuid.NewString(), hours, at, at.UnixNano(), c.ID, per.Key); err != nil {
			t.Fatal(err)
		}
	}
	use("5", start.Add(time.Hour)) // before the job: not this job's
	use("1.5", time.Now().UTC())   // during the job

	a := p.Activities()
	got, err := a.SettleProductionUsage(ctx, o.ID.String())
	if err != nil {
		t.Fatal(err)
	}
	if got.Invoices != 1 || got.Total != "90" {
		t.Fatalf("charged %+v, want one charge of 90 (1.5 h × 60)", got)
	}
	again, err := a.SettleProductionUsage(ctx, o.ID.String())
	if err != nil || again.Total != "90" {
		t.Fatalf("settling the same job again: %+v %v (want the same single charge)", again, err)
	}
	var charges int
	if err := p.DB.QueryRow(ctx, `SELECT count(*) FROM invoices WHERE contract_id = $1 AND kind = 'INSTANT'`, c.ID).Scan(&charges); err != nil || charges != 1 {
		t.Fatalf("%d instant charges, %v", charges, err)
	}
}
