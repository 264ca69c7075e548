package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/masscustom/orchestrator/services/cache"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identifiers"
	"github.com/masscustom/orchestrator/services/identity"
)

// Record is an identifier with all its values and who may read each.
type Record struct {
	Key        string
	Handle     string
	OwnerID    uuid.UUID
	Kind       string
	OrderID    *uuid.UUID
	CustomerID *uuid.UUID // the customer of the order a unit or package belongs to
	CreatedAt  time.Time
	Values     []StoredValue
}

// StoredValue is one value of a record.
type StoredValue struct {
	Index     int
	Type      string
	Data      string
	TTL       int
	Readable  string
	Partners  []uuid.UUID
	UpdatedAt time.Time
}

// CanSee reports whether p may read v of r: everyone the public values; the
// owner, the platform's staff and, for a unit or package, the customer whose
// order it belongs to, all values; a partner named on a PARTNERS value, that
// value.
func (r *Record) CanSee(p *identity.Principal, v StoredValue) bool {
	if v.Readable == ReadPublic {
		return true
	}
	if p == nil {
		return false
	}
	if p.Kind == identity.KindPlatform || p.EnterpriseID == r.OwnerID {
		return true
	}
	if r.CustomerID != nil && *r.CustomerID == p.EnterpriseID {
		return true
	}
	return v.Readable == ReadPartners && slices.Contains(v.Partners, p.EnterpriseID)
}

// Answer is the record as p may read it, in the Handle REST shape, filtered by q.
func (r *Record) Answer(p *identity.Principal, q identifiers.Query) identifiers.Answer {
	a := identifiers.Answer{ResponseCode: identifiers.CodeSuccess, Handle: r.Handle, Values: []identifiers.Value{}}
	for _, v := range r.Values {
		if r.CanSee(p, v) {
			a.Values = append(a.Values, identifiers.StringValue(v.Index, v.Type, v.Data, v.TTL, v.UpdatedAt))
		}
	}
	return q.Filter(a)
}

// CacheTTL is how long the record may stay cached: its shortest value TTL,
// between a second and an hour.
func (r *Record) CacheTTL() time.Duration {
	t := time.Hour
	for _, v := range r.Values {
		if d := time.Duration(v.TTL) * time.Second; d < t {
			t = d
		}
	}
	return max(t, time.Second)
}

func recordKey(key string) string { return "handle:" + key }

// Record loads an identifier's record through the cache; nil when there is
// no such identifier.
func (s *Service) Record(ctx context.Context, h identifiers.Handle) (*Record, error) {
	var missing = errors.New("no such handle")
	key := h.Key()
	r, err := cache.ReadThroughMemo(ctx, s.cache, s.memo, recordKey(key), 0, func(ctx context.Context) (*Record, error) {
		r, err := loadRecord(ctx, s.db, key)
		if err != nil {
			return nil, err
		}
		if r == nil {
			return nil, missing
		}
		return r, nil
	})
	if errors.Is(err, missing) {
		return nil, nil
	}
	return r, err
}

// Resolve answers a local identifier for p (nil: without a token) in the
// Handle REST shape: 100 when there is no such identifier, 200 when no value
// p may read matches q.
func (s *Service) Resolve(ctx context.Context, p *identity.Principal, h identifiers.Handle, q identifiers.Query) (identifiers.Answer, error) {
	a, _, err := s.resolve(ctx, p, h, q)
	return a, err
}

// resolve is Resolve that also returns the record it answered from (nil
// when there is none).
func (s *Service) resolve(ctx context.Context, p *identity.Principal, h identifiers.Handle, q identifiers.Query) (identifiers.Answer, *Record, error) {
	r, err := s.Record(ctx, h)
	if err != nil {
		return identifiers.Answer{}, nil, err
	}
	if r == nil {
		return identifiers.Answer{ResponseCode: identifiers.CodeNotFound, Handle: h.String(), Message: "no such identifier"}, nil, nil
	}
	a := r.Answer(p, q)
	if a.ResponseCode == identifiers.CodeSuccess && len(a.Values) == 0 {
		a.ResponseCode, a.Values, a.Message = identifiers.CodeValuesNotFound, nil, "no value of this identifier is readable by you"
	}
	return a, r, nil
}

