package store

import (
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
)

// MaxPage caps every Relay connection's page size.
const MaxPage = 100

// ErrBadCursor is returned for an `after` cursor that this server did not produce.
var ErrBadCursor = errors.New("invalid cursor")

// Key is a keyset position: lists are ordered by (created_at, id).
type Key struct {
	At time.Time
	ID uuid.UUID
}

// Cursor encodes a keyset position as an opaque string.
func Cursor(k Key) string {
	return base64.RawURLEncoding.EncodeToString([]byte(k.At.UTC().Format(time.RFC3339Nano) + "|" + k.ID.String()))
}

// ParseCursor decodes a cursor; the empty string means the start.
func ParseCursor(s string) (*Key, error) {
	if s == "" {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, ErrBadCursor
	}
	at, id, ok := strings.Cut(string(raw), "|")
	if !ok {
		return nil, ErrBadCursor
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return nil, ErrBadCursor
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return nil, ErrBadCursor
	}
	return &Key{At: t, ID: u}, nil
}

// PageSize clamps a requested page size to [1, MaxPage]; 0 or less means the default.
func PageSize(first int) int {
	switch {
	case first <= 0:
		return 20
	case first > MaxPage:
		return MaxPage
	default:
		return first
	}
}
