package server

import (
	"context"
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
	return pdfHandler(ids, store, "invoice", "Invoice", func(ctx context.Context, p *identity.Principal, id uuid.UUID) (uuid.UUID, pdfRenderer, error) {
		inv, err := store.Invoice(ctx, p, id)
		if err != nil {
			return uuid.Nil, nil, err
		}
		return inv.ContractID, func(parties leasing.InvoiceParties) ([]byte, string, error) {
			doc, err := leasing.InvoicePDF(inv, parties)
			return doc, fmt.Sprintf("invoice-%d.pdf", inv.Number), err
		}, nil
	})
}

// NotePDFHandler serves GET /notes/{file}, file being a credit or debit
// note's id and ".pdf", for the same readers as its invoice.
func NotePDFHandler(ids *identity.Service, store *leasing.Store) http.Handler {
	return pdfHandler(ids, store, "note", "InvoiceNote", func(ctx context.Context, p *identity.Principal, id uuid.UUID) (uuid.UUID, pdfRenderer, error) {
		n, err := store.Note(ctx, p, id)
		if err != nil {
			return uuid.Nil, nil, err
		}
		return n.ContractID, func(parties leasing.InvoiceParties) ([]byte, string, error) {
			doc, err := leasing.NotePDF(n, parties)
			return doc, fmt.Sprintf("%s-note-%d.pdf", strings.ToLower(n.Kind), n.Number), err
		}, nil
	})
}

// pdfRenderer renders a document once its contract's parties are known, and
// names its file.
type pdfRenderer func(leasing.InvoiceParties) ([]byte, string, error)

// pdfHandler serves a lease document as a PDF: load finds it for the viewer
// (NOT_FOUND for those who may not read it) and names its contract, whose
// parties' names the document prints.
func pdfHandler(ids *identity.Service, store *leasing.Store, what, typ string,
	load func(context.Context, *identity.Principal, uuid.UUID) (uuid.UUID, pdfRenderer, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := requirePrincipal(w, r)
		if p == nil {
			return
		}
		if store == nil || ids == nil {
			gqlError(w, http.StatusServiceUnavailable, "UNAVAILABLE", what+" documents are not configured")
			return
		}
		id, ok := documentID(r.PathValue("file"), ".pdf", typ)
		if !ok {
			gqlError(w, http.StatusNotFound, string(errs.NotFound), fmt.Sprintf("a%s %s document is /%ss/<%s id>.pdf", article(what), what, what, what))
			return
		}
		ctx := r.Context()
		contractID, render, err := load(ctx, p, id)
		if err != nil {
			documentError(w, r, what, err)
			return
		}
		c, err := store.ContractByID(ctx, contractID)
		if err != nil {
			documentError(w, r, what, err)
			return
		}
		names, err := ids.EnterprisesByID(ctx, []uuid.UUID{c.LessorID, c.LesseeID})
		if err != nil {
			documentError(w, r, what, err)
			return
		}
		name := func(id uuid.UUID) string {
			if e := names[id]; e != nil {
				return e.Name
			}
			return id.String()
		}
		doc, file, err := render(leasing.InvoiceParties{Lessor: name(c.LessorID), Lessee: name(c.LesseeID), ContractNumber: c.Number})
		if err != nil {
			documentError(w, r, what, err)
			return
		}
		w.Header().Set("Content-Type", "application/pdf")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`inline; filename="%s"`, file))
		w.Header().Set("Cache-Control", "private, no-store")
		_, _ = w.Write(doc)
	})
}

func article(word string) string {
	if strings.ContainsRune("aeiou", rune(word[0])) {
		return "n"
	}
	return ""
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