func loadRecord(ctx context.Context, q querier, key string) (*Record, error) {
	r := &Record{}
	err := q.QueryRow(ctx, `SELECT h.key, h.handle, h.owner_id, h.kind, h.order_id, o.customer_id, h.created_at
		FROM handles h LEFT JOIN orders o ON o.id = h.order_id WHERE h.key = $1`, key).
		Scan(&r.Key, &r.Handle, &r.OwnerID, &r.Kind, &r.OrderID, &r.CustomerID, &r.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if r.Kind != KindUnit && r.Kind != KindPackage {
		r.CustomerID = nil
	}
	rows, err := q.Query(ctx, `SELECT idx, type, data, ttl, readable, partners, updated_at FROM handle_values WHERE handle_key = $1 ORDER BY idx`, key)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var v StoredValue
		if err := rows.Scan(&v.Index, &v.Type, &v.Data, &v.TTL, &v.Readable, &v.Partners, &v.UpdatedAt); err != nil {
			return nil, err
		}
		r.Values = append(r.Values, v)
	}
	return r, rows.Err()
}

// ValueInput is a value to write: Index 0 takes the next free index, TTL nil
// the default, Readable "" PUBLIC.
type ValueInput struct {
	Index    int
	Type     string
	Data     string
	TTL      *int
	Readable string
	Partners []uuid.UUID
}

// MaxTTL is the longest time to live a value may have, in seconds (a year).
const MaxTTL = 365 * 86400

// maxPartners bounds the partner enterprises named on one value.
const maxPartners = 50

// reserved reports whether a value type is written by the platform only:
// the platform's MC.* values and the Handle system's HS_* values.
func reserved(t string) bool {
	u := strings.ToUpper(t)
	return strings.HasPrefix(u, "MC.") || strings.HasPrefix(u, "HS_")
}

// checkValue validates one value input, its GS1 alias data included; the
// problems carry paths under path.
func checkValue(v ValueInput, path []string, platform bool) errs.List {
	var list errs.List
	at := func(f string) []string { return append(append([]string(nil), path...), f) }
	if v.Index < 0 {
		list = append(list, errs.Invalid(at("index"), "an index is a positive integer, or 0 for the next free one"))
	}
	if err := identifiers.ValidateValueType(v.Type); err != nil {
		list = append(list, identifiers.At(err, at("type")).(*identifiers.Error).Err)
	} else if reserved(v.Type) && !platform {
		list = append(list, errs.Invalid(at("type"), "the value types MC.* and HS_* are written by the platform only"))
	}
	if err := identifiers.ValidateValueData(v.Data); err != nil {
		list = append(list, identifiers.At(err, at("data")).(*identifiers.Error).Err)
	} else if kind, ok := gs1Kinds[strings.ToUpper(v.Type)]; ok {
		if err := checkGS1(kind, v.Data); err != nil {
			list = append(list, identifiers.At(err, at("data")).(*identifiers.Error).Err)
		}
	}
	if v.TTL != nil && (*v.TTL < 0 || *v.TTL > MaxTTL) {
		list = append(list, errs.Invalid(at("ttl"), "a ttl is 0 to %d seconds", MaxTTL))
	}
	switch v.Readable {
	case "", ReadPublic, ReadOwner:
		if len(v.Partners) > 0 {
			list = append(list, errs.Invalid(at("partners"), "partners are named only on a PARTNERS value"))
		}
	case ReadPartners:
		if len(v.Partners) == 0 || len(v.Partners) > maxPartners {
			list = append(list, errs.Invalid(at("partners"), "a PARTNERS value names 1 to %d partner enterprises", maxPartners))
		}
	default:
		list = append(list, errs.Invalid(at("readable"), "readable is PUBLIC, OWNER or PARTNERS"))
	}
	return list
}

