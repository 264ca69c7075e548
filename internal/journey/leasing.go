package journey

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// leasingDemo plays a lessor's and a lessee's day of pay-per-use leasing
// through the gateway: a machine leased daily at 13% VAT, a prepayment into
// the lease's wallet, its usage, the closed day as a draft that takes a late
// reading, finance finalizing it (the wallet pays it and warns at 80% used),
// a correction after finalizing that yields a credit note, and the invoice's
// PDF. Each party acts under its own demo token.
type leasingDemo struct {
	out             *printer
	lessor, finance *party
	factory         *party
	base            string // the gateway, for documents
	docs            string // where the PDF is saved
	pace            time.Duration
	serial          string
	machineID       string
	contractID      string
}

type leaseInvoice struct {
	ID          string `json:"id"`
	Number      int    `json:"number"`
	Status      string `json:"status"`
	Total       string `json:"total"`
	Tax         string `json:"tax"`
	Gross       string `json:"gross"`
	DocumentURL string `json:"documentUrl"`
	Lines       []struct {
		Meter       string `json:"meter"`
		Description string `json:"description"`
		Quantity    string `json:"quantity"`
		Amount      string `json:"amount"`
		Tax         string `json:"tax"`
	} `json:"lines"`
}

const leaseInvoiceFields = `id number status total tax gross documentUrl lines { meter description quantity amount tax }`

