// Package store owns the Postgres pool, the migrations and the transaction helper
// that every service uses. SQL itself lives in the service that owns the table.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// MaxConns is the pool size unless DATABASE_URL sets pool_max_conns. Each
// write holds one connection for one transaction, so a pool this size serves
// the worker's local activities and the gateway's reads without waits.
const MaxConns = 32

// Connect opens a pool and checks that Postgres answers within the timeout, so a
// missing database is reported at start-up in one line, not at the first request.
func Connect(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: invalid DATABASE_URL: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		// pgx's default (max(4, CPUs)) is too small for a worker that runs
		// many orders' writes at once.
		cfg.MaxConns = MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres at %s:%d is not reachable (%v); `make run` starts it", cfg.ConnConfig.Host, cfg.ConnConfig.Port, rootCause(err))
	}
	return pool, nil
}

func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// migrationLock is the advisory lock key that serializes concurrent start-ups.
const migrationLock = 7_231_004_117

// Migrate applies the migrations in fsys (files NNNN_name.sql at its root or in
// one folder) that have not been applied yet, each in its own transaction, under
// an advisory lock so that a gateway and a worker starting together do not race.
// A landed migration whose content changed is refused: migrations are append-only.
func Migrate(ctx context.Context, pool *pgxpool.Pool, fsys fs.FS) error {
	files, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return err
	}
	more, err := fs.Glob(fsys, "*/*.sql")
	if err != nil {
		return err
	}
	files = append(files, more...)
	sort.Slice(files, func(i, j int) bool { return base(files[i]) < base(files[j]) })

	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock)
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	applied := map[string]string{}
	rows, err := conn.Query(ctx, `SELECT name, checksum FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for rows.Next() {
		var n, c string
		if err := rows.Scan(&n, &c); err != nil {
			return err
		}
		applied[n] = c
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, f := range files {
		body, err := fs.ReadFile(fsys, f)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		checksum := hex.EncodeToString(sum[:])
		name := base(f)
		if prev, ok := applied[name]; ok {
			if prev != checksum {
				return fmt.Errorf("migrate: %s changed after it was applied; migrations are append-only, add a new one", name)
			}
			continue
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)`, name, checksum)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate: %s: %w", name, err)
		}
		slog.InfoContext(ctx, "migration applied", "name", name)
	}
	return nil
}

func base(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// IsUniqueViolation reports whether err is a unique-constraint violation, and of which constraint.
func IsUniqueViolation(err error) (string, bool) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return pe.ConstraintName, true
	}
	return "", false
}
