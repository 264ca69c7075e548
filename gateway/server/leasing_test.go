package server_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/masscustom/orchestrator/graph"
	"github.com/masscustom/orchestrator/internal/pdftext"
	"github.com/masscustom/orchestrator/internal/platform"
	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/leasing"
	"github.com/masscustom/orchestrator/workflows"
)

type leaseFixture struct {
	url                      string
	lessor, factory, finance identity.Account
	machineID, contractID    string
}

// leaseOverGraphQL registers a machine and leases it to a factory through
// the API; extra terms (a VAT rate, say) are merged into the contract's.
func leaseOverGraphQL(t *testing.T, extra ...map[string]any) leaseFixture {
	t.Helper()
	url, _, _ := orderStack(t)
	p := testenv.Platform(t)
	f := leaseFixture{url: url}
	f.lessor = testenv.Account(t, p, identity.KindLessor, identity.RoleMember)
	f.finance = testenv.Member(t, p, f.lessor.Enterprise, identity.RoleFinance)
	f.factory = testenv.Account(t, p, identity.KindFactory, identity.RoleAdmin)
	lessor := testenv.Client{URL: url, Token: f.lessor.Secret}

	var reg struct {
		Equipment *struct{ ID string }
		Errors    []struct{ Code, Message string }
	}
	lessor.Do(t, `mutation($in: RegisterEquipmentInput!) { registerEquipment(input: $in) { equipment { id } errors { code message } } }`,
		map[string]any{"in": map[string]any{"lessorId": graph.GlobalID("Enterprise", f.lessor.Enterprise.ID), "serial": "VMC-" + testenv.Suffix(),
			"kind": "CNC_MILL", "meters": []string{"spindle_hours", "parts"}}}).Into(t, "registerEquipment", &reg)
	if reg.Equipment == nil {
		t.Fatalf("registerEquipment: %+v", reg.Errors)
	}
	f.machineID = reg.Equipment.ID

	start := time.Now().UTC().Truncate(24 * time.Hour)
	var created struct {
		Contract *struct {
			ID     string
			Number int
		}
		Errors []struct {
			Code    string
			Field   []string
			Message string
		}
	}
	terms := map[string]any{
		"lessorId": graph.GlobalID("Enterprise", f.lessor.Enterprise.ID), "lesseeId": graph.GlobalID("Enterprise", f.factory.Enterprise.ID),
		"equipmentIds": []string{f.machineID}, "currency": "CNY",
		"plans":             map[string]any{"spindle_hours": map[string]any{"model": "PER_UNIT", "unitPrice": "80"}},
		"minimumCommitment": "0", "platformFeePercent": "5", "deposit": "0", "creditLimit": "500",
		"period": map[string]any{"unit": "MONTHLY", "anchor": "CALENDAR"},
		"start":  start.Format(time.RFC3339), "end": start.AddDate(1, 0, 0).Format(time.RFC3339),
	}
	for _, e := range extra {
		maps.Copy(terms, e)
	}
	lessor.Do(t, `mutation($in: CreateLeaseContractInput!) { createLeaseContract(input: $in) { contract { id number } errors { code field message } } }`,
		map[string]any{"in": map[string]any{"terms": terms}}).Into(t, "createLeaseContract", &created)
	if created.Contract == nil {
		t.Fatalf("createLeaseContract: %+v", created.Errors)
	}
	f.contractID = created.Contract.ID
	return f
}

