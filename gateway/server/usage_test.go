package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/masscustom/orchestrator/gateway/server"
	"github.com/masscustom/orchestrator/graph"
	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/leasing"
	"github.com/shopspring/decimal"
)

// usageLease registers a machine of a new lessor leased to a new factory from
// two days ago, and returns the machine and the lessor's account.
func usageLease(t *testing.T, l *leasing.Store) (uuid.UUID, identity.Account) {
	t.Helper()
	p := testenv.Platform(t)
	lessor := testenv.Account(t, p, identity.KindLessor, identity.RoleMember)
	factory := testenv.Account(t, p, identity.KindFactory, identity.RoleAdmin)
	ctx := context.Background()
	m, err := l.RegisterEquipment(ctx, identity.System, lessor.Enterprise.ID, "HTTP-"+testenv.Suffix(), "CNC_LATHE",
		[]leasing.Meter{leasing.MeterSpindleHours, leasing.MeterParts})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -2)
	if _, err := l.CreateContract(ctx, identity.System, leasing.Contract{
		LessorID: lessor.Enterprise.ID.String(), LesseeID: factory.Enterprise.ID.String(), EquipmentIDs: []string{m.ID.String()}, Currency: "CNY",
		Plans:  map[leasing.Meter]leasing.RatePlan{leasing.MeterSpindleHours: {Model: leasing.ModelPerUnit, UnitPrice: decimal.RequireFromString("9.90")}},
		Period: leasing.BillingPeriod{Unit: leasing.PeriodMonthly, Anchor: leasing.AnchorCalendar},
		Start:  start, End: start.AddDate(0, 3, 0),
	}); err != nil {
		t.Fatal(err)
	}
	return m.ID, lessor
}

func postUsage(t *testing.T, url, token, contentType string, body []byte) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/usage", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("status %d, body %q is not JSON: %v", res.StatusCode, raw, err)
	}
	return res.StatusCode, out
}

func errorCode(body map[string]any) string {
	list, _ := body["errors"].([]any)
	if len(list) == 0 {
		return ""
	}
	first, _ := list[0].(map[string]any)
	ext, _ := first["extensions"].(map[string]any)
	code, _ := ext["code"].(string)
	return code
}

func TestUsageEndpointStoresJSONLinesAndRefusesAMalformedLineAlone(t *testing.T) {
	t.Parallel()
	srv, p := gateway(t)
	machine, lessor := usageLease(t, p.Leasing)
	at := time.Now().UTC().Add(-time.Hour)
	line := func(id string, meter string, value string, minutes int) string {
		ts := at.Add(time.Duration(minutes) * time.Minute)
		return fmt.Sprintf(`{"eventId":%q,"equipmentId":%q,"meter":%q,"value":%s,"at":%q,"seq":%d}`, id, machine, meter, value, ts.Format(time.RFC3339), ts.Unix())
	}
	body := strings.Join([]string{
		line("h-1", "spindle_hours", `"1.25"`, 0),
		`{"eventId": "h-2", "equipmentId": oops}`,
		line("h-3", "parts", `4`, 1), // a JSON number is taken by its literal
		"",                           // blank lines are skipped
		`{"eventId":"h-4","equipmentId":"x","meter":"parts","value":"1","at":"2026-01-01T00:00:00Z","seq":"7"}`,
		line("h-5", "energy_kwh", `"2"`, 2),
		`[1, 2]`,
		line("h-6", "spindle_hours", `"0.5"`, 3) + "\r",
	}, "\n") + "\n"

	status, res := postUsage(t, srv.URL, lessor.Secret, "application/x-ndjson", []byte(body))
	if status != http.StatusOK {
		t.Fatalf("status %d: %v", status, res)
	}
	if res["accepted"] != 3.0 || res["duplicates"] != 0.0 || res["late"] != 0.0 {
		t.Fatalf("result %v, want 3 accepted", res)
	}
	refused, _ := res["refused"].([]any)
	want := []struct {
		index       float64
		eventID     string
		code        string
		messageHint string
	}{
		{1, "", leasing.RefusalMalformed, "line 2"},
		{3, "h-4", leasing.RefusalMalformed, "line 5"},
		{4, "h-5", leasing.RefusalUnknownMeter, "energy_kwh"},
		{5, "", leasing.RefusalMalformed, "line 7"},
	}
	if len(refused) != len(want) {
		t.Fatalf("refused %v, want %d refusals", refused, len(want))
	}
	for i, w := range want {
		r, _ := refused[i].(map[string]any)
		if r["index"] != w.index || r["eventId"] != w.eventID || r["code"] != w.code || !strings.Contains(fmt.Sprint(r["message"]), w.messageHint) {
			t.Errorf("refusal %d = %v, want index %v, eventId %q, code %s, message about %q", i, r, w.index, w.eventID, w.code, w.messageHint)
		}
	}
	var stored int
	if err := p.DB.QueryRow(context.Background(), `SELECT count(*) FROM usage_events WHERE equipment_id = $1`, machine).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 3 {
		t.Fatalf("%d events stored, want 3", stored)
	}

	// The machine retries the same body: nothing is stored twice.
	status, res = postUsage(t, srv.URL, lessor.Secret, "application/x-ndjson; charset=utf-8", []byte(body))
	if status != http.StatusOK || res["accepted"] != 0.0 || res["duplicates"] != 3.0 {
		t.Fatalf("retry: %d %v, want 3 duplicates", status, res)
	}
}

