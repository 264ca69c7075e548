package journey

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/shopspring/decimal"
)

// UsageStream registers a machine, leases it to the demo factory and reports
// its spindle-hours to POST /usage in batches until the load ends, each batch
// sent again (same event ids) until it is answered.
type UsageStream struct {
	Base string // the gateway, http://host:port
	HTTP *http.Client
	// ContractID and MachineID are the lease's and the machine's global ids,
	// once SetUp has made them.
	ContractID, MachineID string
	// Sent counts the events of batches answered so far (safe to read while
	// Run runs); Sum and Answered are their values' sum and count once Run
	// has returned.
	Sent     atomic.Int64
	Sum      decimal.Decimal
	Answered int64
}

// gql runs a GraphQL request as the demo party token (mco_demo_<who>), sent
// again for up to 20 s while it gets no answer.
func (u *UsageStream) gql(ctx context.Context, who, q string, vars map[string]any, out any) error {
	body, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u.Base+"/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer mco_demo_"+who)
		res, err := u.HTTP.Do(req)
		if err == nil {
			raw, _ := io.ReadAll(res.Body)
			res.Body.Close()
			var ans struct {
				Data   json.RawMessage `json:"data"`
				Errors []struct{ Message string }
			}
			if json.Unmarshal(raw, &ans) == nil && len(ans.Errors) == 0 {
				return json.Unmarshal(ans.Data, out)
			}
			err = fmt.Errorf("%d %s", res.StatusCode, raw)
		}
		if attempt > 20 || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Second)
	}
}

// SetUp registers the machine and leases it to the demo factory, as the demo lessor.
func (u *UsageStream) SetUp(ctx context.Context) error {
	var who struct {
		Viewer struct{ Enterprise struct{ ID string } }
	}
	if err := u.gql(ctx, "lessor", `{ viewer { enterprise { id } } }`, nil, &who); err != nil || who.Viewer.Enterprise.ID == "" {
		return fmt.Errorf("the demo lessor's token is not accepted (%v): seed the demo data (make run or bin/seed)", err)
	}
	// The demo factory is the lessee; its id comes from its own token.
	var factory struct {
		Viewer struct{ Enterprise struct{ ID string } }
	}
	if err := u.gql(ctx, "factory", `{ viewer { enterprise { id } } }`, nil, &factory); err != nil || factory.Viewer.Enterprise.ID == "" {
		return fmt.Errorf("the demo factory's token is not accepted (%v): seed the demo data (make run or bin/seed)", err)
	}
	f := factory.Viewer.Enterprise.ID
	var reg struct {
		RegisterEquipment struct {
			Equipment struct{ ID string }
			Errors    []struct{ Message string }
		}
	}
	if err := u.gql(ctx, "lessor", `mutation($in: RegisterEquipmentInput!) { registerEquipment(input: $in) { equipment { id } errors { message } } }`,
		map[string]any{"in": map[string]any{"lessorId": who.Viewer.Enterprise.ID, "serial": fmt.Sprintf("CHAOS-%d", time.Now().UnixNano()),
			"kind": "CNC_MILL", "meters": []string{"spindle_hours"}}}, &reg); err != nil || len(reg.RegisterEquipment.Errors) > 0 {
		return fmt.Errorf("register a machine: %v %v", err, reg.RegisterEquipment.Errors)
	}
	u.MachineID = reg.RegisterEquipment.Equipment.ID
	today := time.Now().UTC().Truncate(24 * time.Hour)
	var created struct {
		CreateLeaseContract struct {
			Contract struct{ ID string }
			Errors   []struct{ Message string }
		}
	}
	if err := u.gql(ctx, "lessor", `mutation($in: CreateLeaseContractInput!) { createLeaseContract(input: $in) { contract { id } errors { message } } }`,
		map[string]any{"in": map[string]any{"terms": map[string]any{
			"lessorId": who.Viewer.Enterprise.ID, "lesseeId": f, "equipmentIds": []string{u.MachineID}, "currency": "CNY",
			"plans":             map[string]any{"spindle_hours": map[string]any{"model": "PER_UNIT", "unitPrice": "100"}},
			"minimumCommitment": "0", "platformFeePercent": "5", "deposit": "0", "creditLimit": "1000000",
			"period": map[string]any{"unit": "MONTHLY", "anchor": "CALENDAR"},
			"start":  today.Format(time.RFC3339), "end": today.AddDate(0, 2, 0).Format(time.RFC3339)}}}, &created); err != nil ||
		len(created.CreateLeaseContract.Errors) > 0 {
		return fmt.Errorf("lease it: %v %v", err, created.CreateLeaseContract.Errors)
	}
	u.ContractID = created.CreateLeaseContract.Contract.ID
	u.Sum = decimal.Zero
	return nil
}

// Run reports a batch of 20 readings a second until ctx ends; a batch that gets no answer
// is sent again as it was until it is answered (the ingestion counts each
// event id once).
func (u *UsageStream) Run(ctx context.Context) error {
	seq := int64(0)
	at := time.Now().UTC().Add(-10 * time.Minute)
	if today := time.Now().UTC().Truncate(24 * time.Hour); at.Before(today) {
		at = today // the contract starts today
	}
	for batch := 0; ctx.Err() == nil; batch++ {
		var lines bytes.Buffer
		sum := decimal.Zero
		for i := 0; i < 20; i++ {
			seq++
			v := decimal.New(1+seq%7, -2) // 0.01 to 0.07 h
			sum = sum.Add(v)
			ev := map[string]any{"eventId": fmt.Sprintf("chaos-%d", seq), "equipmentId": u.MachineID, "meter": "spindle_hours",
				"value": v.String(), "at": at.Add(time.Duration(seq) * time.Millisecond).Format(time.RFC3339Nano), "seq": seq}
			b, _ := json.Marshal(ev)
			lines.Write(b)
			lines.WriteByte('\n')
		}
		for attempt := 0; ; attempt++ {
			req, _ := http.NewRequest(http.MethodPost, u.Base+"/usage", bytes.NewReader(lines.Bytes()))
			req.Header.Set("Content-Type", "application/x-ndjson")
			req.Header.Set("Authorization", "Bearer mco_demo_lessor")
			res, err := u.HTTP.Do(req)
			if err == nil {
				raw, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					var ans struct {
						Accepted, Duplicates int
						Refused              []json.RawMessage
					}
					if json.Unmarshal(raw, &ans) == nil && len(ans.Refused) == 0 {
						break
					}
					return fmt.Errorf("batch %d answered %s", batch, raw)
				}
				if res.StatusCode < 500 && res.StatusCode != http.StatusTooManyRequests {
					return fmt.Errorf("batch %d refused: %d %s", batch, res.StatusCode, raw)
				}
			}
			if attempt > 300 {
				return fmt.Errorf("batch %d got no answer in 5 minutes: %v", batch, err)
			}
			time.Sleep(time.Second) // the batch is sent again as it was, even after the load ended
		}
		u.Sent.Add(20)
		u.Sum = u.Sum.Add(sum)
		u.Answered += 20
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}
