package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identifiers"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/store"
)

// ErrTaken is MintManyTx's refusal when a suffix, or a mint key, is taken
// already (by another enterprise's batch, or a concurrent mint of the same
// thing): nothing was minted, and the transaction can go on.
var ErrTaken = errs.New(errs.AlreadyExists, nil, "an identifier of the batch exists already")

// Item is one identifier of MintManyTx: its suffix, what it identifies and
// its values (PUBLIC or OWNER; no partners).
type Item struct {
	Suffix  string
	MintKey string
	Values  []ValueInput
}

// MintManyTx mints items of one owner, kind and order inside tx in one
// statement per table; every item is new (the caller knows none of its mint
// keys was minted); when a suffix or a mint key is taken, nothing is minted
// and the answer is ErrTaken.
func (s *Service) MintManyTx(ctx context.Context, tx pgx.Tx, owner uuid.UUID, kind string, orderID *uuid.UUID, items []Item) ([]identifiers.Handle, error) {
	prefix, err := s.ensurePrefix(ctx, tx, owner)
	if err != nil {
		return nil, err
	}
	out := make([]identifiers.Handle, len(items))
	keys, names, mintKeys := make([]string, len(items)), make([]string, len(items)), make([]string, len(items))
	var vKeys, vTypes, vData, vReadable []string
	var vIdx, vTTL []int32
	for i, it := range items {
		h, err := identifiers.Join(prefix, it.Suffix)
		if err != nil {
			return nil, err
		}
		out[i], keys[i], names[i], mintKeys[i] = h, h.Key(), h.String(), it.MintKey
		for j, v := range it.Values {
			idx, ttl, readable := v.Index, DefaultTTL, v.Readable
			if idx == 0 {
				idx = j + 1
			}
			if v.TTL != nil {
				ttl = *v.TTL
			}
			if readable == "" {
				readable = ReadPublic
			}
			vKeys, vIdx, vTypes, vData, vTTL, vReadable = append(vKeys, h.Key()), append(vIdx, int32(idx)), append(vTypes, v.Type),
				append(vData, v.Data), append(vTTL, int32(ttl)), append(vReadable, readable)
		}
	}
	// One statement: the identifiers and their values, in a savepoint, so
	// that a taken suffix or mint key leaves the caller's transaction as it
	// was and the caller may try other suffixes.
	sp, err := tx.Begin(ctx)
	if err != nil {
		return nil, err
	}
	var made int
	err = sp.QueryRow(ctx, `WITH h AS (
			INSERT INTO handles (key, handle, owner_id, kind, order_id, mint_key)
			SELECT k, n, $4, $5, $6, nullif(m, '') FROM unnest($1::text[], $2::text[], $3::text[]) AS t(k, n, m)
			ON CONFLICT (key) DO NOTHING RETURNING key
		), v AS (
			INSERT INTO handle_values (handle_key, idx, type, data, ttl, readable)
			SELECT t.* FROM unnest($7::text[], $8::int[], $9::text[], $10::text[], $11::int[], $12::text[]) AS t(k, i, ty, d, ttl, r)
			WHERE t.k IN (SELECT key FROM h) ON CONFLICT (handle_key, idx) DO NOTHING
		) SELECT count(*) FROM h`,
		keys, names, mintKeys, owner, kind, orderID, vKeys, vIdx, vTypes, vData, vTTL, vReadable).Scan(&made)
	if _, dup := store.IsUniqueViolation(err); dup || err == nil && made != len(items) {
		if rerr := sp.Rollback(ctx); rerr != nil {
			return nil, rerr
		}
		return nil, ErrTaken
	}
	if err != nil {
		return nil, err
	}
	if err := sp.Commit(ctx); err != nil {
		return nil, err
	}
	return out, nil
}

// SetValueTx writes a platform value (MC.*) of an identifier inside tx,
// replacing the value of that type; the caller invalidates the record
// after its commit (Invalidate).
func (s *Service) SetValueTx(ctx context.Context, tx pgx.Tx, key string, v ValueInput) error {
	// The handle's row lock orders this write with SetValues, which takes
	// it too, so a next free index is never taken twice.
	if _, err := tx.Exec(ctx, `SELECT 1 FROM handles WHERE key = $1 FOR UPDATE`, key); err != nil {
		return err
	}
	if v.Index == 0 {
		err := tx.QueryRow(ctx, `SELECT idx FROM handle_values WHERE handle_key = $1 AND type = $2`, key, v.Type).Scan(&v.Index)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
	}
	return writeValue(ctx, tx, key, v, true)
}

// Invalidate drops the cached records of the identifiers with these keys;
// call it after the commit of a write of their values.
func (s *Service) Invalidate(ctx context.Context, keys ...string) { s.invalidate(ctx, keys...) }

