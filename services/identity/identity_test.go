package identity_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
)

func principal(a identity.Account) *identity.Principal {
	return &identity.Principal{UserID: a.User.ID, EnterpriseID: a.Enterprise.ID, Kind: a.Enterprise.Kind, Role: a.User.Role, TokenID: a.TokenID}
}

// requireOn requires err to be a refusal of code on the dot-joined path, with a message.
func requireOn(t *testing.T, name string, err error, code errs.Code, path string) {
	t.Helper()
	var list errs.List
	if errors.As(err, &list) && len(list) == 1 {
		err = list[0]
	}
	e, ok := errs.As(err)
	if !ok || e.Code != code || strings.Join(e.Field, ".") != path || e.Message == "" {
		t.Errorf("%s: %v, want %s on %q with a message", name, err, code, path)
	}
}

func TestWhatTheCallerCannotSeeIsNotFoundAndWhatItSeesButMayNotTouchIsForbidden(t *testing.T) {
	t.Parallel()
	p := testenv.Platform(t)
	ctx := context.Background()
	svc := p.Identity
	admin := testenv.Account(t, p, identity.KindFactory, identity.RoleAdmin)
	member := testenv.Member(t, p, admin.Enterprise, identity.RoleMember)
	stranger := testenv.Account(t, p, identity.KindSupplier, identity.RoleAdmin)
	operator := testenv.Account(t, p, identity.KindPlatform, identity.RoleMember)
	theirs, _, err := svc.CreateToken(ctx, identity.System, stranger.User.ID, "spare", nil)
	if err != nil {
		t.Fatal(err)
	}
	email := func() string { return "id." + testenv.Suffix() + "@test.example" }

	_, err = svc.CreateUser(ctx, principal(admin), stranger.Enterprise.ID, email(), "X", identity.RoleMember)
	requireOn(t, "a user in another enterprise", err, errs.NotFound, "input.enterpriseId")
	_, err = svc.CreateUser(ctx, principal(admin), uuid.New(), email(), "X", identity.RoleMember)
	requireOn(t, "a user in a random enterprise", err, errs.NotFound, "input.enterpriseId")
	_, err = svc.CreateUser(ctx, principal(member), admin.Enterprise.ID, email(), "X", identity.RoleMember)
	requireOn(t, "a member adding to its own enterprise", err, errs.Forbidden, "")
	_, err = svc.CreateUser(ctx, principal(operator), stranger.Enterprise.ID, email(), "X", identity.RoleMember)
	requireOn(t, "a platform member adding to an enterprise it sees", err, errs.Forbidden, "")

	_, _, err = svc.CreateToken(ctx, principal(admin), stranger.User.ID, "theirs", nil)
	requireOn(t, "a token for another enterprise's user", err, errs.NotFound, "input.userId")
	_, _, err = svc.CreateToken(ctx, principal(admin), uuid.New(), "theirs", nil)
	requireOn(t, "a token for a random user", err, errs.NotFound, "input.userId")
	_, _, err = svc.CreateToken(ctx, principal(member), admin.User.ID, "theirs", nil)
	requireOn(t, "a token for a colleague a member cannot see", err, errs.NotFound, "input.userId")

	_, err = svc.RevokeToken(ctx, principal(admin), theirs.ID)
	requireOn(t, "revoking another enterprise's token", err, errs.NotFound, "input.tokenId")
	_, err = svc.RevokeToken(ctx, principal(admin), uuid.New())
	requireOn(t, "revoking a random token", err, errs.NotFound, "input.tokenId")
	_, err = svc.RevokeToken(ctx, principal(member), admin.TokenID)
	requireOn(t, "a member revoking its admin's token", err, errs.NotFound, "input.tokenId")

	// Nothing changed: the tokens still authenticate.
	for _, secret := range []string{stranger.Secret, admin.Secret} {
		if _, err := svc.Authenticate(ctx, secret); err != nil {
			t.Fatalf("a token survived no refused revocation: %v", err)
		}
	}
}

