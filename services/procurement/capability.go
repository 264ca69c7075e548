package procurement

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/money"
	input "github.com/masscustom/orchestrator/services/validate"
)

// Capability is what a supplier can supply of one material.
type Capability struct {
	SupplierID  uuid.UUID       `json:"supplierId"`
	Material    string          `json:"material"`
	UnitPrice   decimal.Decimal `json:"unitPrice"`
	Currency    string          `json:"currency"`
	LeadDays    int             `json:"leadDays"`
	MaxQuantity decimal.Decimal `json:"maxQuantity"` // what it can cover per order
	Score       decimal.Decimal `json:"score"`       // 0..100, follows its behaviour
	CreatedAt   time.Time       `json:"createdAt"`
	UpdatedAt   time.Time       `json:"updatedAt"`
}

// MaxLeadDays bounds a capability's lead time.
const MaxLeadDays = 365

// mayManageCapabilities decides who sets a supplier's capabilities: the
// operator (platform admins and members, who onboard suppliers), and the
// supplier's own admin for itself. It is decided here rather than in
// identity's policy table because no action there fits; it belongs there as
// "procurement.manage" once the gateway exposes it.
func mayManageCapabilities(p *identity.Principal, supplierID uuid.UUID) error {
	switch {
	case p == nil:
		return errs.New(errs.Unauthenticated, nil, "a bearer token is required")
	case p.Kind == identity.KindPlatform && (p.Role == identity.RoleAdmin || p.Role == identity.RoleMember):
		return nil
	case p.Kind == identity.KindSupplier && p.Role == identity.RoleAdmin && p.EnterpriseID == supplierID:
		return nil
	}
	return errs.New(errs.Forbidden, nil, "only the operator or the supplier's admin may set its capabilities")
}

// mayReadCapabilities: the operator, and any user of the supplier itself.
func mayReadCapabilities(p *identity.Principal, supplierID uuid.UUID) error {
	switch {
	case p == nil:
		return errs.New(errs.Unauthenticated, nil, "a bearer token is required")
	case p.Kind == identity.KindPlatform, p.Kind == identity.KindSupplier && p.EnterpriseID == supplierID:
		return nil
	}
	return errs.New(errs.Forbidden, nil, "only the operator or the supplier may read its capabilities")
}

// ValidateCapability checks a capability's terms; the field paths are those of
// the GraphQL input.
func ValidateCapability(material string, unitPrice decimal.Decimal, currency string, leadDays int, maxQty decimal.Decimal) errs.List {
	var problems errs.List
	if n := utf8.RuneCountInString(strings.TrimSpace(material)); n < 1 || n > 100 {
		problems = append(problems, errs.Invalid([]string{"input", "material"}, "material must be 1 to 100 characters"))
	}
	if !money.ValidCurrency(currency) || strings.ToUpper(currency) != currency {
		problems = append(problems, errs.Invalid([]string{"input", "currency"}, "unknown currency %q", currency))
	}
	problems = append(problems, validatePrice([]string{"input", "unitPrice"}, unitPrice, currency)...)
	if leadDays < 0 || leadDays > MaxLeadDays {
		problems = append(problems, errs.Invalid([]string{"input", "leadDays"}, "lead time must be 0 to %d days", MaxLeadDays))
	}
	if !maxQty.IsPositive() {
		problems = append(problems, errs.Invalid([]string{"input", "maxQuantity"}, "the quantity it can cover must be positive"))
	} else {
		problems = append(problems, validateQuantity([]string{"input", "maxQuantity"}, maxQty)...)
	}
	if e := input.Text([]string{"input", "material"}, material, input.Key); e != nil {
		problems = append(problems, e)
	}
	return problems
}

// SetCapability records (or replaces) what a supplier can supply of a
// material: its list price, lead time and the quantity it can cover per order.
// The score is kept: it follows behaviour, not declarations. Allowed to the
// operator and to the supplier's admin for its own enterprise.
func (s *Service) SetCapability(ctx context.Context, p *identity.Principal, supplierID uuid.UUID, material string, unitPrice decimal.Decimal, currency string, leadDays int, maxQty decimal.Decimal) (*Capability, error) {
	if err := mayManageCapabilities(p, supplierID); err != nil {
		return nil, err
	}
	material = strings.TrimSpace(material)
	problems := ValidateCapability(material, unitPrice, currency, leadDays, maxQty)
	var kind identity.Kind
	err := s.db.QueryRow(ctx, `SELECT kind FROM enterprises WHERE id = $1`, supplierID).Scan(&kind)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && kind != identity.KindSupplier) {
		problems = append(problems, errs.Invalid([]string{"input", "supplierId"}, "not a supplier enterprise"))
	} else if err != nil {
		return nil, fmt.Errorf("set capability: %w", err)
	}
	if len(problems) > 0 {
		return nil, problems
	}
	c := Capability{SupplierID: supplierID, Material: material, UnitPrice: unitPrice, Currency: currency, LeadDays: leadDays, MaxQuantity: maxQty}
	err = s.db.QueryRow(ctx, `INSERT INTO supplier_capabilities (supplier_id, material, unit_price, currency, lead_days, max_quantity)
		VALUES ($1,$2,$3,$4,$5,$6)
		ON CONFLICT (supplier_id, material) DO UPDATE SET unit_price = EXCLUDED.unit_price, currency = EXCLUDED.currency,
			lead_days = EXCLUDED.lead_days, max_quantity = EXCLUDED.max_quantity, updated_at = now()
		RETURNING score, created_at, updated_at`,
		supplierID, material, unitPrice, currency, leadDays, maxQty).Scan(&c.Score, &c.CreatedAt, &c.UpdatedAt)
	if err != nil {
		return nil, fmt.Errorf("set capability: %w", err)
	}
	return &c, nil
}

// Capabilities lists a supplier's capabilities by material, for the operator
// and the supplier itself.
func (s *Service) Capabilities(ctx context.Context, p *identity.Principal, supplierID uuid.UUID) ([]Capability, error) {
	if err := mayReadCapabilities(p, supplierID); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT supplier_id, material, unit_price, currency, lead_days, max_quantity, score, created_at, updated_at
		FROM supplier_capabilities WHERE supplier_id = $1 ORDER BY material`, supplierID)
	if err != nil {
		return nil, fmt.Errorf("capabilities: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Capability])
}

// Capability returns one capability without authorization (for activities
// and tests).
func (s *Service) Capability(ctx context.Context, supplierID uuid.UUID, material string) (*Capability, error) {
	rows, err := s.db.Query(ctx, `SELECT supplier_id, material, unit_price, currency, lead_days, max_quantity, score, created_at, updated_at
		FROM supplier_capabilities WHERE supplier_id = $1 AND material = $2`, supplierID, material)
	if err != nil {
		return nil, fmt.Errorf("capability: %w", err)
	}
	c, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[Capability])
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errs.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("capability: %w", err)
	}
	return &c, nil
}