func TestLeaseThroughGraphQLFromRegistrationToPayment(t *testing.T) {
	f := leaseOverGraphQL(t, map[string]any{"vatRatePercent": "13"})
	p := testenv.Platform(t)
	ctx := context.Background()
	_, cid, _ := graph.ParseGlobalID(f.contractID)
	_, mid, _ := graph.ParseGlobalID(f.machineID)

	// The contract's settlement workflow runs.
	desc, err := p.Temporal.DescribeWorkflowExecution(ctx, workflows.LeaseWorkflowID(cid.String()), "")
	if err != nil || desc.WorkflowExecutionInfo.Status.String() != "Running" {
		t.Fatalf("lease workflow: %v %v", desc, err)
	}

	// Usage from the machine (stored as ingestion stores it), then the factory settles its job at once.
	store := leasing.NewStore(p.DB, p.Cache)
	c, err := store.ContractByID(ctx, cid)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Add(-30 * time.Minute)
	per, err := leasing.PeriodAt(c.Terms, at)
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range []string{"4", "3.5"} {
		if _, err := p.DB.Exec(ctx, `INSERT INTO usage_events (equipment_id, event_id, meter, value, at, seq, contract_id, period_key)
			VALUES ($1,$2,'spindle_hours',$3,$4,$5,$6,$7)`, mid, uuid.NewString(), h, at.Add(time.Duration(i)*time.Minute), i+1, cid, per.Key); err != nil {
			t.Fatal(err)
		}
	}
	factory := testenv.Client{URL: f.url, Token: f.factory.Secret}
	settle := `mutation($in: SettleUsageNowInput!) { settleUsageNow(input: $in) {
		invoice { number kind total vatRatePercent tax gross platformFee lessorShare lines { kind meter quantity amount tax gross } }
		errors { code message } } }`
	in := map[string]any{"contractId": f.contractID, "jobKey": "job-" + testenv.Suffix(), "equipmentIds": []string{f.machineID},
		"from": at.Add(-time.Minute).Format(time.RFC3339), "to": time.Now().UTC().Format(time.RFC3339)}
	var settled struct {
		Invoice *struct {
			Number                     int
			Kind, Total, PlatformFee   string
			VatRatePercent, Tax, Gross string
			LessorShare                string
			Lines                      []struct{ Amount, Tax, Gross string }
		}
		Errors []struct{ Code, Message string }
	}
	factory.Do(t, settle, map[string]any{"in": in}).Into(t, "settleUsageNow", &settled)
	// 7.5 h × 80.00 = 600.00 net; 5 % fee = 30.00; 13 % VAT = 78.00.
	if settled.Invoice == nil || settled.Invoice.Kind != "INSTANT" || settled.Invoice.Total != "600" || settled.Invoice.PlatformFee != "30" || settled.Invoice.LessorShare != "570" {
		t.Fatalf("settleUsageNow: %+v", settled)
	}
	if inv := settled.Invoice; inv.VatRatePercent != "13" || inv.Tax != "78" || inv.Gross != "678" ||
		len(inv.Lines) != 1 || inv.Lines[0].Amount != "600" || inv.Lines[0].Tax != "78" || inv.Lines[0].Gross != "678" {
		t.Fatalf("VAT of the charge: %+v", inv)
	}

	// Over the 500.00 credit limit: the machine is locked, the factory sees it.
	var seen struct {
		Balance   string
		Equipment []struct{ Locked bool }
		Timeline  []struct{ Type string }
		Ledger    []struct{ Amount string }
		Usage     []struct {
			Meter, Quantity string
			Events          int
		}
	}
	query := `query($id: ID!) { node(id: $id) { ... on LeaseContract { balance equipment { locked } timeline { type } ledger { amount } usage { meter quantity events } } } }`
	factory.Do(t, query, map[string]any{"id": f.contractID}).Into(t, "node", &seen)
	if seen.Balance != "678" || len(seen.Equipment) != 1 || !seen.Equipment[0].Locked {
		t.Fatalf("after the charge: %+v", seen)
	}
	if len(seen.Usage) != 1 || seen.Usage[0].Quantity != "7.5" || seen.Usage[0].Events != 2 {
		t.Fatalf("usage summary: %+v", seen.Usage)
	}
	if len(seen.Timeline) < 2 || seen.Timeline[len(seen.Timeline)-1].Type != "EQUIPMENT_LOCKED" {
		t.Fatalf("lease timeline: %+v", seen.Timeline)
	}

	// The factory cannot record its own payment; the lessor's finance staff can.
	pay := `mutation($in: RecordPaymentInput!) { recordPayment(input: $in) { contract { balance equipment { locked } } errors { code message } } }`
	var refused struct{ Errors []struct{ Code string } }
	factory.Do(t, pay, map[string]any{"in": map[string]any{"contractId": f.contractID, "amount": "200", "reference": "x"}}).Into(t, "recordPayment", &refused)
	if len(refused.Errors) != 1 || refused.Errors[0].Code != "FORBIDDEN" {
		t.Fatalf("factory payment: %+v", refused)
	}
	var paid struct {
		Contract *struct {
			Balance   string
			Equipment []struct{ Locked bool }
		}
		Errors []struct{ Code, Message string }
	}
	testenv.Client{URL: f.url, Token: f.finance.Secret}.Do(t, pay, map[string]any{"in": map[string]any{"contractId": f.contractID, "amount": "200.00", "reference": "wire-" + testenv.Suffix()}}).Into(t, "recordPayment", &paid)
	if paid.Contract == nil || paid.Contract.Balance != "478" || paid.Contract.Equipment[0].Locked {
		t.Fatalf("payment: %+v", paid)
	}
}

func TestLeasesAreVisibleOnlyToTheirParties(t *testing.T) {
	f := leaseOverGraphQL(t)
	p := testenv.Platform(t)
	otherFactory := testenv.Account(t, p, identity.KindFactory, identity.RoleAdmin)
	otherLessor := testenv.Account(t, p, identity.KindLessor, identity.RoleAdmin)
	customer := testenv.Account(t, p, identity.KindCustomer, identity.RoleAdmin)
	for _, c := range []struct {
		name string
		acc  identity.Account
		sees bool
	}{
		{"the lessor", f.lessor, true}, {"the lessee", f.factory, true}, {"the lessor's finance", f.finance, true},
		{"another factory", otherFactory, false}, {"another lessor", otherLessor, false}, {"a customer", customer, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := testenv.Client{URL: f.url, Token: c.acc.Secret}.Do(t, `query($c: ID!, $m: ID!) { c: node(id: $c) { id } m: node(id: $m) { id } }`,
				map[string]any{"c": f.contractID, "m": f.machineID})
			sees := string(r.Data["c"]) != "null" && string(r.Data["m"]) != "null"
			if sees != c.sees {
				t.Fatalf("sees = %v, want %v (%s %s %+v)", sees, c.sees, r.Data["c"], r.Data["m"], r.Errors)
			}
		})
	}
	// Nobody but the lessor registers its machines or contracts.
	var reg struct{ Errors []struct{ Code string } }
	testenv.Client{URL: f.url, Token: f.factory.Secret}.Do(t, `mutation($in: RegisterEquipmentInput!) { registerEquipment(input: $in) { errors { code } } }`,
		map[string]any{"in": map[string]any{"lessorId": graph.GlobalID("Enterprise", f.lessor.Enterprise.ID), "serial": "X-" + testenv.Suffix(), "kind": "CNC_MILL", "meters": []string{"parts"}}}).Into(t, "registerEquipment", &reg)
	if len(reg.Errors) != 1 || reg.Errors[0].Code != "FORBIDDEN" {
		t.Fatalf("factory registering the lessor's machine: %+v", reg)
	}
}