// BatchInput is a request to mint identifiers: either the suffixes named, or
// Count suffixes <Stem>-<n> (n from 1, zero-padded to 6 digits). Owner is
// the enterprise they are minted for: the caller's own, or any for the
// platform's staff. Values are written on each.
type BatchInput struct {
	Key      string
	Owner    *uuid.UUID
	Kind     string
	Suffixes []string
	Count    int
	Stem     string
	OrderID  *uuid.UUID
	Values   []ValueInput
}

// Batch is a minted batch.
type Batch struct {
	Key      string
	Owner    uuid.UUID
	Handles  []string
	Repeated bool // the key had minted this batch before: nothing new
}

// MintBatch mints up to MaxBatch identifiers at once, all or none,
// idempotent on the key: the same key with the same request answers the
// first batch, with another request it is ALREADY_EXISTS. A suffix taken is
// ALREADY_EXISTS on its input path and nothing is minted.
func (s *Service) MintBatch(ctx context.Context, p *identity.Principal, in BatchInput) (*Batch, error) {
	if p == nil {
		return nil, errs.New(errs.Unauthenticated, nil, "a bearer token is required")
	}
	owner := p.EnterpriseID
	if in.Owner != nil {
		owner = *in.Owner
	}
	if !canWrite(p, owner) {
		return nil, errs.New(errs.Forbidden, []string{"input", "owner"}, "an enterprise's admins and members mint under its own prefix only")
	}
	suffixes, problems := batchSuffixes(in)
	if in.Key == "" || len(in.Key) > 200 {
		problems = append(problems, errs.Invalid([]string{"input", "key"}, "the idempotency key is 1 to 200 characters"))
	}
	if !slices.Contains(Kinds, in.Kind) {
		problems = append(problems, errs.Invalid([]string{"input", "kind"}, "kind is one of %s", strings.Join(Kinds, ", ")))
	}
	if len(in.Values) > 20 {
		problems = append(problems, errs.Invalid([]string{"input", "values"}, "a batch writes at most 20 values on each identifier"))
	}
	for i, v := range in.Values {
		problems = append(problems, checkValue(v, []string{"input", "values", fmt.Sprint(i)}, false)...)
	}
	if len(problems) > 0 {
		return nil, problems
	}
	request, _ := json.Marshal(struct {
		Kind     string
		Suffixes []string
		OrderID  *uuid.UUID
		Values   []ValueInput
	}{in.Kind, suffixes, in.OrderID, in.Values})
	out := &Batch{Key: in.Key, Owner: owner}
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('mint:' || $1::text || ':' || $2))`, owner, in.Key); err != nil {
			return err
		}
		var prev string
		err := tx.QueryRow(ctx, `SELECT request, handles FROM mint_batches WHERE owner_id = $1 AND key = $2`, owner, in.Key).Scan(&prev, &out.Handles)
		if err == nil {
			if prev != string(request) {
				return errs.New(errs.AlreadyExists, []string{"input", "key"}, "the key %q minted another batch", in.Key)
			}
			out.Repeated = true
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM enterprises WHERE id = $1)`, owner).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return errs.New(errs.NotFound, []string{"input", "owner"}, "no enterprise %s", owner)
		}
		if in.OrderID != nil {
			// Only a party to the order ties identifiers to it: its
			// customer, its factory, its carrier, a supplier that took one
			// of its tasks (or the platform's staff, for any of them).
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM orders WHERE id = $1 AND ($3 OR customer_id = $2))
				OR EXISTS (SELECT 1 FROM production_orders WHERE order_id = $1 AND factory_id = $2)
				OR EXISTS (SELECT 1 FROM shipments WHERE order_id = $1 AND carrier_id = $2)
				OR EXISTS (SELECT 1 FROM procurement_tasks WHERE order_id = $1 AND supplier_id = $2 AND status IN ('ACCEPTED','SHIPPED','RECEIVED'))`,
				*in.OrderID, owner, p.Kind == identity.KindPlatform).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return errs.New(errs.NotFound, []string{"input", "orderId"}, "no order %s that the enterprise is party to", *in.OrderID)
			}
		}
		for i, v := range in.Values {
			if err := checkPartners(ctx, tx, v.Partners, []string{"input", "values", fmt.Sprint(i), "partners"}); err != nil {
				return err
			}
		}
		prefix, err := s.ensurePrefix(ctx, tx, owner)
		if err != nil {
			return err
		}
		keys, names := make([]string, len(suffixes)), make([]string, len(suffixes))
		var bad errs.List
		for i, sfx := range suffixes {
			h, err := identifiers.Join(prefix, sfx)
			if err != nil {
				bad = append(bad, identifiers.At(err, suffixPath(in, i)).(*identifiers.Error).Err)
				continue
			}
			keys[i], names[i] = h.Key(), h.String()
		}
		if len(bad) > 0 {
			return bad
		}
		rows, err := tx.Query(ctx, `INSERT INTO handles (key, handle, owner_id, kind, order_id)
			SELECT k, n, $3, $4, $5 FROM unnest($1::text[], $2::text[]) AS t(k, n)
			ON CONFLICT (key) DO NOTHING RETURNING key`, keys, names, owner, in.Kind, in.OrderID)
		if err != nil {
			return err
		}
		made := map[string]bool{}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return err
			}
			made[k] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i, k := range keys {
			if !made[k] {
				bad = append(bad, errs.New(errs.AlreadyExists, suffixPath(in, i), "the identifier %s exists already", names[i]))
				if len(bad) == 20 {
					break
				}
			}
		}
		if len(bad) > 0 {
			return bad
		}
		for i, v := range in.Values {
			idx := v.Index
			if idx == 0 {
				idx = i + 1
			}
			ttl, readable, partners := DefaultTTL, v.Readable, v.Partners
			if v.TTL != nil {
				ttl = *v.TTL
			}
			if readable == "" {
				readable = ReadPublic
			}
			if partners == nil {
				partners = []uuid.UUID{}
			}
			if _, err := tx.Exec(ctx, `INSERT INTO handle_values (handle_key, idx, type, data, ttl, readable, partners)
				SELECT k, $2, $3, $4, $5, $6, $7 FROM unnest($1::text[]) AS t(k) ON CONFLICT (handle_key, idx) DO NOTHING`,
				keys, idx, v.Type, v.Data, ttl, readable, partners); err != nil {
				return err
			}
		}
		out.Handles = names
		_, err = tx.Exec(ctx, `INSERT INTO mint_batches (owner_id, key, request, handles, created_by) VALUES ($1, $2, $3, $4, $5)`,
			owner, in.Key, string(request), names, identity.ActorID(p))
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func suffixPath(in BatchInput, i int) []string {
	if len(in.Suffixes) > 0 {
		return []string{"input", "suffixes", fmt.Sprint(i)}
	}
	return []string{"input", "stem"}
}

// batchSuffixes lists the suffixes a batch mints, refusing a request that
// names both or neither, more than MaxBatch, or the same suffix twice (case
// ignored).
func batchSuffixes(in BatchInput) ([]string, errs.List) {
	switch {
	case len(in.Suffixes) > 0 && (in.Count != 0 || in.Stem != ""):
		return nil, errs.List{errs.Invalid([]string{"input", "suffixes"}, "name the suffixes, or give a count and a stem, not both")}
	case len(in.Suffixes) > MaxBatch:
		return nil, errs.List{errs.Invalid([]string{"input", "suffixes"}, "a batch mints at most %d identifiers, not %d", MaxBatch, len(in.Suffixes))}
	case len(in.Suffixes) > 0:
		seen := map[string]int{}
		for i, s := range in.Suffixes {
			if j, ok := seen[strings.ToLower(s)]; ok {
				return nil, errs.List{errs.Invalid([]string{"input", "suffixes", fmt.Sprint(i)}, "the suffix %q repeats suffix %d (case is ignored)", s, j)}
			}
			seen[strings.ToLower(s)] = i
		}
		return in.Suffixes, nil
	case in.Count < 1 || in.Count > MaxBatch:
		return nil, errs.List{errs.Invalid([]string{"input", "count"}, "a batch mints 1 to %d identifiers", MaxBatch)}
	case in.Stem == "":
		return nil, errs.List{errs.Invalid([]string{"input", "stem"}, "a counted batch needs a stem: its suffixes are <stem>-000001 and on")}
	}
	out := make([]string, in.Count)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%06d", in.Stem, i+1)
	}
	return out, nil
}

// SkipTaken moves an enterprise's series past the serials its identifiers
// <stem>-<n> already have (case ignored): after a mint found its next
// serial taken, by a batch of the enterprise's own or by data from before
// the series, the next reservation is free.
func SkipTaken(ctx context.Context, tx pgx.Tx, owner uuid.UUID, series, stem string) error {
	like := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(stem)) + "-%"
	_, err := tx.Exec(ctx, `UPDATE handle_counters SET last = greatest(last, coalesce((
			SELECT max(substring(split_part(key, '/', 2) from '-([0-9]{1,18})$')::bigint) FROM handles
			WHERE owner_id = $1 AND split_part(key, '/', 2) LIKE $3), 0))
		WHERE owner_id = $1 AND series = $2`, owner, series, like)
	return err
}

// NextSerials reserves n serial numbers of an enterprise's series inside tx
// and returns the first (the others follow it).
func NextSerials(ctx context.Context, tx pgx.Tx, owner uuid.UUID, series string, n int) (int64, error) {
	var last int64
	err := tx.QueryRow(ctx, `INSERT INTO handle_counters (owner_id, series, last) VALUES ($1, $2, $3)
		ON CONFLICT (owner_id, series) DO UPDATE SET last = handle_counters.last + excluded.last RETURNING last`, owner, series, n).Scan(&last)
	return last - int64(n) + 1, err
}
