package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/masscustom/orchestrator/graph"
	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/identity"
)

// The outcomes an operation can have for a caller.
const (
	allowed = "ALLOWED"
	denied  = "FORBIDDEN"
	noAuth  = "UNAUTHENTICATED"
	hidden  = "HIDDEN"    // node(id) answers null: invisible objects look like missing ones
	missing = "NOT_FOUND" // a mutation on what the caller cannot see: as if it did not exist
)

// fixture is what one caller acts on: its own enterprise, a colleague in it with a
// spare token, and an enterprise that is not its own.
type fixture struct {
	self, colleague, stranger identity.Account
	spareTokenID              string
	strangerTokenID           string // a spare token of the stranger
}

type operation struct {
	name  string
	query func(f fixture) (string, map[string]any)
	// field is the root field; payload operations report refusals in errors.
	field   string
	payload bool
}

var operations = []operation{
	{name: "viewer", field: "viewer", query: func(fixture) (string, map[string]any) {
		return `{ viewer { user { email } enterprise { name } permissions } }`, nil
	}},
	{name: "enterprises", field: "enterprises", query: func(fixture) (string, map[string]any) {
		return `{ enterprises(first: 5) { edges { node { name } } } }`, nil
	}},
	{name: "node(own enterprise)", field: "node", query: func(f fixture) (string, map[string]any) {
		return `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": graph.GlobalID("Enterprise", f.self.Enterprise.ID)}
	}},
	{name: "node(other enterprise)", field: "node", query: func(f fixture) (string, map[string]any) {
		return `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": graph.GlobalID("Enterprise", f.stranger.Enterprise.ID)}
	}},
	{name: "node(colleague)", field: "node", query: func(f fixture) (string, map[string]any) {
		return `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": graph.GlobalID("User", f.colleague.User.ID)}
	}},
	{name: "users(own enterprise)", field: "node", query: func(f fixture) (string, map[string]any) {
		return `query($id: ID!) { node(id: $id) { ... on Enterprise { users { edges { node { email } } } } } }`,
			map[string]any{"id": graph.GlobalID("Enterprise", f.self.Enterprise.ID)}
	}},
	{name: "createEnterprise", field: "createEnterprise", payload: true, query: func(fixture) (string, map[string]any) {
		return `mutation($n: String!) { createEnterprise(input: {kind: SUPPLIER, name: $n}) { enterprise { id } errors { code } } }`,
			map[string]any{"n": "Matrix supplier " + testenv.Suffix()}
	}},
	{name: "createUser(own enterprise)", field: "createUser", payload: true, query: func(f fixture) (string, map[string]any) {
		return `mutation($e: ID!, $m: String!) { createUser(input: {enterpriseId: $e, email: $m, name: "New", role: MEMBER}) { user { id } errors { code } } }`,
			map[string]any{"e": graph.GlobalID("Enterprise", f.self.Enterprise.ID), "m": "new." + testenv.Suffix() + "@test.example"}
	}},
	{name: "createUser(other enterprise)", field: "createUser", payload: true, query: func(f fixture) (string, map[string]any) {
		return `mutation($e: ID!, $m: String!) { createUser(input: {enterpriseId: $e, email: $m, name: "New", role: MEMBER}) { user { id } errors { code } } }`,
			map[string]any{"e": graph.GlobalID("Enterprise", f.stranger.Enterprise.ID), "m": "new." + testenv.Suffix() + "@test.example"}
	}},
	{name: "createApiToken(self)", field: "createApiToken", payload: true, query: func(f fixture) (string, map[string]any) {
		return `mutation($u: ID!) { createApiToken(input: {userId: $u, name: "mine"}) { secret errors { code } } }`,
			map[string]any{"u": graph.GlobalID("User", f.self.User.ID)}
	}},
	{name: "createApiToken(colleague)", field: "createApiToken", payload: true, query: func(f fixture) (string, map[string]any) {
		return `mutation($u: ID!) { createApiToken(input: {userId: $u, name: "theirs"}) { secret errors { code } } }`,
			map[string]any{"u": graph.GlobalID("User", f.colleague.User.ID)}
	}},
	{name: "createApiToken(other enterprise)", field: "createApiToken", payload: true, query: func(f fixture) (string, map[string]any) {
		return `mutation($u: ID!) { createApiToken(input: {userId: $u, name: "theirs"}) { secret errors { code } } }`,
			map[string]any{"u": graph.GlobalID("User", f.stranger.User.ID)}
	}},
	{name: "colleague's apiTokens", field: "node", query: func(f fixture) (string, map[string]any) {
		return `query($id: ID!) { node(id: $id) { ... on User { apiTokens { edges { node { prefix } } } } } }`,
			map[string]any{"id": graph.GlobalID("User", f.colleague.User.ID)}
	}},
	{name: "revokeApiToken(colleague)", field: "revokeApiToken", payload: true, query: func(f fixture) (string, map[string]any) {
		return `mutation($t: ID!) { revokeApiToken(input: {tokenId: $t}) { apiToken { revokedAt } errors { code } } }`,
			map[string]any{"t": f.spareTokenID}
	}},
	{name: "revokeApiToken(other enterprise)", field: "revokeApiToken", payload: true, query: func(f fixture) (string, map[string]any) {
		return `mutation($t: ID!) { revokeApiToken(input: {tokenId: $t}) { apiToken { revokedAt } errors { code } } }`,
			map[string]any{"t": f.strangerTokenID}
	}},
	{name: "createUser(missing enterprise)", field: "createUser", payload: true, query: func(fixture) (string, map[string]any) {
		return `mutation($e: ID!, $m: String!) { createUser(input: {enterpriseId: $e, email: $m, name: "New", role: MEMBER}) { user { id } errors { code } } }`,
			map[string]any{"e": graph.GlobalID("Enterprise", uuid.New()), "m": "new." + testenv.Suffix() + "@test.example"}
	}},
	{name: "createApiToken(missing user)", field: "createApiToken", payload: true, query: func(fixture) (string, map[string]any) {
		return `mutation($u: ID!) { createApiToken(input: {userId: $u, name: "nobody's"}) { secret errors { code } } }`,
			map[string]any{"u": graph.GlobalID("User", uuid.New())}
	}},
	{name: "revokeApiToken(missing token)", field: "revokeApiToken", payload: true, query: func(fixture) (string, map[string]any) {
		return `mutation($t: ID!) { revokeApiToken(input: {tokenId: $t}) { apiToken { revokedAt } errors { code } } }`,
			map[string]any{"t": graph.GlobalID("ApiToken", uuid.New())}
	}},
}

// expected is the authorization matrix, written out by hand from the product's
// rules (not derived from the policy table it checks).
func expected(kind identity.Kind, role identity.Role, op string) string {
	if kind == "" {
		return noAuth
	}
	platform := kind == identity.KindPlatform
	admin := role == identity.RoleAdmin
	switch op {
	case "viewer", "enterprises", "node(own enterprise)", "createApiToken(self)":
		return allowed
	case "node(other enterprise)":
		if platform {
			return allowed
		}
		return hidden
	case "node(colleague)":
		if platform || admin {
			return allowed
		}
		return hidden
	case "users(own enterprise)":
		if platform || admin {
			return allowed
		}
		return denied
	case "colleague's apiTokens":
		if platform || admin {
			return allowed
		}
		return hidden // the colleague itself is invisible to them
	case "createEnterprise":
		if platform && admin {
			return allowed
		}
		return denied
	case "createUser(other enterprise)", "createApiToken(other enterprise)", "revokeApiToken(other enterprise)":
		// The operator sees every enterprise (only its admins act on them);
		// to everybody else another enterprise's objects do not exist.
		switch {
		case platform && admin:
			return allowed
		case platform:
			return denied
		}
		return missing
	case "createUser(own enterprise)":
		if admin {
			return allowed
		}
		return denied
	case "createApiToken(colleague)", "revokeApiToken(colleague)":
		switch {
		case admin:
			return allowed
		case platform:
			return denied // platform users see their colleagues
		}
		return missing // the colleague itself is invisible to them
	case "createUser(missing enterprise)", "createApiToken(missing user)", "revokeApiToken(missing token)":
		return missing
	}
	panic("no expectation for " + op)
}

// outcome classifies an answer.
func outcome(t *testing.T, op operation, r testenv.Response) string {
	t.Helper()
	if len(r.Errors) > 0 {
		return r.Code()
	}
	raw := r.Data[op.field]
	if string(raw) == "null" {
		return hidden
	}
	if op.payload {
		var p struct {
			Errors []struct{ Code string } `json:"errors"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatalf("%s: %v", op.name, err)
		}
		if len(p.Errors) > 0 {
			return p.Errors[0].Code
		}
	}
	return allowed
}

