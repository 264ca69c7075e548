package genealogy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identifiers"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/registry"
)

// EventRecall is the timeline event of an order a recall reached.
const EventRecall = "RECALL"

// Notify is how a recall reaches the orders: a service ticket on a
// delivered order (through the order's workflow, which owns its tickets)
// and an event on every affected order's timeline. Both must be idempotent
// on the key they are given.
type Notify struct {
	OpenTicket func(ctx context.Context, orderID uuid.UUID, key, description string) error
	Timeline   func(ctx context.Context, orderID uuid.UUID, key, message string, data map[string]any) error
}

// Recall is a started recall and what it reached.
type Recall struct {
	ID        uuid.UUID
	Root      string
	Reason    string
	Affected  []string // the identifiers marked that the caller may be told of, the root first
	Count     int      // the identifiers marked
	Orders    []AffectedOrder
	Tickets   int // service tickets opened (or found open from before)
	CreatedAt time.Time
	Repeated  bool
}

var recallNS = uuid.MustParse("5b7c1d3e-2f4a-4b6c-8d9e-0a1b2c3d4e5f")

// StartRecall recalls an identifier and everything downstream of it: each is
// marked with a public MC.RECALL_STATUS value, each delivered affected order
// gets a service ticket and each affected order a RECALL event on its
// timeline, so its customer sees it live. The operator's admins and members
// may recall anything; a supplier or factory what it owns. The key makes it
// idempotent: the same key again completes what an interrupted call left
// and answers the same recall; another identifier or reason under it is
// ALREADY_EXISTS.
func (s *Service) StartRecall(ctx context.Context, p *identity.Principal, identifier, reason, key string, n Notify) (*Recall, error) {
	if p == nil {
		return nil, errs.New(errs.Unauthenticated, nil, "a bearer token is required")
	}
	h, err := identifiers.Parse(identifier)
	if err != nil {
		return nil, identifiers.At(err, []string{"input", "identifier"})
	}
	reason = strings.TrimSpace(reason)
	var problems errs.List
	if l := len([]rune(reason)); l < 1 || l > 200 {
		problems = append(problems, errs.Invalid([]string{"input", "reason"}, "the reason is 1 to 200 characters"))
	}
	if l := len(key); l < 1 || l > 200 {
		problems = append(problems, errs.Invalid([]string{"input", "key"}, "the key is 1 to 200 characters"))
	}
	if len(problems) > 0 {
		return nil, problems
	}
	root, err := s.Registry.Record(ctx, h)
	if err != nil {
		return nil, err
	}
	if root == nil {
		return nil, errs.New(errs.NotFound, []string{"input", "identifier"}, "no identifier %s", h)
	}
	if !mayRecall(p, root) {
		return nil, errs.New(errs.Forbidden, []string{"input", "identifier"}, "only the operator, or the supplier or factory that owns %s, may recall it", root.Handle)
	}
	scope := p.EnterpriseID
	if p.Kind == identity.KindPlatform {
		scope = uuid.Nil
	}
	rc := &Recall{ID: uuid.NewSHA1(recallNS, []byte(scope.String()+"/"+key)), Root: root.Handle, Reason: reason}
	reached, err := Walk(ctx, s.db, root.Key, Downstream, MaxDepth)
	if err != nil {
		return nil, err
	}
	keys := []string{root.Key}
	for k := range reached {
		keys = append(keys, k)
	}
	status := fmt.Sprintf("RECALLED %s: %s", time.Now().UTC().Format("2006-01-02"), reason)
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var prevRoot, prevReason string
		err := tx.QueryRow(ctx, `SELECT handle_key, reason, created_at FROM recalls WHERE id = $1 FOR UPDATE`, rc.ID).Scan(&prevRoot, &prevReason, &rc.CreatedAt)
		if err == nil {
			if prevRoot != root.Key || prevReason != reason {
				return errs.New(errs.AlreadyExists, []string{"input", "key"}, "the key %q started another recall", key)
			}
			rc.Repeated = true
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		for _, k := range keys {
			if err := s.Registry.SetValueTx(ctx, tx, k, registry.ValueInput{Type: registry.TypeRecall, Data: clip(status + " (recall " + rc.ID.String() + ")"),
				Readable: registry.ReadPublic}); err != nil {
				return err
			}
		}
		return tx.QueryRow(ctx, `INSERT INTO recalls (id, handle_key, reason, started_by, enterprise_id, affected, orders)
			VALUES ($1, $2, $3, $4, $5, $6, '{}') RETURNING created_at`,
			rc.ID, root.Key, reason, identity.ActorID(p), enterpriseOf(p), len(keys)).Scan(&rc.CreatedAt)
	})
	if err != nil {
		return nil, err
	}
	s.Registry.Invalidate(ctx, keys...)
	rows, err := s.db.Query(ctx, `SELECT key, handle, kind, owner_id, order_id FROM handles WHERE key = ANY($1)`, keys)
	if err != nil {
		return nil, err
	}
	byKey := map[string]Node{}
	for rows.Next() {
		var k string
		var n Node
		if err := rows.Scan(&k, &n.Handle, &n.Kind, &n.OwnerID, &n.OrderID); err != nil {
			rows.Close()
			return nil, err
		}
		byKey[k] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rc.Count = len(keys)
	nodes := make([]Node, 0, len(reached))
	for _, k := range keys {
		n := byKey[k]
		// The operator is told every identifier marked; a supplier or a
		// factory its own, the rest as the count.
		if p.Kind == identity.KindPlatform || n.OwnerID == p.EnterpriseID {
			rc.Affected = append(rc.Affected, n.Handle)
		}
		if k != root.Key {
			nodes = append(nodes, n)
		}
	}
	if rc.Orders, err = s.affectedOrders(ctx, nodes, root); err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, len(rc.Orders))
	for i, o := range rc.Orders {
		ids[i] = o.OrderID
		msg := fmt.Sprintf("Recall of %s: %s. %d of this order's units are affected.", root.Handle, reason, o.Units)
		data := map[string]any{"recallId": rc.ID.String(), "identifier": root.Handle, "reason": reason, "units": o.Units}
		if n.Timeline != nil {
			if err := n.Timeline(ctx, o.OrderID, "recall:"+rc.ID.String(), msg, data); err != nil {
				return nil, fmt.Errorf("recall %s: timeline of order %s: %w", rc.ID, o.OrderID, err)
			}
		}
		if o.Delivered && n.OpenTicket != nil {
			if err := n.OpenTicket(ctx, o.OrderID, "recall-"+rc.ID.String(), msg); err != nil {
				// A warranty that has ended has no tickets: the timeline event
				// and the recall status still reach the customer.
				slog.WarnContext(ctx, "recall ticket not opened", "recall", rc.ID, "order", o.OrderID, "err", err)
				continue
			}
			rc.Tickets++
		}
	}
	if _, err := s.db.Exec(ctx, `UPDATE recalls SET orders = $2 WHERE id = $1`, rc.ID, ids); err != nil {
		return nil, err
	}
	// The orders reached, as trace shows them to the caller: the operator
	// and the factory that produced them see which they are; a supplier
	// counts and stages.
	rc.Orders = detailed(rc.Orders, func(o AffectedOrder) bool {
		return p.Kind == identity.KindPlatform || p.Kind == identity.KindFactory && s.produced(ctx, p.EnterpriseID, o.OrderID)
	})
	return rc, nil
}

func mayRecall(p *identity.Principal, root *registry.Record) bool {
	if p.Role != identity.RoleAdmin && p.Role != identity.RoleMember {
		return false
	}
	if p.Kind == identity.KindPlatform {
		return true
	}
	return (p.Kind == identity.KindSupplier || p.Kind == identity.KindFactory) && root.OwnerID == p.EnterpriseID
}

func enterpriseOf(p *identity.Principal) *uuid.UUID {
	if p.EnterpriseID == uuid.Nil {
		return nil
	}
	id := p.EnterpriseID
	return &id
}
