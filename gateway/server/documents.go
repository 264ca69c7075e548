package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/masscustom/orchestrator/graph"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/leasing"
)

// documentID reads "<global id><ext>" from a path value: the id of the type
// typ (an Invoice, a LeaseContract), as GraphQL returns it, or a bare uuid.
func documentID(name, ext, typ string) (uuid.UUID, bool) {
	raw, ok := strings.CutSuffix(name, ext)
	if !ok {
		return uuid.Nil, false
	}
	if t, id, ok := graph.ParseGlobalID(raw); ok {
		return id, t == typ
	}
	id, err := uuid.Parse(raw)
	return id, err == nil
}

// documentError answers a refusal from the stores with its code and status;
// anything else is logged and answered 500 without detail.
func documentError(w http.ResponseWriter, r *http.Request, what string, err error) {
	if errors.Is(err, errs.ErrNotFound) {
		gqlError(w, http.StatusNotFound, string(errs.NotFound), "no such "+what)
		return
	}
	if e, ok := errs.As(err); ok {
		status := http.StatusBadRequest
		switch e.Code {
		case errs.NotFound:
			status = http.StatusNotFound
		case errs.Forbidden:
			status = http.StatusForbidden
		case errs.Unauthenticated:
			status = http.StatusUnauthorized
		}
		gqlError(w, status, string(e.Code), e.Message)
		return
	}
	slog.ErrorContext(r.Context(), "document failed", "what", what, "err", err)
	gqlError(w, http.StatusInternalServerError, "INTERNAL", "the document could not be made")
}

func requirePrincipal(w http.ResponseWriter, r *http.Request) *identity.Principal {
	p := identity.FromContext(r.Context())
	if p == nil {
		w.Header().Set("WWW-Authenticate", "Bearer")
		gqlError(w, http.StatusUnauthorized, string(errs.Unauthenticated), "a bearer token is required")
	}
	return p
}

// InvoicePDFHandler serves GET /invoices/{file}, file being the invoice's id
// and ".pdf": the invoice as finance files it, for the contract's parties and
// the operator; anyone else gets 404, as in GraphQL.
func InvoicePDFHandler(ids *identity.Service, store *leasing.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := requirePrincipal(w, r)
		if p == nil {
			return
		}
		if store == nil || ids == nil {
			gqlError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "invoice documents are not configured")
			return
		}
		id, ok := documentID(r.PathValue("file"), ".pdf", "Invoice")
		if !ok {
			gqlError(w, http.StatusNotFound, string(errs.NotFound), "an invoice document is /invoices/<invoice id>.pdf")
			return
		}
		ctx := r.Context()
		inv, err := store.Invoice(ctx, p, id)
		if err != nil {
			documentError(w, r, "invoice", err)
			return
		}
		c, err := store.ContractByID(ctx, inv.ContractID)
		if err != nil {
			documentError(w, r, "invoice", err)
			return
		}
		names, err := ids.EnterprisesByID(ctx, []uuid.UUID{c.LessorID, c.LesseeID})
		if err != nil {
			documentError(w, r, "invoice", err)
			return
		}
		name := func(id uuid.UUID) string {
			if e := names[id]; e != nil {
				return e.Name
			}
			return id.String()
		}
		doc, err := leasing.InvoicePDF(inv, leasing.InvoiceParties{Lessor: name(c.LessorID), Lessee: name(c.LesseeID), ContractNumber: c.Number})
		if err != nil {
			documentError(w, r, "invoice", err)
			return
		}
		w.Header().Set("Content-Type", "application/pdf")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`inline; filename="invoice-%d.pdf"`, inv.Number))
		w.Header().Set("Cache-Control", "private, no-store")
		_, _ = w.Write(doc)
	})
}

// UsageCSVHandler serves GET /leases/{contract}/usage/{file}, file being a
// period's key and ".csv": that period's usage per machine and meter.
func UsageCSVHandler(store *leasing.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := requirePrincipal(w, r)
		if p == nil {
			return
		}
		if store == nil {
			gqlError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "usage documents are not configured")
			return
		}
		id, ok := documentID(r.PathValue("contract")+".csv", ".csv", "LeaseContract")
		period, isCSV := strings.CutSuffix(r.PathValue("file"), ".csv")
		if !ok || !isCSV {
			gqlError(w, http.StatusNotFound, string(errs.NotFound), "a usage document is /leases/<contract id>/usage/<period key>.csv")
			return
		}
		doc, err := store.UsageCSV(r.Context(), p, id, period)
		if err != nil {
			documentError(w, r, "lease contract", err)
			return
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="usage-%s.csv"`, period))
		w.Header().Set("Cache-Control", "private, no-store")
		_, _ = w.Write(doc)
	})
}
