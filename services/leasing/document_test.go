package leasing

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/masscustom/orchestrator/internal/pdftext"
)

func pdfText(t *testing.T, doc []byte) string {
	t.Helper()
	text, err := pdftext.Compact(doc)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

func TestInvoicePDFShowsWhatFinanceFiles(t *testing.T) {
	c := contract()
	c.VATRatePercent = d("13")
	when := at("2026-03-10T08:00:00Z")
	inv := mustRate(t, c, when, events("h", MeterSpindleHours, when, "3", "4.5"))
	issued := at("2026-04-01T00:00:05Z")
	final := issued.Add(48 * time.Hour)
	stored := &StoredInvoice{ID: uuid.New(), Number: 4711, ContractID: uuid.New(), Kind: InvoicePeriod, PeriodKey: inv.PeriodKey,
		Currency: "CNY", Body: inv, Total: inv.Total, PlatformFee: inv.PlatformFee, LessorShare: inv.LessorShare,
		IssuedAt: issued, Status: InvoiceFinalized, FinalizedAt: &final}
	parties := InvoiceParties{Lessor: "Shenyang Machine Leasing Co.", Lessee: "Qingdao Fridge Works", ContractNumber: 77}
	doc, err := InvoicePDF(stored, parties)
	if err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, doc)
	// 7.5 h × 12.50 = 93.75 net; VAT 13% = 12.19 (12.1875); gross 105.94;
	// fee 10% of the net 9.38 (9.375, the tie to the first part), lessor 84.37.
	for _, want := range []string{
		"Invoice4711", "FINALIZED", "no.77", "ShenyangMachineLeasingCo.", "QingdaoFridgeWorks",
		"2026-03,2026-03-01to2026-04-01", "spindle_hours:", "93.75", "12.19", "105.94",
		"Nettotal93.75CNY", "VAT13%12.19CNY", "Grosstotal(due)105.94CNY", "platformfee10%9.38CNY", "lessorshare84.37CNY",
		"Finalized2026-04-03T00:00:05Z",
	} {
		if !strings.Contains(text, pdftext.Squeeze(want)) {
			t.Errorf("the PDF's text lacks %q:\n%s", want, text)
		}
	}
	again, err := InvoicePDF(stored, parties)
	if err != nil || !bytes.Equal(doc, again) {
		t.Error("the same invoice rendered different bytes")
	}

	stored.Status, stored.FinalizedAt = InvoiceDraft, nil
	review := issued.Add(time.Hour)
	stored.ReviewUntil = &review
	draft, err := InvoicePDF(stored, parties)
	if err != nil {
		t.Fatal(err)
	}
	if text := pdfText(t, draft); !strings.Contains(text, "DRAFTinvoice4711") || !strings.Contains(text, "Inreviewuntil2026-04-01T01:00:05Z") ||
		!strings.Contains(text, "onlythefinalizedinvoiceisdue") {
		t.Errorf("the draft's PDF does not say it is a draft:\n%s", text)
	}
}

func TestNotePDFShowsTheCorrectionAndWhatTheInvoiceNowStandsAt(t *testing.T) {
	issued := at("2026-04-05T10:00:00Z")
	n := &Note{ID: uuid.New(), Number: 12, ContractID: uuid.New(), InvoiceID: uuid.New(), Kind: NoteCredit, Currency: "CNY",
		Total: d("-25"), Tax: d("-3.25"), Gross: d("-28.25"), IssuedAt: issued,
		Body: NoteBody{InvoiceNumber: 4711, PeriodKey: "2026-03", Reason: "spindle meter double-counted",
			Lines: []InvoiceLine{{Kind: LineUsage, Meter: MeterSpindleHours, Description: "correction of: PER_UNIT", Quantity: d("-2"), UnitPrice: d("12.50"),
				Amount: d("-25"), Tax: d("-3.25"), Gross: d("-28.25")}},
			PlatformFee: d("-2.5"), LessorShare: d("-22.5"),
			Rerated: Invoice{Total: d("68.75"), Tax: d("8.94"), Gross: d("77.69"), VATRatePercent: d("13"), PlatformFeePercent: d("10")}},
	}
	parties := InvoiceParties{Lessor: "Shenyang Machine Leasing Co.", Lessee: "Qingdao Fridge Works", ContractNumber: 77}
	doc, err := NotePDF(n, parties)
	if err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, doc)
	for _, want := range []string{
		"Creditnote12", "invoice4711,period2026-03", "spindlemeterdouble-counted", "QingdaoFridgeWorks", "spindle_hours:",
		"Nettotal-25.00CNY", "VAT13%-3.25CNY", "Grosscredited-28.25CNY", "platformfee10%-2.50CNY", "lessorshare-22.50CNY",
		"invoice4711standsat68.75CNYnet,8.94VAT,77.69gross",
	} {
		if !strings.Contains(text, pdftext.Squeeze(want)) {
			t.Errorf("the note's PDF lacks %q:\n%s", want, text)
		}
	}
	n.Kind = NoteDebit
	debit, err := NotePDF(n, parties)
	if err != nil {
		t.Fatal(err)
	}
	if text := pdfText(t, debit); !strings.Contains(text, "Debitnote12") || !strings.Contains(text, "Grosstotal(due)") {
		t.Errorf("a debit note's PDF:\n%s", text)
	}
}

func TestPeriodKeysAreTheOnesPeriodsHave(t *testing.T) {
	for k, want := range map[string]bool{"2026-01": true, "2026-01-15": true, "2026-13": false, "2026-1": false, "2026-02-30": false,
		"": false, "../x": false, "2026-01-15x": false, "2026-W03": false} {
		if got := validPeriodKey(k); got != want {
			t.Errorf("validPeriodKey(%q) = %t, want %t", k, got, want)
		}
	}
}