func TestBadLeaseInputIsRefusedAndWritesNothing(t *testing.T) {
	f := leaseOverGraphQL(t)
	lessor := testenv.Client{URL: f.url, Token: f.lessor.Secret}
	var created struct {
		Contract *struct{ ID string }
		Errors   []struct {
			Code  string
			Field []string
		}
	}
	// The machine is already leased for that time; the fee and the VAT rate are out of range; the end precedes the start.
	start := time.Now().UTC().Truncate(24 * time.Hour)
	lessor.Do(t, `mutation($in: CreateLeaseContractInput!) { createLeaseContract(input: $in) { contract { id } errors { code field } } }`,
		map[string]any{"in": map[string]any{"terms": map[string]any{
			"lessorId": graph.GlobalID("Enterprise", f.lessor.Enterprise.ID), "lesseeId": graph.GlobalID("Enterprise", f.factory.Enterprise.ID),
			"equipmentIds": []string{f.machineID}, "currency": "CNY",
			"plans":             map[string]any{"spindle_hours": map[string]any{"model": "PER_UNIT", "unitPrice": "-1"}},
			"minimumCommitment": "0", "platformFeePercent": "150", "vatRatePercent": "-13", "deposit": "0", "creditLimit": "500",
			"period": map[string]any{"unit": "MONTHLY", "anchor": "CALENDAR"},
			"start":  start.Format(time.RFC3339), "end": start.AddDate(0, 0, -1).Format(time.RFC3339),
		}}}).Into(t, "createLeaseContract", &created)
	if created.Contract != nil || len(created.Errors) < 4 {
		t.Fatalf("bad contract: %+v", created)
	}
	for _, e := range created.Errors {
		if e.Code != "INVALID_INPUT" {
			t.Fatalf("bad contract error %+v", e)
		}
	}
	var n int
	p := testenv.Platform(t)
	if err := p.DB.QueryRow(context.Background(), `SELECT count(*) FROM lease_contracts WHERE lessor_id = $1`, f.lessor.Enterprise.ID).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d contracts of the lessor (want only the good one), %v", n, err)
	}
}

func TestReportUsageThroughGraphQLStoresValidEventsAndRefusesEachBadOneWithItsReason(t *testing.T) {
	f := leaseOverGraphQL(t)
	lessor := testenv.Client{URL: f.url, Token: f.lessor.Secret}
	at := time.Now().UTC().Add(-10 * time.Minute)
	events := []map[string]any{
		{"eventId": "e1", "equipmentId": f.machineID, "meter": "spindle_hours", "value": "1.25", "at": at.Format(time.RFC3339), "seq": 1},
		{"eventId": "e2", "equipmentId": f.machineID, "meter": "parts", "value": "3", "at": at.Add(time.Minute).Format(time.RFC3339), "seq": 2},
		{"eventId": "e3", "equipmentId": f.machineID, "meter": "energy_kwh", "value": "2", "at": at.Add(2 * time.Minute).Format(time.RFC3339), "seq": 3},
		{"eventId": "e4", "equipmentId": f.machineID, "meter": "parts", "value": "1.5", "at": at.Add(3 * time.Minute).Format(time.RFC3339), "seq": 4},
		{"eventId": "e5", "equipmentId": f.machineID, "meter": "parts", "value": "1", "at": time.Now().UTC().Add(time.Hour).Format(time.RFC3339), "seq": 5},
	}
	report := func() (out struct {
		Accepted, Duplicates, Late int
		Refused                    []struct {
			Index         int
			EventID, Code string
		}
		Errors []struct{ Code string }
	}) {
		lessor.Do(t, `mutation($in: ReportUsageInput!) { reportUsage(input: $in) { accepted duplicates late refused { index eventId code } errors { code } } }`,
			map[string]any{"in": map[string]any{"events": events}}).Into(t, "reportUsage", &out)
		return out
	}
	first := report()
	codes := map[string]string{}
	for _, r := range first.Refused {
		codes[r.EventID] = r.Code
	}
	if first.Accepted != 2 || codes["e3"] != "UNKNOWN_METER" || codes["e4"] != "MALFORMED_VALUE" || codes["e5"] != "IN_FUTURE" {
		t.Fatalf("first batch: %+v", first)
	}
	again := report()
	if again.Accepted != 0 || again.Duplicates != 2 || len(again.Refused) != 3 {
		t.Fatalf("repeated batch: %+v", again)
	}
	// A factory is no machine's reporter.
	var refused struct{ Errors []struct{ Code string } }
	testenv.Client{URL: f.url, Token: f.factory.Secret}.Do(t, `mutation($in: ReportUsageInput!) { reportUsage(input: $in) { errors { code } } }`,
		map[string]any{"in": map[string]any{"events": events[:1]}}).Into(t, "reportUsage", &refused)
	if len(refused.Errors) != 1 || refused.Errors[0].Code != "FORBIDDEN" {
		t.Fatalf("factory reporting usage: %+v", refused)
	}
}

// leaseDB is a fixture's contract as the tests feed it directly: readings
// stored as ingestion stores them, and the store the workflow's activities use.
type leaseDB struct {
	t        *testing.T
	p        *platform.Platform
	store    *leasing.Store
	c        *leasing.StoredContract
	cid, mid uuid.UUID
}

func (f leaseFixture) db(t *testing.T) *leaseDB {
	t.Helper()
	p := testenv.Platform(t)
	_, cid, _ := graph.ParseGlobalID(f.contractID)
	_, mid, _ := graph.ParseGlobalID(f.machineID)
	store := leasing.NewStore(p.DB, p.Cache)
	c, err := store.ContractByID(context.Background(), cid)
	if err != nil {
		t.Fatal(err)
	}
	return &leaseDB{t: t, p: p, store: store, c: c, cid: cid, mid: mid}
}

// record stores a spindle-hours reading of the machine at at (a random event
// id when eventID is empty) and returns its period's key.
func (l *leaseDB) record(eventID, hours string, at time.Time) string {
	l.t.Helper()
	per, err := leasing.PeriodAt(l.c.Terms, at)
	if err != nil {
		l.t.Fatal(err)
	}
	if eventID == "" {
		eventID = uuid.NewString()
	}
	if _, err := l.p.DB.Exec(context.Background(), `INSERT INTO usage_events (equipment_id, event_id, meter, value, at, seq, contract_id, period_key)
		VALUES ($1,$2,'spindle_hours',$3,$4,$5,$6,$7)`, l.mid, eventID, hours, at, at.UnixNano(), l.cid, per.Key); err != nil {
		l.t.Fatal(err)
	}
	return per.Key
}

