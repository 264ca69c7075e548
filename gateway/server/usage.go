package server

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"

	"github.com/masscustom/orchestrator/graph"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/leasing"
)

// MaxUsageBody is the largest batch POST /usage reads: machines send big
// batches, so it has its own limit instead of the GraphQL one.
const MaxUsageBody = 16 << 20

// usageMediaTypes are the names JSON lines go by.
var usageMediaTypes = []string{"application/x-ndjson", "application/ndjson", "application/jsonl"}

// UsageHandler serves POST /usage: a batch of usage readings as JSON lines,
// one leasing.UsageInput object per line, sent with a lessor's bearer token
// (behind the authenticate middleware). A line that is not such an object is
// refused as MALFORMED on its own; the other events are ingested. The answer
// is 200 with the leasing.BatchResult, where each refusal's index is the
// event's position among the body's non-empty lines.
func UsageHandler(store *leasing.Store, opt leasing.IngestOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := identity.FromContext(r.Context())
		if p == nil {
			w.Header().Set("WWW-Authenticate", "Bearer")
			gqlError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "a bearer token is required")
			return
		}
		if store == nil {
			gqlError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "usage ingestion is not configured")
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || !slices.Contains(usageMediaTypes, mt) {
			gqlError(w, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "send JSON lines as application/x-ndjson")
			return
		}
		if r.ContentLength > MaxUsageBody {
			gqlError(w, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE", fmt.Sprintf("a usage batch is at most %d bytes", MaxUsageBody))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxUsageBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				gqlError(w, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE", fmt.Sprintf("a usage batch is at most %d bytes", MaxUsageBody))
				return
			}
			gqlError(w, http.StatusBadRequest, "BAD_REQUEST", "could not read the request body")
			return
		}
		batch, at, bad := decodeUsageLines(body)
		if len(batch)+len(bad) > leasing.MaxBatch {
			gqlError(w, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE", fmt.Sprintf("a usage batch holds at most %d events", leasing.MaxBatch))
			return
		}
		res, err := store.IngestWith(r.Context(), p, batch, opt)
		if err != nil {
			usageError(w, r, err)
			return
		}
		// Back to positions in the body, with the lines that did not decode.
		for i := range res.Refused {
			res.Refused[i].Index = at[res.Refused[i].Index]
		}
		res.Refused = append(res.Refused, bad...)
		slices.SortFunc(res.Refused, func(a, b leasing.Refusal) int { return cmp.Compare(a.Index, b.Index) })
		writeJSON(w, http.StatusOK, res)
	})
}

// decodeUsageLines splits a body into events. It returns the events that
// decoded, the position of each among the non-empty lines, and a MALFORMED
// refusal for each line that did not.
func decodeUsageLines(body []byte) (batch []leasing.UsageInput, at []int, bad []leasing.Refusal) {
	batch = make([]leasing.UsageInput, 0, bytes.Count(body, []byte{'\n'})+1)
	at = make([]int, 0, cap(batch))
	index, lineNo := 0, 0
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		lineNo++
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var u leasing.UsageInput
		if err := json.Unmarshal(line, &u); err != nil || line[0] != '{' {
			bad = append(bad, leasing.Refusal{Index: index, EventID: eventIDOf(line), Code: leasing.RefusalMalformed,
				Message: fmt.Sprintf("line %d is not a JSON object of a usage event", lineNo)})
		} else {
			u.EquipmentID = graph.EquipmentRef(u.EquipmentID)
			batch = append(batch, u)
			at = append(at, index)
		}
		index++
	}
	return batch, at, bad
}

// eventIDOf recovers the event id of a line that did not decode as a whole,
// when it has one, so that the machine can tell which event was refused.
func eventIDOf(line []byte) string {
	var probe struct {
		EventID string `json:"eventId"`
	}
	if json.Unmarshal(line, &probe) != nil || len(probe.EventID) > 200 {
		return ""
	}
	return probe.EventID
}

func usageError(w http.ResponseWriter, r *http.Request, err error) {
	if e, ok := errs.As(err); ok {
		switch e.Code {
		case errs.Unauthenticated:
			gqlError(w, http.StatusUnauthorized, string(e.Code), e.Message)
			return
		case errs.Forbidden:
			gqlError(w, http.StatusForbidden, string(e.Code), e.Message)
			return
		case errs.InvalidInput:
			gqlError(w, http.StatusBadRequest, string(e.Code), e.Message)
			return
		}
	}
	slog.ErrorContext(r.Context(), "usage ingestion failed", "request_id", RequestID(r.Context()), "err", err)
	gqlError(w, http.StatusInternalServerError, "INTERNAL", "usage could not be stored, send the batch again")
}