var gs1Kinds = map[string]identifiers.GS1Kind{
	TypeGS1SGTIN: identifiers.KindSGTIN, TypeGS1SSCC: identifiers.KindSSCC, TypeGS1GIAI: identifiers.KindGIAI,
}

// checkGS1 validates a GS1 alias written as its element string: "(01)<GTIN>(21)<serial>",
// "(00)<SSCC>" or "(8004)<GIAI>".
func checkGS1(kind identifiers.GS1Kind, data string) error {
	var value, serial string
	switch kind {
	case identifiers.KindSGTIN:
		rest, ok := strings.CutPrefix(data, "(01)")
		if ok {
			value, serial, ok = strings.Cut(rest, "(21)")
		}
		if !ok {
			return identifiers.ParseError("a GS1.SGTIN value is written (01)<GTIN>(21)<serial>")
		}
	case identifiers.KindSSCC:
		v, ok := strings.CutPrefix(data, "(00)")
		if !ok {
			return identifiers.ParseError("a GS1.SSCC value is written (00)<18 digits>")
		}
		value = v
	case identifiers.KindGIAI:
		v, ok := strings.CutPrefix(data, "(8004)")
		if !ok {
			return identifiers.ParseError("a GS1.GIAI value is written (8004)<GIAI>")
		}
		value = v
	}
	_, err := identifiers.ParseGS1(kind, value, serial)
	return err
}

// canWrite reports whether p may mint under, and write the values of, the
// enterprise owner's identifiers: its admins and members, or the platform's.
func canWrite(p *identity.Principal, owner uuid.UUID) bool {
	if p == nil || (p.Role != identity.RoleAdmin && p.Role != identity.RoleMember) {
		return false
	}
	return p.Kind == identity.KindPlatform || p.EnterpriseID == owner
}