// settleJob records hours an hour ago (or when the contract started, if that
// is later) and charges them at once, as the factory.
func (l *leaseDB) settleJob(f leaseFixture, hours string) {
	l.t.Helper()
	at := time.Now().UTC().Add(-time.Hour)
	if at.Before(l.c.Terms.Start) { // in the first hour of the day the contract started
		at = l.c.Terms.Start
	}
	l.record("", hours, at)
	if _, err := l.store.InstantSettle(context.Background(), testenv.Principal(f.factory), l.cid, "job-"+testenv.Suffix(),
		[]uuid.UUID{l.mid}, at.Add(-time.Minute), time.Now().UTC()); err != nil {
		l.t.Fatal(err)
	}
}

// A period closed into a draft (as the lease workflow closes it) is shown as
// DRAFT with its review's end; the lessee may not end the review, the
// lessor's finance may, which rates the late usage into it and posts it; a
// second finalization is ILLEGAL_STATE and changes nothing.
func TestFinanceFinalizesADraftInvoiceThroughGraphQL(t *testing.T) {
	f := leaseOverGraphQL(t)
	l := f.db(t)
	ctx := context.Background()
	at := l.c.Terms.Start.Add(time.Hour)
	l.record("", "2", at)
	draft, err := l.store.DraftPeriod(ctx, l.cid, at, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	l.record("", "1", at.Add(time.Hour)) // late, during the review
	gid := graph.GlobalID("Invoice", draft.ID)

	type invoice struct {
		Status, Total string
		ReviewUntil   *time.Time
		FinalizedAt   *time.Time
	}
	var shown invoice
	testenv.Client{URL: f.url, Token: f.factory.Secret}.Do(t, `query($id: ID!) { node(id: $id) { ... on Invoice { status total reviewUntil finalizedAt } } }`,
		map[string]any{"id": gid}).Into(t, "node", &shown)
	if shown.Status != "DRAFT" || shown.Total != "160" || shown.ReviewUntil == nil || shown.FinalizedAt != nil {
		t.Fatalf("the draft as the lessee sees it: %+v", shown)
	}
	finalize := `mutation($in: FinalizeInvoiceInput!) { finalizeInvoice(input: $in) { invoice { status total finalizedAt } errors { code field message } } }`
	type payload struct {
		Invoice *invoice
		Errors  []struct {
			Code    string
			Field   []string
			Message string
		}
	}
	var refused payload
	testenv.Client{URL: f.url, Token: f.factory.Secret}.Do(t, finalize, map[string]any{"in": map[string]any{"invoiceId": gid}}).Into(t, "finalizeInvoice", &refused)
	if refused.Invoice != nil || len(refused.Errors) != 1 || refused.Errors[0].Code != "FORBIDDEN" {
		t.Fatalf("the lessee finalizing: %+v", refused)
	}
	var bad payload
	testenv.Client{URL: f.url, Token: f.finance.Secret}.Do(t, finalize, map[string]any{"in": map[string]any{"invoiceId": f.contractID}}).Into(t, "finalizeInvoice", &bad)
	if bad.Invoice != nil || len(bad.Errors) != 1 || bad.Errors[0].Code == "" || strings.Join(bad.Errors[0].Field, ".") != "input.invoiceId" {
		t.Fatalf("a contract's id as the invoice: %+v", bad)
	}
	var done payload
	testenv.Client{URL: f.url, Token: f.finance.Secret}.Do(t, finalize, map[string]any{"in": map[string]any{"invoiceId": gid}}).Into(t, "finalizeInvoice", &done)
	if done.Invoice == nil || done.Invoice.Status != "FINALIZED" || done.Invoice.Total != "240" || done.Invoice.FinalizedAt == nil {
		t.Fatalf("finance finalizing: %+v", done)
	}
	var again payload
	testenv.Client{URL: f.url, Token: f.finance.Secret}.Do(t, finalize, map[string]any{"in": map[string]any{"invoiceId": gid}}).Into(t, "finalizeInvoice", &again)
	if again.Invoice != nil || len(again.Errors) != 1 || again.Errors[0].Code != "ILLEGAL_STATE" {
		t.Fatalf("finalizing twice: %+v", again)
	}
	var balance struct{ Balance string }
	testenv.Client{URL: f.url, Token: f.factory.Secret}.Do(t, `query($id: ID!) { node(id: $id) { ... on LeaseContract { balance } } }`,
		map[string]any{"id": f.contractID}).Into(t, "node", &balance)
	if balance.Balance != "240" {
		t.Fatalf("balance after finalizing %s, want 240", balance.Balance)
	}
}

// get fetches a document from the gateway with a bearer token ("" for none).
func get(t *testing.T, base, path, token string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

// The invoice's PDF and the period's usage CSV are served to the contract's
// parties under their own tokens, and to nobody else.
func TestInvoicePDFAndUsageCSVGoToTheContractsPartiesOnly(t *testing.T) {
	f := leaseOverGraphQL(t, map[string]any{"vatRatePercent": "13"})
	l := f.db(t)
	p, ctx, mid := l.p, context.Background(), l.mid
	at := l.c.Terms.Start.Add(time.Hour)
	per := struct{ Key string }{l.record("", "2", at)}
	l.record("", "1.5", at.Add(time.Minute))
	inv, err := l.store.ClosePeriod(ctx, l.cid, at)
	if err != nil {
		t.Fatal(err)
	}
	var shown struct{ DocumentURL string }
	testenv.Client{URL: f.url, Token: f.factory.Secret}.Do(t, `query($id: ID!) { node(id: $id) { ... on Invoice { documentUrl } } }`,
		map[string]any{"id": graph.GlobalID("Invoice", inv.ID)}).Into(t, "node", &shown)
	base := strings.TrimSuffix(f.url, "/graphql")
	if shown.DocumentURL != "/invoices/"+graph.GlobalID("Invoice", inv.ID)+".pdf" {
		t.Fatalf("documentUrl %q", shown.DocumentURL)
	}
	for _, tok := range []string{f.factory.Secret, f.lessor.Secret, f.finance.Secret} {
		res, body := get(t, base, shown.DocumentURL, tok)
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/pdf" {
			t.Fatalf("invoice pdf: %d %s %.200s", res.StatusCode, res.Header.Get("Content-Type"), body)
		}
		text, err := pdftext.Compact(body)
		if err != nil {
			t.Fatal(err)
		}
		// 3.5 h × 80.00 = 280.00 net, 36.40 VAT, 316.40 gross.
		for _, want := range []string{fmt.Sprintf("Invoice%d", inv.Number), "Grosstotal(due)316.40CNY", "VAT13%36.40CNY", pdftext.Squeeze(f.lessor.Enterprise.Name)} {
			if !strings.Contains(text, want) {
				t.Errorf("the invoice PDF lacks %q: %s", want, text)
			}
		}
	}
	stranger := testenv.Account(t, p, identity.KindFactory, identity.RoleAdmin)
	csvPath := "/leases/" + f.contractID + "/usage/" + per.Key + ".csv"
	for _, tc := range []struct {
		name, path, token string
		status            int
		code              string
	}{
		{"another enterprise's invoice", shown.DocumentURL, stranger.Secret, http.StatusNotFound, "NOT_FOUND"},
		{"no token", shown.DocumentURL, "", http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"a contract's id as an invoice", "/invoices/" + f.contractID + ".pdf", f.factory.Secret, http.StatusNotFound, "NOT_FOUND"},
		{"not a pdf", "/invoices/" + graph.GlobalID("Invoice", inv.ID) + ".docx", f.factory.Secret, http.StatusNotFound, "NOT_FOUND"},
		{"another enterprise's usage", csvPath, stranger.Secret, http.StatusNotFound, "NOT_FOUND"},
		{"a period that is no key", "/leases/" + f.contractID + "/usage/last-month.csv", f.factory.Secret, http.StatusBadRequest, "INVALID_INPUT"},
	} {
		res, body := get(t, base, tc.path, tc.token)
		if res.StatusCode != tc.status || !strings.Contains(string(body), `"code":"`+tc.code+`"`) {
			t.Errorf("%s: %d %s, want %d %s", tc.name, res.StatusCode, body, tc.status, tc.code)
		}
	}
	res, body := get(t, base, csvPath, f.factory.Secret)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("usage csv: %d %s", res.StatusCode, body)
	}
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("usage csv rows %v, %v", rows, err)
	}
	got := map[string]string{}
	for i, h := range rows[0] {
		got[h] = rows[1][i]
	}
	if got["meter"] != "spindle_hours" || got["quantity"] != "3.5" || got["readings"] != "2" || got["billed_readings"] != "2" ||
		got["equipment_id"] != mid.String() || got["period"] != per.Key || got["aggregation"] != "SUM" {
		t.Fatalf("usage csv row %v", got)
	}
}

