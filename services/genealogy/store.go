package genealogy

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/masscustom/orchestrator/services/registry"
)

// Service records and reads the genealogy.
type Service struct {
	db       *pgxpool.Pool
	Registry *registry.Service
}

// New returns the genealogy service over the registry reg.
func New(db *pgxpool.Pool, reg *registry.Service) *Service { return &Service{db: db, Registry: reg} }

// The roles an identifier has in an event.
const (
	RoleEPC       = "EPC"
	RoleParent    = "PARENT"
	RoleChild     = "CHILD"
	RoleInput     = "INPUT"
	RoleOutput    = "OUTPUT"
	RoleReadPoint = "READ_POINT"
)

// The kinds of genealogy edge.
const (
	EdgeInput   = "INPUT"
	EdgeMachine = "MACHINE"
	EdgePacked  = "PACKED"
)

// Edge is one "went into" of the genealogy, by identifier key.
type Edge struct {
	Parent, Child, Kind string
}

// stored is an event about to be written: the event, its business key, its
// order and recording enterprise, the edges it adds.
type stored struct {
	key     string
	event   Event
	at      time.Time
	orderID *uuid.UUID
	by      *uuid.UUID
	edges   []Edge
}

// write stores an event once, with the identifiers it names and its edges;
// it reports whether it was new.
func write(ctx context.Context, tx pgx.Tx, s stored) (bool, error) {
	ev := s.event
	ev.EventID = EventID(s.key)
	ev.EventTime = stamp(s.at)
	ev.EventTimeZoneOffset = "+00:00"
	body, err := json.Marshal(ev)
	if err != nil {
		return false, err
	}
	var action *string
	if ev.Action != "" {
		action = &ev.Action
	}
	var keys, roles []string
	add := func(role string, uris ...string) {
		for _, u := range uris {
			if h := HandleOf(u); h != "" {
				keys, roles = append(keys, strings.ToLower(h)), append(roles, role)
			}
		}
	}
	add(RoleEPC, ev.EPCList...)
	for _, q := range ev.QuantityList {
		add(RoleEPC, q.EPCClass)
	}
	add(RoleParent, ev.ParentID)
	add(RoleChild, ev.ChildEPCs...)
	add(RoleInput, ev.InputEPCList...)
	for _, q := range ev.InputQuantityList {
		add(RoleInput, q.EPCClass)
	}
	add(RoleOutput, ev.OutputEPCList...)
	if ev.ReadPoint != nil {
		add(RoleReadPoint, ev.ReadPoint.ID)
	}
	parents, children, kinds := make([]string, len(s.edges)), make([]string, len(s.edges)), make([]string, len(s.edges))
	for i, e := range s.edges {
		parents[i], children[i], kinds[i] = e.Parent, e.Child, e.Kind
	}
	// One statement: the event, the identifiers it names and its edges, all
	// or (when the event was stored before) none.
	var fresh bool
	err = tx.QueryRow(ctx, `WITH ev AS (
			INSERT INTO epcis_events (id, event_type, action, biz_step, event_time, order_id, recorded_by, body)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING RETURNING id
		), ids AS (
			INSERT INTO epcis_event_ids (handle_key, role, event_id, event_time)
			SELECT k, r, ev.id, $5 FROM unnest($9::text[], $10::text[]) AS t(k, r), ev ON CONFLICT DO NOTHING
		), edges AS (
			INSERT INTO genealogy_edges (parent_key, child_key, kind, event_id)
			SELECT p, c, k, ev.id FROM unnest($11::text[], $12::text[], $13::text[]) AS t(p, c, k), ev ON CONFLICT DO NOTHING
		) SELECT EXISTS (SELECT 1 FROM ev)`,
		ev.EventID, ev.Type, action, ev.BizStep, s.at, s.orderID, s.by, body, keys, roles, parents, children, kinds).Scan(&fresh)
	if err != nil {
		return false, err
	}
	return fresh, nil
}

func uris(handles []string) []string {
	out := make([]string, len(handles))
	for i, h := range handles {
		out[i] = URI(h)
	}
	return out
}

func keysOf(handles []string) []string {
	out := make([]string, len(handles))
	for i, h := range handles {
		out[i] = strings.ToLower(h)
	}
	return out
}