// SetValues writes values of an identifier, each replacing the value at its
// index (0: the next free index). The owner's admins and members, or the
// platform's, may; the types MC.* and HS_* are the platform's own. A GS1
// alias is validated (check digit, lengths). The record's cached copies are
// dropped after the commit.
func (s *Service) SetValues(ctx context.Context, p *identity.Principal, handle string, values []ValueInput) (*Record, error) {
	if p == nil {
		return nil, errs.New(errs.Unauthenticated, nil, "a bearer token is required")
	}
	h, err := identifiers.Parse(handle)
	if err != nil {
		return nil, identifiers.At(err, []string{"input", "handle"})
	}
	if len(values) == 0 || len(values) > 100 {
		return nil, errs.Invalid([]string{"input", "values"}, "write 1 to 100 values at once")
	}
	var problems errs.List
	for i, v := range values {
		problems = append(problems, checkValue(v, []string{"input", "values", fmt.Sprint(i)}, false)...)
	}
	if len(problems) > 0 {
		return nil, problems
	}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var owner uuid.UUID
		err := tx.QueryRow(ctx, `SELECT owner_id FROM handles WHERE key = $1 FOR UPDATE`, h.Key()).Scan(&owner)
		if errors.Is(err, pgx.ErrNoRows) {
			return errs.New(errs.NotFound, []string{"input", "handle"}, "no identifier %s", h)
		}
		if err != nil {
			return err
		}
		if !canWrite(p, owner) {
			return errs.New(errs.Forbidden, []string{"input", "handle"}, "only the enterprise that owns %s writes its values", h)
		}
		for i, v := range values {
			at := []string{"input", "values", fmt.Sprint(i)}
			if err := checkPartners(ctx, tx, v.Partners, append(at, "partners")); err != nil {
				return err
			}
			if v.Index > 0 {
				// The platform's values (MC.*, HS_*) are not replaced by others.
				var cur string
				err := tx.QueryRow(ctx, `SELECT type FROM handle_values WHERE handle_key = $1 AND idx = $2`, h.Key(), v.Index).Scan(&cur)
				if err != nil && !errors.Is(err, pgx.ErrNoRows) {
					return err
				}
				if reserved(cur) && p.Kind != identity.KindPlatform {
					return errs.Invalid(append(at, "index"), "value %d is the platform's %s, which only the platform writes", v.Index, cur)
				}
			}
			if err := writeValue(ctx, tx, h.Key(), v, true); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.invalidate(ctx, h.Key())
	return loadRecord(ctx, s.db, h.Key())
}

func (s *Service) invalidate(ctx context.Context, keys ...string) {
	ks := make([]string, len(keys))
	for i, k := range keys {
		ks[i] = recordKey(k)
	}
	// A failed invalidation leaves an entry no older than its TTL: the
	// values' TTLs bound staleness, as they do for any Handle client.
	if err := s.cache.Invalidate(ctx, ks...); err != nil {
		slog.WarnContext(ctx, "identifier cache invalidation failed", "keys", ks, "err", err)
	}
}

func checkPartners(ctx context.Context, q querier, partners []uuid.UUID, path []string) error {
	if len(partners) == 0 {
		return nil
	}
	var n int
	if err := q.QueryRow(ctx, `SELECT count(*) FROM enterprises WHERE id = ANY($1)`, partners).Scan(&n); err != nil {
		return err
	}
	if n != len(uniq(partners)) {
		return errs.New(errs.NotFound, path, "a partner enterprise named does not exist")
	}
	return nil
}

func uniq(ids []uuid.UUID) []uuid.UUID {
	out := slices.Clone(ids)
	slices.SortFunc(out, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	return slices.Compact(out)
}

// writeValue upserts one value; with replace false an existing value at
// the index is kept (the journey's values are written once).
func writeValue(ctx context.Context, q querier, key string, v ValueInput, replace bool) error {
	ttl := DefaultTTL
	if v.TTL != nil {
		ttl = *v.TTL
	}
	readable := v.Readable
	if readable == "" {
		readable = ReadPublic
	}
	partners := v.Partners
	if partners == nil {
		partners = []uuid.UUID{}
	}
	idx := v.Index
	if idx == 0 {
		if err := q.QueryRow(ctx, `SELECT coalesce(max(idx), 0) + 1 FROM handle_values WHERE handle_key = $1`, key).Scan(&idx); err != nil {
			return err
		}
	}
	conflict := `DO NOTHING`
	if replace {
		conflict = `DO UPDATE SET type = excluded.type, data = excluded.data, ttl = excluded.ttl,
			readable = excluded.readable, partners = excluded.partners, updated_at = now()`
	}
	_, err := q.Exec(ctx, `INSERT INTO handle_values (handle_key, idx, type, data, ttl, readable, partners)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (handle_key, idx) `+conflict, key, idx, v.Type, v.Data, ttl, readable, partners)
	return err
}

// RemoteResolver resolves an identifier of another node (recursive
// resolution through the upper node); its answer names the node that gave it.
type RemoteResolver func(ctx context.Context, h identifiers.Handle, q identifiers.Query) (identifiers.Answer, error)

// ResolveText resolves any identifier for p: one that does not parse is
// answered 102; this node's from the registry (tagged with the node
// prefix, with the record it was read from); another node's through
// remote, or 301 when there is none. The record is nil but for a local
// identifier that exists.
func (s *Service) ResolveText(ctx context.Context, p *identity.Principal, text string, q identifiers.Query, remote RemoteResolver) (identifiers.Answer, *Record, error) {
	h, err := identifiers.Parse(text)
	if err != nil {
		var e *identifiers.Error
		if errors.As(err, &e) {
			return identifiers.Answer{ResponseCode: identifiers.CodeInvalid, Handle: text, Message: e.Err.Message}, nil, nil
		}
		return identifiers.Answer{}, nil, err
	}
	if !s.Local(h) {
		if remote == nil {
			return identifiers.Answer{ResponseCode: identifiers.CodeNotResponsible, Handle: h.String(),
				Message: fmt.Sprintf("%s is not under this node's prefix %s, and no upper node is configured", h, s.node)}, nil, nil
		}
		a, err := remote(ctx, h, q)
		return a, nil, err
	}
	a, rec, err := s.resolve(ctx, p, h, q)
	a.Node = s.node
	return a, rec, err
}