// The lessor's finance voids a reading of a final period through GraphQL: a
// credit note comes back and shows on the invoice; the lessee may not correct
// usage, and a malformed machine id is refused on its path.
func TestFinanceCorrectsUsageThroughGraphQLAndGetsACreditNote(t *testing.T) {
	f := leaseOverGraphQL(t, map[string]any{"vatRatePercent": "13"})
	l := f.db(t)
	at := l.c.Terms.Start.Add(time.Hour)
	ids := []string{"reading-" + testenv.Suffix(), "reading-" + testenv.Suffix()}
	l.record(ids[0], "2", at)
	l.record(ids[1], "1", at.Add(time.Minute))
	inv, err := l.store.ClosePeriod(context.Background(), l.cid, at)
	if err != nil {
		t.Fatal(err)
	}
	correct := `mutation($in: CorrectUsageInput!) { correctUsage(input: $in) {
		voided added repeated notes { number kind invoiceNumber total tax gross lines { amount tax } } errors { code field message } } }`
	type payload struct {
		Voided, Added int
		Repeated      bool
		Notes         []struct {
			Number, InvoiceNumber   int
			Kind, Total, Tax, Gross string
		}
		Errors []struct {
			Code  string
			Field []string
		}
	}
	in := map[string]any{"contractId": f.contractID, "key": "fix-" + testenv.Suffix(), "reason": "a test cut, not production",
		"voids": []map[string]any{{"equipmentId": f.machineID, "eventId": ids[1]}}}
	var refused payload
	testenv.Client{URL: f.url, Token: f.factory.Secret}.Do(t, correct, map[string]any{"in": in}).Into(t, "correctUsage", &refused)
	if len(refused.Errors) != 1 || refused.Errors[0].Code != "FORBIDDEN" || len(refused.Notes) != 0 {
		t.Fatalf("the lessee correcting: %+v", refused)
	}
	bad := map[string]any{"contractId": f.contractID, "key": "bad", "reason": "x", "voids": []map[string]any{{"equipmentId": "nope", "eventId": ids[1]}}}
	var malformed payload
	testenv.Client{URL: f.url, Token: f.finance.Secret}.Do(t, correct, map[string]any{"in": bad}).Into(t, "correctUsage", &malformed)
	if len(malformed.Errors) != 1 || malformed.Errors[0].Code != "INVALID_INPUT" || strings.Join(malformed.Errors[0].Field, ".") != "input.voids.0.equipmentId" {
		t.Fatalf("a malformed machine id: %+v", malformed)
	}
	var done payload
	testenv.Client{URL: f.url, Token: f.finance.Secret}.Do(t, correct, map[string]any{"in": in}).Into(t, "correctUsage", &done)
	// 1 h × 80.00 off: -80.00 net, -10.40 VAT.
	if len(done.Errors) != 0 || done.Voided != 1 || len(done.Notes) != 1 || done.Notes[0].Kind != "CREDIT" ||
		done.Notes[0].InvoiceNumber != int(inv.Number) || done.Notes[0].Total != "-80" || done.Notes[0].Tax != "-10.4" || done.Notes[0].Gross != "-90.4" {
		t.Fatalf("finance correcting: %+v", done)
	}
	var shown struct {
		Gross string
		Notes []struct {
			Number      int
			DocumentURL string
		}
	}
	testenv.Client{URL: f.url, Token: f.factory.Secret}.Do(t, `query($id: ID!) { node(id: $id) { ... on Invoice { gross notes { number documentUrl } } } }`,
		map[string]any{"id": graph.GlobalID("Invoice", inv.ID)}).Into(t, "node", &shown)
	if shown.Gross != "271.2" || len(shown.Notes) != 1 || shown.Notes[0].Number != done.Notes[0].Number {
		t.Fatalf("the invoice as the lessee sees it: %+v", shown)
	}
	// The note as a PDF: for the lessee, not for another enterprise.
	base := strings.TrimSuffix(f.url, "/graphql")
	res, body := get(t, base, shown.Notes[0].DocumentURL, f.factory.Secret)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("note pdf %s: %d %.200s", shown.Notes[0].DocumentURL, res.StatusCode, body)
	}
	text, err := pdftext.Compact(body)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{fmt.Sprintf("Creditnote%d", done.Notes[0].Number), fmt.Sprintf("invoice%d,period", inv.Number),
		"atestcut,notproduction", "Grosscredited-90.40CNY", "standsat160.00CNYnet,20.80VAT,180.80gross"} {
		if !strings.Contains(text, want) {
			t.Errorf("the note PDF lacks %q: %s", want, text)
		}
	}
	stranger := testenv.Account(t, l.p, identity.KindFactory, identity.RoleAdmin)
	if res, body := get(t, base, shown.Notes[0].DocumentURL, stranger.Secret); res.StatusCode != http.StatusNotFound {
		t.Fatalf("another enterprise's note: %d %s", res.StatusCode, body)
	}
	if res, _ := get(t, base, "/notes/"+graph.GlobalID("Invoice", inv.ID)+".pdf", f.factory.Secret); res.StatusCode != http.StatusNotFound {
		t.Fatalf("an invoice's id as a note: %d", res.StatusCode)
	}
	var again payload
	testenv.Client{URL: f.url, Token: f.finance.Secret}.Do(t, correct, map[string]any{"in": in}).Into(t, "correctUsage", &again)
	if !again.Repeated || len(again.Notes) != 1 || again.Notes[0].Number != done.Notes[0].Number {
		t.Fatalf("the same key again: %+v", again)
	}
}

