package graph

import (
	"encoding/base64"
	"strings"

	"github.com/google/uuid"

	"github.com/masscustom/orchestrator/services/errs"
)

// Global ids are base64url("Type:uuid"): opaque to clients, and decodable to the
// type that node(id) must load.

// GlobalID returns the opaque id of an object of typ.
func GlobalID(typ string, id uuid.UUID) string {
	return base64.RawURLEncoding.EncodeToString([]byte(typ + ":" + id.String()))
}

// ParseGlobalID splits an opaque id into its type and uuid.
func ParseGlobalID(s string) (string, uuid.UUID, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", uuid.Nil, false
	}
	typ, id, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", uuid.Nil, false
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return "", uuid.Nil, false
	}
	return typ, u, true
}

// idOf decodes an id argument that must be of type typ; path names the input field.
func idOf(s, typ string, path ...string) (uuid.UUID, error) {
	t, u, ok := ParseGlobalID(s)
	if !ok || t != typ {
		return uuid.Nil, errs.Invalid(path, "not a %s id", typ)
	}
	return u, nil
}

// EquipmentRef turns the equipment id of a usage reading into the raw uuid
// that ingestion looks up: machines send either the global Equipment id the
// API hands out or the raw uuid printed on the machine. Anything else is
// passed on as it is, for ingestion to refuse as an unknown machine.
func EquipmentRef(s string) string {
	if t, u, ok := ParseGlobalID(strings.TrimSpace(s)); ok && t == typeEquipment {
		return u.String()
	}
	return s
}