func TestNamesAndEmailsArePrintableTextOnOneLine(t *testing.T) {
	t.Parallel()
	p := testenv.Platform(t)
	ctx := context.Background()
	svc := p.Identity
	admin := testenv.Account(t, p, identity.KindCustomer, identity.RoleAdmin)
	marker := "nul" + testenv.Suffix()
	_, err := svc.CreateEnterprise(ctx, identity.System, identity.KindSupplier, marker+"\x00")
	requireOn(t, "a NUL in an enterprise name", err, errs.InvalidInput, "input.name")
	_, err = svc.CreateEnterprise(ctx, identity.System, identity.KindSupplier, marker+"\nsecond line")
	requireOn(t, "a line break in an enterprise name", err, errs.InvalidInput, "input.name")
	_, err = svc.CreateUser(ctx, principal(admin), admin.Enterprise.ID, marker+"\x00@test.example", "X", identity.RoleMember)
	requireOn(t, "a NUL in an email", err, errs.InvalidInput, "input.email")
	_, err = svc.CreateUser(ctx, principal(admin), admin.Enterprise.ID, marker+"@test.example", "Ann\x07", identity.RoleMember)
	requireOn(t, "a bell in a user name", err, errs.InvalidInput, "input.name")
	_, _, err = svc.CreateToken(ctx, principal(admin), admin.User.ID, marker+"\x00", nil)
	requireOn(t, "a NUL in a token name", err, errs.InvalidInput, "input.name")

	var n int
	if err := p.DB.QueryRow(ctx, `SELECT (SELECT count(*) FROM enterprises WHERE name LIKE $1) + (SELECT count(*) FROM users WHERE email LIKE $1)
		+ (SELECT count(*) FROM api_tokens WHERE name LIKE $1)`, marker+"%").Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d rows written by refused names (%v)", n, err)
	}
	// A long but valid email (up to 320 characters) is still an email.
	long := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 180) + ".example"
	if _, err := svc.CreateUser(ctx, principal(admin), admin.Enterprise.ID, long, "Long Address", identity.RoleMember); err != nil && !errors.Is(err, errs.ErrAlreadyExists) {
		t.Fatalf("a %d-character email: %v", len(long), err)
	}
}

// A token answered from a gateway's memory stops working there as soon as it
// is revoked through that gateway, and on another gateway as soon as the
// revocation's message arrives, well within identity.LocalTokenLife.
func TestARevokedTokenIsRefusedByEveryGatewayAtOnce(t *testing.T) {
	t.Parallel()
	p := testenv.Platform(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gateways := []*identity.Service{
		identity.New(p.DB, p.Cache, time.Minute),
		identity.New(p.DB, p.Cache, time.Minute),
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for _, g := range gateways {
		wg.Add(1)
		go func() { defer wg.Done(); g.Run(ctx) }()
	}
	admin := testenv.Account(t, p, identity.KindCustomer, identity.RoleAdmin)
	victim := testenv.Member(t, p, admin.Enterprise, identity.RoleMember)
	// Authenticate until both gateways answer from memory (their
	// subscriptions confirm asynchronously).
	deadline := time.Now().Add(5 * time.Second)
	for _, g := range gateways {
		for !g.AnswersFromMemory(victim.Secret) {
			if _, err := g.Authenticate(ctx, victim.Secret); err != nil {
				t.Fatal(err)
			}
			if time.Now().After(deadline) {
				t.Fatal("a gateway did not keep the token in memory within 5s")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if _, err := gateways[0].RevokeToken(ctx, principal(admin), victim.TokenID); err != nil {
		t.Fatal(err)
	}
	if _, err := gateways[0].Authenticate(ctx, victim.Secret); err == nil {
		t.Fatal("the gateway that revoked the token still accepts it")
	}
	start := time.Now()
	for {
		_, err := gateways[1].Authenticate(ctx, victim.Secret)
		if err != nil {
			requireOn(t, "the revoked token on the other gateway", err, errs.Unauthenticated, "")
			break
		}
		if time.Since(start) > identity.LocalTokenLife {
			t.Fatalf("the other gateway accepted the revoked token for more than %s", identity.LocalTokenLife)
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("the other gateway refused the revoked token after %s", time.Since(start))
}