// leaseEventOn reads the next leaseEvents message of operation 1.
func leaseEventOn(t *testing.T, ws *testenv.WS) (seq int, typ string) {
	t.Helper()
	m, err := ws.Read(readCtx(t))
	if err != nil {
		t.Fatalf("waiting for a lease event: %v", err)
	}
	var p struct {
		Data struct {
			LeaseEvents *struct {
				Seq  int
				Type string
			} `json:"leaseEvents"`
		} `json:"data"`
		Errors []json.RawMessage `json:"errors"`
	}
	if m.Type != "next" || json.Unmarshal(m.Payload, &p) != nil || p.Data.LeaseEvents == nil || len(p.Errors) > 0 {
		t.Fatalf("got %s %s, want one lease event", m.Type, m.Payload)
	}
	return p.Data.LeaseEvents.Seq, p.Data.LeaseEvents.Type
}

// The factory follows its lease live: the invoice that takes its balance
// past 80% of the credit limit, the warning, then the lock when it goes over;
// resubscribing after the last seq it saw gives it only what followed. A
// stranger cannot subscribe.
func TestTheLesseeFollowsItsLeaseLiveAndIsWarnedBeforeTheLock(t *testing.T) {
	f := leaseOverGraphQL(t)
	p := testenv.Platform(t)
	const sub = `subscription($id: ID!, $after: Int) { leaseEvents(contractId: $id, after: $after) { seq type } }`
	open := func(token string, after int) *testenv.WS {
		ws := testenv.DialWS(readCtx(t), t, f.url)
		if ack, err := ws.Init(readCtx(t), token); err != nil || ack.Type != "connection_ack" {
			t.Fatalf("connection_init: %+v, %v", ack, err)
		}
		if err := ws.Subscribe(readCtx(t), "1", sub, map[string]any{"id": f.contractID, "after": after}); err != nil {
			t.Fatal(err)
		}
		return ws
	}
	ws := open(f.factory.Secret, 0)
	defer ws.Close()

	l := f.db(t)
	l.settleJob(f, "5") // 400.00 of a 500.00 limit: 80%
	_, typ1 := leaseEventOn(t, ws)
	seq2, typ2 := leaseEventOn(t, ws)
	if typ1 != "INVOICE_ISSUED" || typ2 != "CREDIT_LIMIT_NEAR" {
		t.Fatalf("after the first charge: %s, %s; want INVOICE_ISSUED, CREDIT_LIMIT_NEAR", typ1, typ2)
	}
	ws.Close()

	l.settleJob(f, "2") // 560.00: over the limit
	again := open(f.factory.Secret, seq2)
	defer again.Close()
	_, typ3 := leaseEventOn(t, again)
	_, typ4 := leaseEventOn(t, again)
	if typ3 != "INVOICE_ISSUED" || typ4 != "EQUIPMENT_LOCKED" {
		t.Fatalf("resumed after %d: %s, %s; want INVOICE_ISSUED, EQUIPMENT_LOCKED (and nothing seen before)", seq2, typ3, typ4)
	}

	stranger := testenv.Account(t, p, identity.KindFactory, identity.RoleAdmin)
	ws3 := testenv.DialWS(readCtx(t), t, f.url)
	defer ws3.Close()
	if ack, err := ws3.Init(readCtx(t), stranger.Secret); err != nil || ack.Type != "connection_ack" {
		t.Fatalf("connection_init: %+v, %v", ack, err)
	}
	if err := ws3.Subscribe(readCtx(t), "1", sub, map[string]any{"id": f.contractID}); err != nil {
		t.Fatal(err)
	}
	m, err := ws3.Read(readCtx(t))
	// As for orderEvents: the refusal is the subscription's one result, an
	// error coded NOT_FOUND on contractId and no data.
	if err != nil || m.Type == "complete" || !strings.Contains(string(m.Payload), `"code":"NOT_FOUND"`) || !strings.Contains(string(m.Payload), `"data":null`) {
		t.Fatalf("a stranger subscribing: %s %s, %v; want NOT_FOUND and no data", m.Type, m.Payload, err)
	}
}