func (d *leasingDemo) run(ctx context.Context) error {
	for _, p := range []*party{d.lessor, d.finance, d.factory} {
		var v struct {
			Viewer struct {
				Enterprise struct{ ID, Kind, Name string }
			}
		}
		if err := p.query(ctx, `{ viewer { enterprise { id kind name } } }`, nil, &v); err != nil {
			return fmt.Errorf("the demo token of %s is not accepted (%w): seed the demo data with bin/seed (`make run` does)", p.who, err)
		}
		p.id, p.name = v.Viewer.Enterprise.ID, v.Viewer.Enterprise.Name
	}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	yesterday := today.AddDate(0, 0, -1)

	serial := fmt.Sprintf("VMC-850-%d", time.Now().Unix())
	d.serial = serial
	d.out.act(d.lessor, "registers the 5-axis mill %s", serial)
	var reg struct {
		Equipment struct{ ID string } `json:"equipment"`
	}
	if err := d.lessor.mutate(ctx, "registerEquipment", "RegisterEquipmentInput", "equipment { id }",
		map[string]any{"lessorId": d.lessor.id, "serial": serial, "kind": "CNC_MILL", "meters": []string{"spindle_hours", "parts"}}, &reg); err != nil {
		return err
	}
	d.machineID = reg.Equipment.ID

	d.out.act(d.lessor, "leases it to %s by the day from %s: the first 8 spindle-hours of a day at 120.00, the rest at 90.00, 13%% VAT",
		d.factory.name, yesterday.Format("2006-01-02"))
	var created struct {
		Contract struct {
			ID     string
			Number int
		} `json:"contract"`
	}
	if err := d.lessor.mutate(ctx, "createLeaseContract", "CreateLeaseContractInput", "contract { id number }", map[string]any{"terms": map[string]any{
		"lessorId": d.lessor.id, "lesseeId": d.factory.id, "equipmentIds": []string{d.machineID}, "currency": "CNY",
		"plans": map[string]any{"spindle_hours": map[string]any{"model": "GRADUATED", "tiers": []map[string]any{
			{"upTo": "8", "unitPrice": "120"}, {"upTo": nil, "unitPrice": "90"}}}},
		"minimumCommitment": "0", "platformFeePercent": "8", "vatRatePercent": "13", "deposit": "0", "creditLimit": "5000",
		"period": map[string]any{"unit": "DAILY", "anchor": "CALENDAR"},
		"start":  yesterday.Format(time.RFC3339), "end": today.AddDate(0, 1, 0).Format(time.RFC3339),
	}}, &created); err != nil {
		return err
	}
	d.contractID = created.Contract.ID
	d.out.note("contract no. %d; its settlement workflow closes each day when it ends", created.Contract.Number)

	d.out.act(d.finance, "records the factory's prepayment of 1,800.00 CNY into the lease's wallet")
	if err := d.finance.mutate(ctx, "topUpWallet", "TopUpWalletInput", "contract { id }",
		map[string]any{"contractId": d.contractID, "amount": "1800.00", "reference": "prepay-" + serial}, nil); err != nil {
		return err
	}

	// Yesterday's readings, as the machine's telemetry sends them.
	d.out.act(d.lessor, "the machine reports yesterday's spindle-hours: 4.5 and 3.0, and the 3.0 again under another id (a faulty gateway)")
	if err := d.report(ctx, []reading{{"y-1", "4.5", yesterday.Add(9 * time.Hour)}, {"y-2", "3.0", yesterday.Add(13 * time.Hour)},
		{"y-2b", "3.0", yesterday.Add(13*time.Hour + time.Second)}}); err != nil {
		return err
	}
	draft, err := d.waitInvoice(ctx, "DRAFT", time.Minute)
	if err != nil {
		return err
	}
	d.out.note("yesterday closed into draft invoice %d: net %s, VAT %s, gross %s CNY (in review; nothing is posted yet)",
		draft.Number, draft.Total, draft.Tax, draft.Gross)
	d.pause(ctx)

	d.out.act(d.lessor, "a late reading of yesterday arrives while the invoice is in review: 2.5 h")
	if err := d.report(ctx, []reading{{"y-3", "2.5", yesterday.Add(20 * time.Hour)}}); err != nil {
		return err
	}
	d.pause(ctx)
	d.out.act(d.finance, "ends the review: finalizes invoice %d", draft.Number)
	var fin struct {
		Invoice leaseInvoice `json:"invoice"`
	}
	if err := d.finance.mutate(ctx, "finalizeInvoice", "FinalizeInvoiceInput", "invoice { "+leaseInvoiceFields+" }",
		map[string]any{"invoiceId": draft.ID}, &fin); err != nil {
		return err
	}
	inv := fin.Invoice
	d.out.note("invoice %d is %s: net %s, VAT %s, gross %s CNY, the late reading rated into it", inv.Number, inv.Status, inv.Total, inv.Tax, inv.Gross)
	for _, l := range inv.Lines {
		d.out.line("        %-60s %8s h %10s net %9s VAT", truncate(l.Description, 60), l.Quantity, l.Amount, l.Tax)
	}
	d.pause(ctx)

	d.out.act(d.finance, "voids the reading the gateway sent twice (y-2b): the day was 10 h, not 13")
	var corr struct {
		Notes []struct {
			Number, InvoiceNumber   int
			Kind, Total, Tax, Gross string
			DocumentURL             string `json:"documentUrl"`
			Lines                   []struct{ Description, Quantity, Amount, Tax string }
		} `json:"notes"`
	}
	if err := d.finance.mutate(ctx, "correctUsage", "CorrectUsageInput",
		"notes { number invoiceNumber kind total tax gross documentUrl lines { description quantity amount tax } }",
		map[string]any{"contractId": d.contractID, "key": "void-y-2b-" + serial, "reason": "reading sent twice by the machine's gateway",
			"voids": []map[string]any{{"equipmentId": d.machineID, "eventId": serial + "-y-2b"}}}, &corr); err != nil {
		return err
	}
	for _, n := range corr.Notes {
		d.out.note("%s note %d on invoice %d: net %s, VAT %s, gross %s CNY", strings.ToLower(n.Kind), n.Number, n.InvoiceNumber, n.Total, n.Tax, n.Gross)
		for _, l := range n.Lines {
			d.out.line("        %-60s %8s h %10s net %9s VAT", truncate(l.Description, 60), l.Quantity, l.Amount, l.Tax)
		}
	}

	path, size, err := d.savePDF(ctx, inv.DocumentURL, fmt.Sprintf("invoice-%d.pdf", inv.Number))
	if err != nil {
		return err
	}
	d.out.note("invoice %d as a PDF (%d bytes): %s", inv.Number, size, path)
	for _, n := range corr.Notes {
		path, size, err := d.savePDF(ctx, n.DocumentURL, fmt.Sprintf("%s-note-%d.pdf", strings.ToLower(n.Kind), n.Number))
		if err != nil {
			return err
		}
		d.out.note("%s note %d as a PDF (%d bytes): %s", strings.ToLower(n.Kind), n.Number, size, path)
	}
	d.pause(ctx)
	if err := d.today(ctx, today, serial); err != nil {
		return err
	}

	var c struct {
		Node struct {
			Balance string
			Wallet  struct {
				ToppedUp, Balance, UsedPercent string
				Units                          []struct{ Meter, ToppedUp, Left string }
			}
			Timeline []struct {
				Seq           int
				Type, Message string
			}
		}
	}
	if err := d.factory.query(ctx, `query($id: ID!) { node(id: $id) { ... on LeaseContract { balance wallet { toppedUp balance usedPercent units { meter toppedUp left } } timeline { seq type message } } } }`,
		map[string]any{"id": d.contractID}, &c); err != nil {
		return err
	}
	d.out.note("the lease's timeline, as %s sees it:", d.factory.name)
	for _, e := range c.Node.Timeline {
		d.out.line("  %3d  %-22s %s", e.Seq, e.Type, e.Message)
	}
	d.out.note("the wallet: %s CNY of %s left (%s%% used); %s owes %s CNY under the contract (negative: in credit)",
		c.Node.Wallet.Balance, c.Node.Wallet.ToppedUp, c.Node.Wallet.UsedPercent, d.factory.name, c.Node.Balance)
	for _, u := range c.Node.Wallet.Units {
		d.out.note("prepaid %s: %s left of %s", u.Meter, u.Left, u.ToppedUp)
	}
	return nil
}

