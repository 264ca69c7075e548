package genealogy

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identifiers"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/registry"
)

// Trace directions.
const (
	Downstream = "DOWNSTREAM" // what the identifier went into
	Upstream   = "UPSTREAM"   // what went into the identifier
)

// MaxDepth is the deepest trace.
const MaxDepth = 10

// Node is an identifier reached by a trace.
type Node struct {
	Handle  string
	Kind    string
	OwnerID uuid.UUID
	OrderID *uuid.UUID
	Depth   int
}

// AffectedOrder is an order a trace reached, with its customer and its open
// tickets. Detailed is false when the caller sees it only as a count and a
// stage (a supplier tracing its lot): then the ids and the customer are empty.
type AffectedOrder struct {
	OrderID      uuid.UUID
	CustomerID   uuid.UUID
	CustomerName string
	Stage        string
	Status       string
	Units        int
	Delivered    bool
	OpenTickets  []uuid.UUID
	Detailed     bool
}

// Trace is the answer of a trace.
type Trace struct {
	Root      string
	Direction string
	Depth     int
	// Counts by kind, of everything reached (also what the caller may not
	// see one by one).
	Counts map[string]int
	// Nodes are the identifiers the caller may see one by one.
	Nodes  []Node
	Orders []AffectedOrder
	// Summary is true when the caller sees where the root went only as
	// counts and order stages.
	Summary bool
}

// Units, Lots, Machines and Packages filter the nodes by kind.
func (t *Trace) Units() []Node    { return t.ofKind(registry.KindUnit) }
func (t *Trace) Lots() []Node     { return t.ofKind(registry.KindLot) }
func (t *Trace) Machines() []Node { return t.ofKind(registry.KindEquipment) }
func (t *Trace) Packages() []Node { return t.ofKind(registry.KindPackage) }

func (t *Trace) ofKind(k string) []Node {
	var out []Node
	for _, n := range t.Nodes {
		if n.Kind == k {
			out = append(out, n)
		}
	}
	return out
}

// Walk returns the identifier keys reachable from root in a direction, with
// their least depth, root excluded: one recursive query over the indexed
// edges. Postgres cannot estimate a recursive query's fan-out and guesses
// high, which on a large table crosses jit_above_cost and compiles every
// walk (milliseconds of a walk that takes a few), so the walk runs with JIT
// off, in a transaction of its own.
func Walk(ctx context.Context, db *pgxpool.Pool, root, direction string, depth int) (out map[string]int, err error) {
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
			return err
		}
		out, err = walk(ctx, tx, root, direction, depth)
		return err
	})
	return out, err
}

func walk(ctx context.Context, q pgx.Tx, root, direction string, depth int) (map[string]int, error) {
	from, to := "parent_key", "child_key"
	if direction == Upstream {
		from, to = to, from
	}
	rows, err := q.Query(ctx, `WITH RECURSIVE walk(key, depth) AS (
			SELECT $1::text, 0
			UNION
			SELECT e.`+to+`, w.depth + 1 FROM walk w JOIN genealogy_edges e ON e.`+from+` = w.key WHERE w.depth < $2
		) SELECT key, min(depth) FROM walk WHERE key <> $1 GROUP BY key`, root, depth)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var d int
		if err := rows.Scan(&k, &d); err != nil {
			return nil, err
		}
		out[k] = d
	}
	return out, rows.Err()
}