// Finance records a prepayment through GraphQL; the lessee sees its wallet
// pay the next charge, and may not top it up itself.
func TestAWalletToppedUpThroughGraphQLPaysTheNextCharge(t *testing.T) {
	f := leaseOverGraphQL(t)
	top := `mutation($in: TopUpWalletInput!) { topUpWallet(input: $in) { contract { balance wallet { toppedUp balance usedPercent } } errors { code field } } }`
	type payload struct {
		Contract *struct {
			Balance string
			Wallet  struct{ ToppedUp, Balance, UsedPercent string }
		}
		Errors []struct {
			Code  string
			Field []string
		}
	}
	var refused payload
	testenv.Client{URL: f.url, Token: f.factory.Secret}.Do(t, top, map[string]any{"in": map[string]any{"contractId": f.contractID, "amount": "100", "reference": "self"}}).
		Into(t, "topUpWallet", &refused)
	if refused.Contract != nil || len(refused.Errors) != 1 || refused.Errors[0].Code != "FORBIDDEN" {
		t.Fatalf("the lessee topping up: %+v", refused)
	}
	var done payload
	testenv.Client{URL: f.url, Token: f.finance.Secret}.Do(t, top, map[string]any{"in": map[string]any{"contractId": f.contractID, "amount": "1000.00", "reference": "wire-" + testenv.Suffix()}}).
		Into(t, "topUpWallet", &done)
	if done.Contract == nil || done.Contract.Wallet.Balance != "1000" || done.Contract.Wallet.UsedPercent != "0" {
		t.Fatalf("finance topping up: %+v", done)
	}
	f.db(t).settleJob(f, "5")
	var seen struct {
		Balance string
		Wallet  struct{ Balance, UsedPercent string }
	}
	testenv.Client{URL: f.url, Token: f.factory.Secret}.Do(t, `query($id: ID!) { node(id: $id) { ... on LeaseContract { balance wallet { balance usedPercent } } } }`,
		map[string]any{"id": f.contractID}).Into(t, "node", &seen)
	if seen.Balance != "0" || seen.Wallet.Balance != "600" || seen.Wallet.UsedPercent != "40" { // 5 h × 80.00 = 400.00 from the wallet
		t.Fatalf("after the charge: %+v", seen)
	}
}

// The lessor changes the rate plan from tomorrow through GraphQL: the terms
// show the amendment and the timeline announces it; the lessee may not amend,
// a misspelt or invalid amendment is refused field by field, the same
// amendment again is answered as repeated, and refusals change nothing.
func TestALeaseAmendedThroughGraphQLShowsItsNewTerms(t *testing.T) {
	f := leaseOverGraphQL(t)
	amend := `mutation($in: AmendLeaseContractInput!) { amendLeaseContract(input: $in) {
		contract { terms timeline { type message } } repeated errors { code field message } } }`
	type payload struct {
		Contract *struct {
			Terms    map[string]any
			Timeline []struct{ Type, Message string }
		}
		Repeated bool
		Errors   []struct {
			Code    string
			Field   []string
			Message string
		}
	}
	eff := time.Now().UTC().Truncate(time.Hour).Add(24 * time.Hour).Format(time.RFC3339)
	change := map[string]any{"effectiveAt": eff, "plans": map[string]any{"spindle_hours": map[string]any{"model": "PER_UNIT", "unitPrice": "70", "freeAllowance": "10"}},
		"minimumCommitment": "500"}
	call := func(token string, a map[string]any) payload {
		t.Helper()
		var out payload
		testenv.Client{URL: f.url, Token: token}.Do(t, amend, map[string]any{"in": map[string]any{"contractId": f.contractID, "amendment": a}}).
			Into(t, "amendLeaseContract", &out)
		return out
	}
	refused := []struct {
		name, token string
		amendment   map[string]any
		code, field string
	}{
		{"the lessee", f.factory.Secret, change, "FORBIDDEN", ""},
		{"a misspelt term", f.lessor.Secret, map[string]any{"effectiveAt": eff, "minimum": "500"}, "INVALID_INPUT", "input.amendment"},
		{"no instant", f.lessor.Secret, map[string]any{"minimumCommitment": "500"}, "INVALID_INPUT", "input.amendment.effectiveAt"},
		{"a negative price", f.lessor.Secret, map[string]any{"effectiveAt": eff, "plans": map[string]any{"spindle_hours": map[string]any{"model": "PER_UNIT", "unitPrice": "-1"}}},
			"INVALID_INPUT", "input.amendment.plans.spindle_hours.unitPrice"},
		{"after the lease", f.lessor.Secret, map[string]any{"effectiveAt": time.Now().AddDate(2, 0, 0).UTC().Format(time.RFC3339), "minimumCommitment": "1"},
			"INVALID_INPUT", "input.amendment.effectiveAt"},
	}
	for _, r := range refused {
		got := call(r.token, r.amendment)
		if got.Contract != nil || len(got.Errors) == 0 || got.Errors[0].Code != r.code || (r.field != "" && strings.Join(got.Errors[0].Field, ".") != r.field) {
			t.Errorf("%s: %+v, want %s at %s", r.name, got, r.code, r.field)
		}
	}
	done := call(f.lessor.Secret, change)
	if done.Contract == nil || done.Repeated || len(done.Errors) != 0 {
		t.Fatalf("amending: %+v", done)
	}
	as, _ := done.Contract.Terms["amendments"].([]any)
	if len(as) != 1 || as[0].(map[string]any)["effectiveAt"] != eff {
		t.Fatalf("terms after the amendment: %v", done.Contract.Terms["amendments"])
	}
	amended := 0
	for _, e := range done.Contract.Timeline {
		if e.Type == "CONTRACT_AMENDED" {
			amended++
			if !strings.Contains(e.Message, "plans of spindle_hours") || !strings.Contains(e.Message, "minimum commitment 500 CNY") {
				t.Errorf("timeline message %q", e.Message)
			}
		}
	}
	if amended != 1 || len(done.Contract.Timeline) != 1 {
		t.Fatalf("timeline %+v: want only the one amendment (refusals wrote nothing)", done.Contract.Timeline)
	}
	again := call(f.lessor.Secret, change)
	if again.Contract == nil || !again.Repeated || len(again.Contract.Timeline) != 1 {
		t.Fatalf("the same amendment again: %+v", again)
	}
	other := maps.Clone(change)
	other["minimumCommitment"] = "900"
	if clash := call(f.lessor.Secret, other); len(clash.Errors) != 1 || clash.Errors[0].Code != "ALREADY_EXISTS" {
		t.Fatalf("another amendment at the same instant: %+v", clash)
	}
}