// today sells the factory prepaid hours, changes the plan from the middle of
// the day so far, and charges today's two jobs at once: the old plan's part
// with its tiers prorated, the prepaid hours drawn, the new plan's part.
func (d *leasingDemo) today(ctx context.Context, today time.Time, serial string) error {
	d.out.act(d.finance, "sells the factory 6 prepaid spindle-hours for 480.00 CNY")
	var sold struct {
		Invoice leaseInvoice `json:"invoice"`
	}
	if err := d.finance.mutate(ctx, "topUpUnits", "TopUpUnitsInput", "invoice { "+leaseInvoiceFields+" }",
		map[string]any{"contractId": d.contractID, "meter": "spindle_hours", "units": "6", "price": "480.00", "reference": "hours-" + serial}, &sold); err != nil {
		return err
	}
	d.out.note("prepaid invoice %d: net %s, VAT %s, gross %s CNY", sold.Invoice.Number, sold.Invoice.Total, sold.Invoice.Tax, sold.Invoice.Gross)

	// Today so far, cut in quarters, so that every instant is in the past.
	elapsed := time.Since(today).Truncate(time.Minute)
	at := func(quarter int) time.Time {
		return today.Add(elapsed * time.Duration(quarter) / 4).Truncate(time.Second)
	}
	eff := at(2).Truncate(time.Minute)
	d.out.act(d.lessor, "changes the plan from %s UTC today: a flat 100.00 per spindle-hour", eff.Format("15:04"))
	if err := d.lessor.mutate(ctx, "amendLeaseContract", "AmendLeaseContractInput", "repeated",
		map[string]any{"contractId": d.contractID, "amendment": map[string]any{"effectiveAt": eff.Format(time.RFC3339),
			"plans": map[string]any{"spindle_hours": map[string]any{"model": "PER_UNIT", "unitPrice": "100"}}}}, nil); err != nil {
		return err
	}
	d.out.act(d.lessor, "the machine reports today's jobs: 5.0 h before the change and 4.0 h after it")
	if err := d.report(ctx, []reading{{"t-1", "5.0", at(1)}, {"t-2", "4.0", at(3)}}); err != nil {
		return err
	}
	d.out.act(d.factory, "asks for today's usage to be charged now")
	var charged struct {
		Invoice leaseInvoice `json:"invoice"`
	}
	if err := d.factory.mutate(ctx, "settleUsageNow", "SettleUsageNowInput", "invoice { "+leaseInvoiceFields+" }",
		map[string]any{"contractId": d.contractID, "jobKey": "today-" + serial, "equipmentIds": []string{d.machineID},
			"from": today.Format(time.RFC3339), "to": time.Now().UTC().Format(time.RFC3339)}, &charged); err != nil {
		return err
	}
	inv := charged.Invoice
	d.out.note("instant charge %d: net %s, VAT %s, gross %s CNY", inv.Number, inv.Total, inv.Tax, inv.Gross)
	for _, l := range inv.Lines {
		d.out.line("        %-60s %8s h %10s net %9s VAT", truncate(l.Description, 60), l.Quantity, l.Amount, l.Tax)
	}
	return nil
}