// Trace walks the genealogy of an identifier for p. Who may trace what: the
// platform's staff anything; an enterprise the identifiers it owns, a
// customer its own units and packages, a factory anything that went into or
// came out of what it produced. A supplier or lessor tracing its lot or
// machine downstream sees where it went as counts and order stages only,
// never the orders' customers; a factory sees the customers of the orders
// it produced; a customer only its own orders.
func (s *Service) Trace(ctx context.Context, p *identity.Principal, identifier, direction string, depth int) (*Trace, error) {
	if p == nil {
		return nil, errs.New(errs.Unauthenticated, nil, "a bearer token is required")
	}
	h, err := identifiers.Parse(identifier)
	if err != nil {
		return nil, identifiers.At(err, []string{"identifier"})
	}
	if direction != Downstream && direction != Upstream {
		return nil, errs.Invalid([]string{"direction"}, "direction is UPSTREAM or DOWNSTREAM")
	}
	if depth < 1 || depth > MaxDepth {
		return nil, errs.Invalid([]string{"maxDepth"}, "maxDepth is 1 to %d", MaxDepth)
	}
	root, err := s.Registry.Record(ctx, h)
	if err != nil {
		return nil, err
	}
	hidden := errs.New(errs.NotFound, []string{"identifier"}, "no identifier %s that you may trace", h)
	if root == nil {
		return nil, errs.New(errs.NotFound, []string{"identifier"}, "no identifier %s", h)
	}
	// Who may not trace it at all is told so before any walk: only a
	// factory's right depends on what the walk reaches.
	if p.Kind != identity.KindPlatform && p.Kind != identity.KindFactory && root.OwnerID != p.EnterpriseID &&
		(root.CustomerID == nil || *root.CustomerID != p.EnterpriseID) {
		return nil, hidden
	}
	reached, err := Walk(ctx, s.db, root.Key, direction, depth)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(reached))
	for k := range reached {
		keys = append(keys, k)
	}
	rows, err := s.db.Query(ctx, `SELECT key, handle, kind, owner_id, order_id FROM handles WHERE key = ANY($1)`, keys)
	if err != nil {
		return nil, err
	}
	nodes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Node, error) {
		var n Node
		var k string
		err := r.Scan(&k, &n.Handle, &n.Kind, &n.OwnerID, &n.OrderID)
		n.Depth = reached[k]
		return n, err
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(nodes, func(a, b Node) int {
		if a.Depth != b.Depth {
			return a.Depth - b.Depth
		}
		return strings.Compare(strings.ToLower(a.Handle), strings.ToLower(b.Handle))
	})
	orders, err := s.affectedOrders(ctx, nodes, root)
	if err != nil {
		return nil, err
	}
	t := &Trace{Root: root.Handle, Direction: direction, Depth: depth, Counts: map[string]int{}}
	for _, n := range nodes {
		t.Counts[n.Kind]++
	}
	t.Counts["ORDER"] = len(orders)
	customers := map[uuid.UUID]bool{}
	for _, o := range orders {
		customers[o.CustomerID] = true
	}
	t.Counts["CUSTOMER"] = len(customers)
	scope, ok := s.scope(ctx, p, root, nodes, orders)
	if !ok {
		return nil, hidden
	}
	switch scope {
	case scopeAll:
		t.Nodes, t.Orders = nodes, detailed(orders, func(AffectedOrder) bool { return true })
	case scopeFactory:
		// Its own identifiers, and the lots and machines in the genealogy;
		// other enterprises' units and packages (another lessee's, on a
		// leased machine) only as counts.
		for _, n := range nodes {
			if n.OwnerID == p.EnterpriseID || n.Kind == registry.KindLot || n.Kind == registry.KindEquipment {
				t.Nodes = append(t.Nodes, n)
			}
		}
		t.Orders = detailed(orders, func(o AffectedOrder) bool { return s.produced(ctx, p.EnterpriseID, o.OrderID) })
	case scopeCustomer:
		for _, n := range nodes {
			if n.Kind != registry.KindUnit && n.Kind != registry.KindPackage || n.OrderID != nil && ownOrder(orders, *n.OrderID, p.EnterpriseID) {
				t.Nodes = append(t.Nodes, n)
			}
		}
		for _, o := range orders {
			if o.CustomerID == p.EnterpriseID {
				o.Detailed = true
				t.Orders = append(t.Orders, o)
			}
		}
	case scopeSummary:
		t.Summary = true
		for _, n := range nodes {
			if n.OwnerID == p.EnterpriseID {
				t.Nodes = append(t.Nodes, n)
			}
		}
		t.Orders = detailed(orders, func(AffectedOrder) bool { return false })
	}
	return t, nil
}

func ownOrder(orders []AffectedOrder, id, customer uuid.UUID) bool {
	for _, o := range orders {
		if o.OrderID == id {
			return o.CustomerID == customer
		}
	}
	return false
}

// detailed keeps the orders' identities where show says so and blanks the
// rest to counts and stages.
func detailed(orders []AffectedOrder, show func(AffectedOrder) bool) []AffectedOrder {
	out := make([]AffectedOrder, len(orders))
	for i, o := range orders {
		if show(o) {
			o.Detailed = true
		} else {
			o = AffectedOrder{Stage: o.Stage, Status: o.Status, Units: o.Units, Delivered: o.Delivered}
		}
		out[i] = o
	}
	return out
}

type traceScope int

const (
	scopeAll traceScope = iota
	scopeFactory
	scopeCustomer
	scopeSummary
)

func (s *Service) scope(ctx context.Context, p *identity.Principal, root *registry.Record, nodes []Node, orders []AffectedOrder) (traceScope, bool) {
	switch {
	case p.Kind == identity.KindPlatform:
		return scopeAll, true
	case p.Kind == identity.KindCustomer:
		if root.CustomerID != nil && *root.CustomerID == p.EnterpriseID {
			return scopeCustomer, true
		}
		return 0, false
	case p.Kind == identity.KindFactory:
		if root.OwnerID == p.EnterpriseID {
			return scopeFactory, true
		}
		for _, n := range nodes {
			if n.OwnerID == p.EnterpriseID && (n.Kind == registry.KindUnit || n.Kind == registry.KindPackage) {
				return scopeFactory, true
			}
		}
		return 0, false
	case root.OwnerID == p.EnterpriseID:
		return scopeSummary, true
	}
	return 0, false
}

