package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/masscustom/orchestrator/services/store"
)

// ErrNotFound is returned for a template id or code that does not exist.
var ErrNotFound = errors.New("template not found")

// Store keeps versioned templates in Postgres. A template version is immutable
// once published, so loaded versions are kept in memory for the process's life.
type Store struct {
	db     *pgxpool.Pool
	mu     sync.RWMutex
	loaded map[uuid.UUID]Stored
}

// NewStore returns the template store.
func NewStore(db *pgxpool.Pool) *Store {
	return &Store{db: db, loaded: map[uuid.UUID]Stored{}}
}

// Stored is a template version with its publication time.
type Stored struct {
	Template
	UUID        uuid.UUID
	PublishedAt time.Time
}

// Publish validates t and stores it as the next version of its code. The
// template's ID and Version are assigned here. Violations come back as data.
func (s *Store) Publish(ctx context.Context, t Template) (Stored, []Violation, error) {
	t.ID, t.Version = "", 1
	if v := Validate(t); len(v) > 0 {
		return Stored{}, v, nil
	}
	var out Stored
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		// Serialize publications of one code so versions are dense and unique.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('template:' || $1))`, t.Code); err != nil {
			return err
		}
		var last int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM product_templates WHERE code = $1`, t.Code).Scan(&last); err != nil {
			return err
		}
		id := uuid.New()
		t.ID, t.Version = id.String(), last+1
		body, err := json.Marshal(t)
		if err != nil {
			return err
		}
		out = Stored{Template: t, UUID: id}
		return tx.QueryRow(ctx, `INSERT INTO product_templates (id, code, version, name, currency, body) VALUES ($1,$2,$3,$4,$5,$6) RETURNING created_at`,
			id, t.Code, t.Version, t.Name, t.Currency, body).Scan(&out.PublishedAt)
	})
	if err != nil {
		return Stored{}, nil, fmt.Errorf("publish template %s: %w", t.Code, err)
	}
	return out, nil, nil
}

// EnsureSeeded publishes each template whose code has no version yet.
func (s *Store) EnsureSeeded(ctx context.Context, ts []Template) error {
	for _, t := range ts {
		var n int
		if err := s.db.QueryRow(ctx, `SELECT count(*) FROM product_templates WHERE code = $1`, t.Code).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		if _, v, err := s.Publish(ctx, t); err != nil {
			return err
		} else if len(v) > 0 {
			return fmt.Errorf("seed template %s is invalid: %s", t.Code, v[0].Message)
		}
	}
	return nil
}

// Get returns a template version by id.
func (s *Store) Get(ctx context.Context, id uuid.UUID) (Stored, error) {
	s.mu.RLock()
	cached, ok := s.loaded[id]
	s.mu.RUnlock()
	if ok {
		// The publication time is cached with the template: without it a
		// cached template answered publishedAt: null, which the schema forbids.
		return cached, nil
	}
	var t Template
	var body []byte
	var at time.Time
	err := s.db.QueryRow(ctx, `SELECT body, created_at FROM product_templates WHERE id = $1`, id).Scan(&body, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return Stored{}, ErrNotFound
	}
	if err != nil {
		return Stored{}, fmt.Errorf("load template: %w", err)
	}
	if err := json.Unmarshal(body, &t); err != nil {
		return Stored{}, fmt.Errorf("decode template %s: %w", id, err)
	}
	st := Stored{Template: t, UUID: id, PublishedAt: at}
	s.mu.Lock()
	s.loaded[id] = st
	s.mu.Unlock()
	return st, nil
}

// Latest lists the newest version of every template code, oldest code first.
func (s *Store) Latest(ctx context.Context, first int, after string) (store.Page[Stored], error) {
	key, err := store.ParseCursor(after)
	if err != nil {
		return store.Page[Stored]{}, err
	}
	limit := store.PageSize(first)
	var at, kid any
	if key != nil {
		at, kid = key.At, key.ID
	}
	rows, _ := s.db.Query(ctx, `
		SELECT id, body, created_at FROM (
			SELECT DISTINCT ON (code) id, body, created_at FROM product_templates ORDER BY code, version DESC) latest
		WHERE ($1::timestamptz IS NULL OR (created_at, id) > ($1, $2::uuid))
		ORDER BY created_at, id LIMIT $3`, at, kid, limit+1)
	var list []Stored
	defer rows.Close()
	for rows.Next() {
		var st Stored
		var body []byte
		if err := rows.Scan(&st.UUID, &body, &st.PublishedAt); err != nil {
			return store.Page[Stored]{}, err
		}
		if err := json.Unmarshal(body, &st.Template); err != nil {
			return store.Page[Stored]{}, fmt.Errorf("decode template %s: %w", st.UUID, err)
		}
		list = append(list, st)
	}
	if err := rows.Err(); err != nil {
		return store.Page[Stored]{}, err
	}
	return store.NewPage(list, limit, func(t Stored) store.Key { return store.Key{At: t.PublishedAt, ID: t.UUID} }), nil
}