type reading struct {
	id, value string
	at        time.Time
}

func (d *leasingDemo) report(ctx context.Context, rs []reading) error {
	var evs []map[string]any
	for _, r := range rs {
		evs = append(evs, map[string]any{"eventId": d.serial + "-" + r.id, "equipmentId": d.machineID,
			"meter": "spindle_hours", "value": r.value, "at": r.at.Format(time.RFC3339), "seq": r.at.Unix()})
	}
	var res struct {
		Accepted, Duplicates, Late int
		Refused                    []struct{ EventID, Code, Message string }
	}
	if err := d.lessor.mutate(ctx, "reportUsage", "ReportUsageInput", "accepted duplicates late refused { eventId code message }",
		map[string]any{"events": evs}, &res); err != nil {
		return err
	}
	if len(res.Refused) > 0 {
		return fmt.Errorf("usage refused: %+v", res.Refused)
	}
	return nil
}

// waitInvoice waits for the contract's newest period invoice in status.
func (d *leasingDemo) waitInvoice(ctx context.Context, status string, limit time.Duration) (leaseInvoice, error) {
	deadline := time.Now().Add(limit)
	for {
		var c struct {
			Node struct {
				Invoices struct {
					Edges []struct{ Node leaseInvoice }
				}
			}
		}
		if err := d.finance.query(ctx, `query($id: ID!) { node(id: $id) { ... on LeaseContract { invoices(first: 20) { edges { node { `+leaseInvoiceFields+` } } } } } }`,
			map[string]any{"id": d.contractID}, &c); err != nil {
			return leaseInvoice{}, err
		}
		for _, e := range c.Node.Invoices.Edges {
			if e.Node.Status == status {
				return e.Node, nil
			}
		}
		if time.Now().After(deadline) {
			return leaseInvoice{}, fmt.Errorf("no %s invoice after %s: is the worker running (make run)?", status, limit)
		}
		select {
		case <-ctx.Done():
			return leaseInvoice{}, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// savePDF fetches a document (an invoice's or a note's) under finance's token
// and keeps it in the demo's document directory as file.
func (d *leasingDemo) savePDF(ctx context.Context, url, file string) (string, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.base+url, nil)
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Authorization", "Bearer "+d.finance.token)
	res, err := d.finance.http.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return "", 0, err
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "%PDF") {
		return "", 0, errors.New("the PDF " + file + " was not served: " + res.Status)
	}
	if err := os.MkdirAll(d.docs, 0o755); err != nil {
		return "", 0, err
	}
	path := filepath.Join(d.docs, file)
	if err := os.WriteFile(path, body, 0o644); err != nil {
		return "", 0, err
	}
	return path, len(body), nil
}

func (d *leasingDemo) pause(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(d.pace):
	}
}
