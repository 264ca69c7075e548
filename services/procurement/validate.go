package procurement

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/services/errs"
	input "github.com/masscustom/orchestrator/services/validate"
)

// The checks below are pure, so that the sourcing workflow's update validators
// refuse bad supplier input at once with the same field paths as the service.

// MaxReasonLength bounds a rejection or cancellation reason, in characters.
const MaxReasonLength = 500

// MaxPromiseAhead bounds how far ahead a supplier may promise delivery.
const MaxPromiseAhead = 2 * 365 * 24 * time.Hour

// Acceptance is what a supplier answers when it takes an offer.
type Acceptance struct {
	UnitPrice    decimal.Decimal
	Quantity     decimal.Decimal
	PromisedDate time.Time
}

func validatePrice(path []string, price decimal.Decimal, currency string) errs.List {
	if e := input.Amount(path, price, currency, input.Positive); e != nil {
		return errs.List{e}
	}
	return nil
}

// validateQuantity bounds a quantity whose unit is not known here: positive,
// at most the platform's largest, no finer than its finest (a millionth).
// Where the material's unit is known, ValidateQuantityIn is stricter.
func validateQuantity(path []string, q decimal.Decimal) errs.List {
	return ValidateQuantityIn(path, q, "")
}

// ValidateQuantityIn checks a quantity of a material measured in unit: it
// must be positive, bounded and no finer than the unit allows (a whole
// number of pieces, a thousandth of a kilogram).
func ValidateQuantityIn(path []string, q decimal.Decimal, unit string) errs.List {
	if e := input.Quantity(path, q, unit); e != nil {
		return errs.List{e}
	}
	return nil
}

// ValidateAcceptance checks an acceptance of an offer of quantity offered in
// currency, on the day today: a positive unit price in minor units, a
// positive quantity no larger than offered (taking less leaves the rest to
// other suppliers), and a promised date that is not in the past.
func ValidateAcceptance(offered decimal.Decimal, currency string, a Acceptance, today time.Time) errs.List {
	problems := validatePrice([]string{"input", "unitPrice"}, a.UnitPrice, currency)
	qty := validateQuantity([]string{"input", "quantity"}, a.Quantity)
	switch {
	case len(qty) > 0:
		problems = append(problems, qty...)
	case a.Quantity.GreaterThan(offered):
		problems = append(problems, errs.Invalid([]string{"input", "quantity"}, "the quantity %s is more than the %s offered", a.Quantity, offered))
	}
	day := dateOf(today)
	switch {
	case a.PromisedDate.IsZero():
		problems = append(problems, errs.Invalid([]string{"input", "promisedDate"}, "a promised delivery date is required"))
	case dateOf(a.PromisedDate).Before(day):
		problems = append(problems, errs.Invalid([]string{"input", "promisedDate"}, "the promised date %s is in the past", a.PromisedDate.Format(time.DateOnly)))
	case dateOf(a.PromisedDate).After(day.Add(MaxPromiseAhead)):
		problems = append(problems, errs.Invalid([]string{"input", "promisedDate"}, "the promised date %s is more than two years ahead", a.PromisedDate.Format(time.DateOnly)))
	}
	return problems
}

// ValidateReason checks a rejection reason: 1 to 500 characters once
// trimmed, printable text (line breaks and tabs allowed).
func ValidateReason(reason string) errs.List {
	if e := input.Text([]string{"input", "reason"}, reason, input.Note); e != nil {
		return errs.List{e}
	}
	if n := utf8.RuneCountInString(strings.TrimSpace(reason)); n < 1 || n > MaxReasonLength {
		return errs.List{errs.Invalid([]string{"input", "reason"}, "the reason must be 1 to %d characters", MaxReasonLength)}
	}
	return nil
}

// ValidateShipment checks a shipment report of quantity on a part of which
// accepted was taken and shipped already reported.
func ValidateShipment(accepted, shipped, quantity decimal.Decimal) errs.List {
	return validateMovement(quantity, accepted.Sub(shipped), "shipped", "left to ship")
}

// ValidateReceipt checks a receipt of quantity on a part of which shipped was
// reported and received already confirmed: nothing is received before it is
// shipped.
func ValidateReceipt(shipped, received, quantity decimal.Decimal) errs.List {
	return validateMovement(quantity, shipped.Sub(received), "received", "shipped and not yet received")
}

func validateMovement(quantity, left decimal.Decimal, verb, what string) errs.List {
	path := []string{"input", "quantity"}
	if !quantity.IsPositive() {
		return errs.List{errs.Invalid(path, "the quantity %s must be positive", verb)}
	}
	if problems := validateQuantity(path, quantity); len(problems) > 0 {
		return problems
	}
	switch {
	case quantity.GreaterThan(left):
		return errs.List{errs.Invalid(path, "the quantity %s %s is more than the %s %s", verb, quantity, left, what)}
	}
	return nil
}