// TestAuthorizationMatrix runs every operation as every kind and role (and as
// nobody) through the real gateway, Postgres and Redis.
func TestAuthorizationMatrix(t *testing.T) {
	srv, p := gateway(t)
	url := srv.URL + "/graphql"
	stranger := testenv.Account(t, p, identity.KindCustomer, identity.RoleAdmin)

	type caller struct {
		kind identity.Kind
		role identity.Role
	}
	callers := []caller{{}}
	for _, k := range identity.Kinds {
		for _, r := range []identity.Role{identity.RoleAdmin, identity.RoleMember, identity.RoleFinance, identity.RoleViewer} {
			callers = append(callers, caller{k, r})
		}
	}
	var failures []string
	checked := 0
	for _, c := range callers {
		var f fixture
		f.stranger = stranger
		token := ""
		if c.kind != "" {
			f.self = testenv.Account(t, p, c.kind, c.role)
			token = f.self.Secret
		} else {
			f.self = testenv.Account(t, p, identity.KindCustomer, identity.RoleMember)
		}
		f.colleague = testenv.Member(t, p, f.self.Enterprise, identity.RoleMember)
		// The spare token belongs to the colleague so that revoking it never locks the caller out.
		spare, _, err := p.Identity.CreateToken(context.Background(), identity.System, f.colleague.User.ID, "spare", nil)
		if err != nil {
			t.Fatal(err)
		}
		f.spareTokenID = graph.GlobalID("ApiToken", spare.ID)
		theirs, _, err := p.Identity.CreateToken(context.Background(), identity.System, stranger.User.ID, "spare", nil)
		if err != nil {
			t.Fatal(err)
		}
		f.strangerTokenID = graph.GlobalID("ApiToken", theirs.ID)
		client := testenv.Client{URL: url, Token: token}
		for _, op := range operations {
			q, vars := op.query(f)
			got := outcome(t, op, client.Do(t, q, vars))
			want := expected(c.kind, c.role, op.name)
			checked++
			if got != want {
				failures = append(failures, fmt.Sprintf("%-8s %-7s %-34s got %-16s want %s", c.kind, c.role, op.name, got, want))
			}
		}
	}
	if len(failures) > 0 {
		t.Fatalf("%d of %d cells differ:\n%s", len(failures), checked, strings.Join(failures, "\n"))
	}
	t.Logf("authorization matrix: %d callers x %d operations = %d cells checked", len(callers), len(operations), checked)
}
