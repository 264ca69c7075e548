// Package schema holds the platform's contracts: the GraphQL SDL that gqlgen
// generates from, and the append-only Postgres migrations applied at start-up.
package schema

import "embed"

// Migrations are the Postgres migrations, named NNNN_name.sql and applied in order.
//
//go:embed postgres/*.sql
var Migrations embed.FS