func TestUsageEndpointRefusesCallersWithoutTheRightToken(t *testing.T) {
	t.Parallel()
	srv, p := gateway(t)
	machine, _ := usageLease(t, p.Leasing)
	body := []byte(fmt.Sprintf(`{"eventId":"a","equipmentId":%q,"meter":"parts","value":"1","at":%q,"seq":1}`+"\n", machine, time.Now().UTC().Format(time.RFC3339)))
	factory := testenv.Account(t, p, identity.KindFactory, identity.RoleAdmin)
	for _, tc := range []struct {
		name, token string
		status      int
		code        string
	}{
		{"no token", "", http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"unknown token", "mco_nope", http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"a factory", factory.Secret, http.StatusForbidden, "FORBIDDEN"},
	} {
		status, res := postUsage(t, srv.URL, tc.token, "application/x-ndjson", body)
		if status != tc.status || errorCode(res) != tc.code {
			t.Errorf("%s: %d %v, want %d %s", tc.name, status, res, tc.status, tc.code)
		}
	}
}

func TestUsageEndpointLimitsTheBodyAndTheMediaType(t *testing.T) {
	t.Parallel()
	p := testenv.Platform(t)
	h := server.UsageHandler(p.Leasing, leasing.IngestOptions{})
	lessor := testenv.Account(t, p, identity.KindLessor, identity.RoleAdmin)
	principal := &identity.Principal{UserID: lessor.User.ID, EnterpriseID: lessor.Enterprise.ID, Kind: identity.KindLessor, Role: identity.RoleAdmin}
	do := func(contentType string, body io.Reader, length int64) (int, string) {
		req := httptest.NewRequest(http.MethodPost, "/usage", body)
		req.ContentLength = length
		req.Header.Set("Content-Type", contentType)
		req = req.WithContext(identity.WithPrincipal(req.Context(), principal))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var out map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, errorCode(out)
	}
	big := bytes.Repeat([]byte("{}\n"), server.MaxUsageBody/3+1)
	for _, tc := range []struct {
		name        string
		contentType string
		body        io.Reader
		length      int64
		status      int
		code        string
	}{
		{"declared too large", "application/x-ndjson", bytes.NewReader(big), int64(len(big)), http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE"},
		{"streamed too large", "application/x-ndjson", bytes.NewReader(big), -1, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE"},
		{"JSON, not JSON lines", "application/json", strings.NewReader("{}"), 2, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE"},
		{"no media type", "", strings.NewReader("{}"), 2, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE"},
	} {
		if status, code := do(tc.contentType, tc.body, tc.length); status != tc.status || code != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, status, code, tc.status, tc.code)
		}
	}
	// An empty batch is a valid batch.
	if status, code := do("application/x-ndjson", strings.NewReader("\n\n"), 2); status != http.StatusOK {
		t.Errorf("empty batch: %d %s, want 200", status, code)
	}
}

func TestUsageEndpointTakesTheGlobalEquipmentIDAsWellAsTheRawOne(t *testing.T) {
	t.Parallel()
	srv, p := gateway(t)
	machine, lessor := usageLease(t, p.Leasing)
	at := time.Now().UTC().Add(-time.Hour)
	cases := []struct {
		name, equipmentID string
		accepted          float64
		refusal           string
	}{
		{"the raw uuid", machine.String(), 1, ""},
		{"the global id the API hands out", graph.GlobalID("Equipment", machine), 1, ""},
		{"the global id of another type", graph.GlobalID("Enterprise", machine), 0, leasing.RefusalUnknownEquipment},
		{"a random uuid", uuid.NewString(), 0, leasing.RefusalUnknownEquipment},
	}
	for i, c := range cases {
		ts := at.Add(time.Duration(i) * time.Minute)
		body := fmt.Sprintf(`{"eventId":"g-%d","equipmentId":%q,"meter":"parts","value":"1","at":%q,"seq":%d}`, i, c.equipmentID, ts.Format(time.RFC3339), ts.Unix())
		status, res := postUsage(t, srv.URL, lessor.Secret, "application/x-ndjson", []byte(body+"\n"))
		if status != http.StatusOK || res["accepted"] != c.accepted {
			t.Errorf("%s: status %d, result %v; want %v accepted", c.name, status, res, c.accepted)
			continue
		}
		if c.refusal != "" {
			refused, _ := res["refused"].([]any)
			var code any
			if len(refused) > 0 {
				if first, ok := refused[0].(map[string]any); ok {
					code = first["code"]
				}
			}
			if code != c.refusal {
				t.Errorf("%s: refused %v, want %s", c.name, refused, c.refusal)
			}
		}
	}
	var stored int
	if err := p.DB.QueryRow(context.Background(), `SELECT count(*) FROM usage_events WHERE equipment_id = $1`, machine).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 2 {
		t.Fatalf("%d events stored for the machine, want the 2 sent under its raw and its global id", stored)
	}
}
