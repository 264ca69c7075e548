package graph

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/vikstrous/dataloadgen"

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
)

// Loaders batch the list-to-parent hops of one request (user → enterprise,
// token → user) into one query each.
type Loaders struct {
	Enterprise *dataloadgen.Loader[uuid.UUID, *identity.Enterprise]
	User       *dataloadgen.Loader[uuid.UUID, *identity.User]
}

type loadersKey struct{}

func newLoaders(id *identity.Service) *Loaders {
	wait := dataloadgen.WithWait(time.Millisecond)
	return &Loaders{
		Enterprise: dataloadgen.NewMappedLoader(func(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*identity.Enterprise, error) {
			return id.EnterprisesByID(ctx, ids)
		}, wait),
		User: dataloadgen.NewMappedLoader(func(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*identity.User, error) {
			return id.UsersByID(ctx, ids)
		}, wait),
	}
}

// LoadersMiddleware gives each request its own loaders, so nothing is cached across requests.
func LoadersMiddleware(id *identity.Service, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), loadersKey{}, newLoaders(id))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (r *Resolver) loaders(ctx context.Context) *Loaders {
	if l, ok := ctx.Value(loadersKey{}).(*Loaders); ok {
		return l
	}
	return newLoaders(r.Identity) // websocket or tests without the middleware
}

// loadEnterprise returns an enterprise the viewer may see through the request's loader.
func (r *Resolver) loadEnterprise(ctx context.Context, id uuid.UUID) (*identity.Enterprise, error) {
	p := identity.FromContext(ctx)
	if err := identity.Authorize(p, identity.ActEnterpriseRead, identity.Scope{EnterpriseID: id}); err != nil {
		return nil, err
	}
	e, err := r.loaders(ctx).Enterprise.Load(ctx, id)
	if err != nil || e == nil {
		return nil, orNotFound(err)
	}
	return e, nil
}

// loadUser returns a user the viewer may see through the request's loader.
func (r *Resolver) loadUser(ctx context.Context, id uuid.UUID) (*identity.User, error) {
	p := identity.FromContext(ctx)
	u, err := r.loaders(ctx).User.Load(ctx, id)
	if err != nil || u == nil {
		return nil, orNotFound(err)
	}
	if err := identity.Authorize(p, identity.ActUserRead, identity.Scope{EnterpriseID: u.EnterpriseID, UserID: u.ID}); err != nil {
		return nil, err
	}
	return u, nil
}

func orNotFound(err error) error {
	if err == nil || errors.Is(err, dataloadgen.ErrNotFound) {
		return errs.New(errs.NotFound, nil, "not found")
	}
	return err
}