// Finance sells the lessee 10 prepaid spindle-hours through GraphQL: a PREPAID
// invoice with VAT, the hours on the wallet, a job that draws them before
// billing; the lessee may not top up, and a peak meter is refused.
func TestPrepaidHoursToppedUpThroughGraphQLPayForTheNextJob(t *testing.T) {
	f := leaseOverGraphQL(t, map[string]any{"vatRatePercent": "13"})
	top := `mutation($in: TopUpUnitsInput!) { topUpUnits(input: $in) {
		contract { wallet { units { meter toppedUp used left usedPercent } } } invoice { kind total tax lines { kind quantity amount } } errors { code field } } }`
	type payload struct {
		Contract *struct {
			Wallet struct {
				Units []struct{ Meter, ToppedUp, Used, Left, UsedPercent string }
			}
		}
		Invoice *struct {
			Kind, Total, Tax string
			Lines            []struct{ Kind, Quantity, Amount string }
		}
		Errors []struct {
			Code  string
			Field []string
		}
	}
	call := func(token string, in map[string]any) payload {
		t.Helper()
		in["contractId"] = f.contractID
		var out payload
		testenv.Client{URL: f.url, Token: token}.Do(t, top, map[string]any{"in": in}).Into(t, "topUpUnits", &out)
		return out
	}
	if got := call(f.factory.Secret, map[string]any{"meter": "spindle_hours", "units": "10", "price": "0", "reference": "self"}); len(got.Errors) != 1 || got.Errors[0].Code != "FORBIDDEN" {
		t.Fatalf("the lessee topping up: %+v", got)
	}
	if got := call(f.finance.Secret, map[string]any{"meter": "max_load", "units": "10", "price": "0", "reference": "peak"}); len(got.Errors) != 1 ||
		got.Errors[0].Code != "INVALID_INPUT" || strings.Join(got.Errors[0].Field, ".") != "input.meter" {
		t.Fatalf("a peak meter: %+v", got)
	}
	sold := call(f.finance.Secret, map[string]any{"meter": "spindle_hours", "units": "10", "price": "700.00", "reference": "order-" + testenv.Suffix()})
	if sold.Invoice == nil || sold.Invoice.Kind != "PREPAID" || sold.Invoice.Total != "700" || sold.Invoice.Tax != "91" ||
		len(sold.Invoice.Lines) != 1 || sold.Invoice.Lines[0].Kind != "PREPAID_PURCHASE" || sold.Invoice.Lines[0].Quantity != "10" {
		t.Fatalf("selling prepaid hours: %+v", sold)
	}
	if u := sold.Contract.Wallet.Units; len(u) != 1 || u[0].Meter != "spindle_hours" || u[0].Left != "10" || u[0].UsedPercent != "0" {
		t.Fatalf("wallet after the top-up: %+v", u)
	}
	f.db(t).settleJob(f, "4")
	var seen struct {
		Wallet struct {
			Units []struct{ Used, Left, UsedPercent string }
		}
		Invoices struct {
			Edges []struct {
				Node struct {
					Kind, Total string
					Lines       []struct{ Kind, Quantity string }
				}
			}
		}
	}
	testenv.Client{URL: f.url, Token: f.factory.Secret}.Do(t, `query($id: ID!) { node(id: $id) { ... on LeaseContract {
		wallet { units { used left usedPercent } } invoices { edges { node { kind total lines { kind quantity } } } } } } }`,
		map[string]any{"id": f.contractID}).Into(t, "node", &seen)
	if u := seen.Wallet.Units; len(u) != 1 || u[0].Used != "4" || u[0].Left != "6" || u[0].UsedPercent != "40" {
		t.Fatalf("wallet after a 4 h job: %+v", u)
	}
	drew := false
	for _, e := range seen.Invoices.Edges {
		if e.Node.Kind == "INSTANT" {
			for _, l := range e.Node.Lines {
				drew = drew || l.Kind == "PREPAID_UNITS" && l.Quantity == "4"
			}
			if e.Node.Total != "0" {
				t.Errorf("the job within prepaid hours billed %s", e.Node.Total)
			}
		}
	}
	if !drew {
		t.Fatalf("no instant charge drew the prepaid hours: %+v", seen.Invoices.Edges)
	}
}
