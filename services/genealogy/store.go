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
	tag, err := tx.Exec(ctx, `INSERT INTO epcis_events (id, event_type, action, biz_step, event_time, order_id, recorded_by, body)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
		ev.EventID, ev.Type, action, ev.BizStep, s.at, s.orderID, s.by, body)
	if err != nil || tag.RowsAffected() == 0 {
		return false, err
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
	if len(keys) > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO epcis_event_ids (handle_key, role, event_id, event_time)
			SELECT k, r, $3, $4 FROM unnest($1::text[], $2::text[]) AS t(k, r) ON CONFLICT DO NOTHING`, keys, roles, ev.EventID, s.at); err != nil {
			return false, err
		}
	}
	if len(s.edges) > 0 {
		parents, children, kinds := make([]string, len(s.edges)), make([]string, len(s.edges)), make([]string, len(s.edges))
		for i, e := range s.edges {
			parents[i], children[i], kinds[i] = e.Parent, e.Child, e.Kind
		}
		if _, err := tx.Exec(ctx, `INSERT INTO genealogy_edges (parent_key, child_key, kind, event_id)
			SELECT p, c, k, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS t(p, c, k) ON CONFLICT DO NOTHING`,
			parents, children, kinds, ev.EventID); err != nil {
			return false, err
		}
	}
	return true, nil
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
