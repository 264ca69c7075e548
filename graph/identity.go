package graph

import (
	"github.com/masscustom/orchestrator/graph/model"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/store"
)

// Type names used in global ids.
const (
	typeEnterprise = "Enterprise"
	typeUser       = "User"
	typeAPIToken   = "ApiToken"
)

func toEnterprise(e *identity.Enterprise) *model.Enterprise {
	return &model.Enterprise{ID: GlobalID(typeEnterprise, e.ID), Kind: model.EnterpriseKind(e.Kind), Name: e.Name, CreatedAt: e.CreatedAt, UUID: e.ID}
}

func toUser(u *identity.User) *model.User {
	return &model.User{ID: GlobalID(typeUser, u.ID), Email: u.Email, Name: u.Name, Role: model.Role(u.Role), CreatedAt: u.CreatedAt, UUID: u.ID, EnterpriseUUID: u.EnterpriseID}
}

func toAPIToken(t *identity.Token) *model.APIToken {
	return &model.APIToken{ID: GlobalID(typeAPIToken, t.ID), Name: t.Name, Prefix: t.Prefix, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt, UserUUID: t.UserID}
}

// pageArgs validates Relay arguments: first must not be negative (it is capped
// at store.MaxPage), after must be a cursor this server produced.
func pageArgs(first *int, after *string) (int, string, error) {
	n := 20
	if first != nil {
		if *first < 0 {
			return 0, "", errs.Invalid([]string{"first"}, "first must not be negative")
		}
		n = *first
	}
	a := ""
	if after != nil {
		a = *after
	}
	if _, err := store.ParseCursor(a); err != nil {
		return 0, "", errs.Invalid([]string{"after"}, "invalid cursor")
	}
	return n, a, nil
}

func pageInfo[T any](p store.Page[T]) model.PageInfo {
	info := model.PageInfo{HasNextPage: p.HasNext}
	if n := len(p.Cursors); n > 0 {
		c := p.Cursors[n-1]
		info.EndCursor = &c
	}
	return info
}