func (s *Service) produced(ctx context.Context, factory, order uuid.UUID) bool {
	var ok bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM production_orders WHERE order_id = $1 AND factory_id = $2)`, order, factory).Scan(&ok)
	return err == nil && ok
}

// affectedOrders groups the reached units (and the root, when it is one) by
// order, with the order's stage, customer, delivery and open tickets.
func (s *Service) affectedOrders(ctx context.Context, nodes []Node, root *registry.Record) ([]AffectedOrder, error) {
	units := map[uuid.UUID]int{}
	var ids []uuid.UUID
	count := func(kind string, order *uuid.UUID) {
		if order == nil || kind != registry.KindUnit && kind != registry.KindPackage {
			return
		}
		if _, ok := units[*order]; !ok {
			ids = append(ids, *order)
			units[*order] = 0
		}
		if kind == registry.KindUnit {
			units[*order]++
		}
	}
	count(root.Kind, root.OrderID)
	for _, n := range nodes {
		count(n.Kind, n.OrderID)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.db.Query(ctx, `SELECT o.id, o.customer_id, e.name, o.stage, o.status,
			coalesce(sh.status IN ('DELIVERED','CONFIRMED'), false),
			coalesce((SELECT array_agg(t.id ORDER BY t.number) FROM service_tickets t WHERE t.order_id = o.id AND t.status <> 'RESOLVED'), '{}')
		FROM orders o JOIN enterprises e ON e.id = o.customer_id LEFT JOIN shipments sh ON sh.order_id = o.id
		WHERE o.id = ANY($1) ORDER BY o.created_at, o.id`, ids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AffectedOrder, error) {
		var o AffectedOrder
		err := r.Scan(&o.OrderID, &o.CustomerID, &o.CustomerName, &o.Stage, &o.Status, &o.Delivered, &o.OpenTickets)
		o.Units = units[o.OrderID]
		return o, err
	})
}

// DefaultEvents and MaxEvents are how many events a listing gives without
// a first, and at most.
const (
	DefaultEvents = 500
	MaxEvents     = 1000
)

// EventFilter selects events: about an identifier (any role), of a business
// step, in a time range [From, To), of an order.
type EventFilter struct {
	Identifier string
	BizStep    string
	From, To   *time.Time
	OrderID    *uuid.UUID
	First      int
}

// StoredEvent is an event as stored, its JSON-LD body with the
// errorDeclaration of a correction merged in.
type StoredEvent struct {
	ID      string
	Type    string
	BizStep string
	At      time.Time
	OrderID *uuid.UUID
	By      *uuid.UUID
	Body    json.RawMessage
}

// Events lists events for p: the platform's staff all; an enterprise those
// it recorded, and a customer, factory or carrier those of the orders it
// placed, produces or carries. A supplier (or lessor) sees only what it
// recorded: where its lots went it learns from trace, as counts and stages.
// An identifier or an order filter is required of everyone but the staff.
func (s *Service) Events(ctx context.Context, p *identity.Principal, f EventFilter) ([]StoredEvent, error) {
	if p == nil {
		return nil, errs.New(errs.Unauthenticated, nil, "a bearer token is required")
	}
	var problems errs.List
	var key *string
	if f.Identifier != "" {
		h, err := identifiers.Parse(f.Identifier)
		if err != nil {
			problems = append(problems, identifiers.At(err, []string{"filter", "identifier"}).(*identifiers.Error).Err)
		} else {
			k := h.Key()
			key = &k
		}
	}
	if f.BizStep != "" && !slices.Contains(BizSteps, f.BizStep) {
		problems = append(problems, errs.Invalid([]string{"filter", "bizStep"}, "bizStep is one of %s", strings.Join(BizSteps, ", ")))
	}
	if f.From != nil && f.To != nil && !f.From.Before(*f.To) {
		problems = append(problems, errs.Invalid([]string{"filter", "to"}, "to must be after from"))
	}
	if f.First == 0 {
		f.First = DefaultEvents
	}
	if f.First < 1 || f.First > MaxEvents {
		problems = append(problems, errs.Invalid([]string{"filter", "first"}, "first is 1 to %d", MaxEvents))
	}
	if p.Kind != identity.KindPlatform && key == nil && f.OrderID == nil {
		problems = append(problems, errs.Invalid([]string{"filter", "identifier"}, "name an identifier or an order"))
	}
	if len(problems) > 0 {
		return nil, problems
	}
	var bizStep *string
	if f.BizStep != "" {
		bizStep = &f.BizStep
	}
	all := p.Kind == identity.KindPlatform
	rows, err := s.db.Query(ctx, `SELECT e.id, e.event_type, e.biz_step, e.event_time, e.order_id, e.recorded_by,
			CASE WHEN e.declared_error IS NULL THEN e.body ELSE e.body || jsonb_build_object('errorDeclaration', e.declared_error) END
		FROM epcis_events e
		WHERE ($1::text IS NULL OR e.id IN (SELECT event_id FROM epcis_event_ids WHERE handle_key = $1))
		  AND ($2::text IS NULL OR e.biz_step = $2)
		  AND ($3::timestamptz IS NULL OR e.event_time >= $3) AND ($4::timestamptz IS NULL OR e.event_time < $4)
		  AND ($5::uuid IS NULL OR e.order_id = $5)
		  AND ($6 OR e.recorded_by = $7 OR e.order_id IN (
			SELECT id FROM orders WHERE customer_id = $7 AND $8 = 'CUSTOMER'
			UNION SELECT order_id FROM production_orders WHERE factory_id = $7 AND $8 = 'FACTORY'
			UNION SELECT order_id FROM shipments WHERE carrier_id = $7 AND $8 = 'CARRIER'))
		ORDER BY e.event_time, e.id LIMIT $9`, key, bizStep, f.From, f.To, f.OrderID, all, p.EnterpriseID, string(p.Kind), f.First)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (StoredEvent, error) {
		var e StoredEvent
		err := r.Scan(&e.ID, &e.Type, &e.BizStep, &e.At, &e.OrderID, &e.By, &e.Body)
		return e, err
	})
}

// Export is the EPCIS 2.0 document of events.
func Export(events []StoredEvent, at time.Time) Document {
	raw := make([]json.RawMessage, len(events))
	for i, e := range events {
		raw[i] = e.Body
	}
	return NewDocument(raw, at)
}

// DeclareError marks an event as erroneous (an EPCIS errorDeclaration), by
// the enterprise that recorded it or the platform's staff: the event stays,
// exported with its declaration, the reason and the events that correct it.
func (s *Service) DeclareError(ctx context.Context, p *identity.Principal, eventID, reason string, corrective []string) (*StoredEvent, error) {
	if p == nil {
		return nil, errs.New(errs.Unauthenticated, nil, "a bearer token is required")
	}
	if n := len(reason); n < 1 || n > 200 {
		return nil, errs.Invalid([]string{"input", "reason"}, "the reason is 1 to 200 characters (CBV: incorrect_data, did_not_occur, …)")
	}
	if len(corrective) > 20 {
		return nil, errs.Invalid([]string{"input", "correctiveEventIds"}, "at most 20 corrective events")
	}
	var out StoredEvent
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var by *uuid.UUID
		var declared []byte
		err := tx.QueryRow(ctx, `SELECT recorded_by, declared_error FROM epcis_events WHERE id = $1 FOR UPDATE`, eventID).Scan(&by, &declared)
		if errors.Is(err, pgx.ErrNoRows) {
			return errs.New(errs.NotFound, []string{"input", "eventId"}, "no event %s", eventID)
		}
		if err != nil {
			return err
		}
		if p.Kind != identity.KindPlatform && (by == nil || *by != p.EnterpriseID || p.Role != identity.RoleAdmin && p.Role != identity.RoleMember) {
			return errs.New(errs.Forbidden, []string{"input", "eventId"}, "only the enterprise that recorded an event declares it erroneous")
		}
		if declared != nil {
			return errs.New(errs.IllegalState, []string{"input", "eventId"}, "the event was declared erroneous already")
		}
		for i, c := range corrective {
			var ok bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM epcis_events WHERE id = $1)`, c).Scan(&ok); err != nil {
				return err
			}
			if !ok || c == eventID {
				return errs.New(errs.NotFound, []string{"input", "correctiveEventIds", strconv.Itoa(i)}, "no other event %s", c)
			}
		}
		decl, _ := json.Marshal(ErrorDeclaration{DeclarationTime: stamp(time.Now()), Reason: reason, CorrectiveEventIDs: corrective})
		return tx.QueryRow(ctx, `UPDATE epcis_events SET declared_error = $2 WHERE id = $1
			RETURNING id, event_type, biz_step, event_time, order_id, recorded_by, body || jsonb_build_object('errorDeclaration', declared_error)`,
			eventID, decl).Scan(&out.ID, &out.Type, &out.BizStep, &out.At, &out.OrderID, &out.By, &out.Body)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}
