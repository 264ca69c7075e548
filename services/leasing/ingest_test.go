package leasing_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/masscustom/orchestrator/internal/platform"
	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/cache"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/leasing"
)

// ingestFixture is a lessor with machines leased to a factory under one
// contract with daily calendar periods, from ten days ago for a month.
type ingestFixture struct {
	p        *platform.Platform
	store    *leasing.Store
	lessor   identity.Account
	as       *identity.Principal // the lessor's member, as a machine token acts
	machines []uuid.UUID
	contract *leasing.StoredContract
	start    time.Time
}

func principal(a identity.Account) *identity.Principal {
	return &identity.Principal{UserID: a.User.ID, EnterpriseID: a.Enterprise.ID, Kind: a.Enterprise.Kind, Role: a.User.Role, TokenID: a.TokenID}
}

var ingestMeters = []leasing.Meter{leasing.MeterSpindleHours, leasing.MeterParts, leasing.MeterMaxLoad}

func newIngestFixture(t testing.TB, machines int) *ingestFixture {
	t.Helper()
	p := testenv.Platform(t)
	f := &ingestFixture{p: p, store: leasing.NewStore(p.DB, p.Cache)}
	f.lessor = testenv.Account(t, p, identity.KindLessor, identity.RoleMember)
	factory := testenv.Account(t, p, identity.KindFactory, identity.RoleAdmin)
	f.as = principal(f.lessor)
	ctx := context.Background()
	ids := make([]string, machines)
	for i := range machines {
		e, err := f.store.RegisterEquipment(ctx, identity.System, f.lessor.Enterprise.ID, "CNC-"+testenv.Suffix(), "CNC_MILL", ingestMeters)
		if err != nil {
			t.Fatal(err)
		}
		f.machines = append(f.machines, e.ID)
		ids[i] = e.ID.String()
	}
	f.start = time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -10)
	var err error
	f.contract, err = f.store.CreateContract(ctx, identity.System, leasing.Contract{
		LessorID: f.lessor.Enterprise.ID.String(), LesseeID: factory.Enterprise.ID.String(),
		EquipmentIDs: ids, Currency: "CNY",
		Plans:              map[leasing.Meter]leasing.RatePlan{leasing.MeterSpindleHours: {Model: leasing.ModelPerUnit, UnitPrice: d("12.50")}},
		PlatformFeePercent: d("10"),
		Period:             leasing.BillingPeriod{Unit: leasing.PeriodDaily, Anchor: leasing.AnchorCalendar},
		Start:              f.start, End: f.start.AddDate(0, 1, 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// ev is a reading whose seq follows its time, so that a machine's readings
// always agree unless a test says otherwise.
func ev(id string, machine uuid.UUID, m leasing.Meter, value string, at time.Time) leasing.UsageInput {
	return leasing.UsageInput{EventID: id, EquipmentID: machine.String(), Meter: string(m), Value: value,
		At: at.Format(time.RFC3339Nano), Seq: at.UnixMicro()}
}

// stored counts the rows of the fixture's contract with these event ids.
func (f *ingestFixture) stored(t testing.TB, ids ...string) int {
	t.Helper()
	var n int
	if err := f.p.DB.QueryRow(context.Background(), `SELECT count(*) FROM usage_events WHERE contract_id = $1 AND ($2::text[] IS NULL OR event_id = ANY($2))`,
		f.contract.ID, ids).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *ingestFixture) ingest(t testing.TB, s *leasing.Store, batch []leasing.UsageInput) leasing.BatchResult {
	t.Helper()
	res, err := s.Ingest(context.Background(), f.as, batch)
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	if got := res.Accepted + res.Duplicates + len(res.Refused); got != len(batch) {
		t.Fatalf("accepted %d + duplicates %d + refused %d = %d, want the batch's %d", res.Accepted, res.Duplicates, len(res.Refused), got, len(batch))
	}
	return res
}

// ingestAsync is ingest for other goroutines than the test's: it reports
// with t.Errorf, never t.Fatal.
func (f *ingestFixture) ingestAsync(t testing.TB, s *leasing.Store, batch []leasing.UsageInput) leasing.BatchResult {
	res, err := s.Ingest(context.Background(), f.as, batch)
	if err != nil {
		t.Errorf("ingest: %v", err)
	}
	return res
}

func codes(res leasing.BatchResult) map[int]string {
	out := map[int]string{}
	for _, r := range res.Refused {
		out[r.Index] = r.Code
	}
	return out
}

func TestIngestRefusesEachEventWithItsReasonAndStoresTheValidOnes(t *testing.T) {
	t.Parallel()
	f := newIngestFixture(t, 1)
	m := f.machines[0]
	other := newIngestFixture(t, 1) // another lessor's machine, leased too
	unleased, err := f.store.RegisterEquipment(context.Background(), identity.System, f.lessor.Enterprise.ID, "CNC-"+testenv.Suffix(), "CNC_MILL", ingestMeters)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	noSeq := ev("no-seq", m, leasing.MeterParts, "1", now.Add(-30*time.Minute))
	noSeq.Seq = -1
	badTime := ev("bad-time", m, leasing.MeterParts, "1", now)
	badTime.At = "yesterday"
	noZone := ev("no-zone", m, leasing.MeterParts, "1", now)
	noZone.At = "2026-11-23T08:15:00"
	cases := []struct {
		in   leasing.UsageInput
		want string // "" = stored
	}{
		{ev("ok-spindle", m, leasing.MeterSpindleHours, "1.5", now.Add(-time.Hour)), ""},
		{ev("", m, leasing.MeterParts, "1", now), leasing.RefusalMalformed},
		{ev("nul\x00id", m, leasing.MeterParts, "1", now), leasing.RefusalMalformed},
		{ev(strings.Repeat("x", 201), m, leasing.MeterParts, "1", now), leasing.RefusalMalformed},
		{ev("no-meter", m, "", "1", now), leasing.RefusalMalformed},
		{leasing.UsageInput{EventID: "no-equipment", Meter: "parts", Value: "1", At: now.Format(time.RFC3339), Seq: 1}, leasing.RefusalMalformed},
		{badTime, leasing.RefusalMalformed},
		{noZone, leasing.RefusalMalformed},
		{noSeq, leasing.RefusalMalformed},
		{ev("not-decimal", m, leasing.MeterSpindleHours, "abc", now), leasing.RefusalMalformedValue},
		{ev("empty-value", m, leasing.MeterSpindleHours, "", now), leasing.RefusalMalformedValue},
		{ev("exponent", m, leasing.MeterSpindleHours, "1e3", now), leasing.RefusalMalformedValue},
		{ev("bare-point", m, leasing.MeterSpindleHours, "1.", now), leasing.RefusalMalformedValue},
		{ev("too-long", m, leasing.MeterSpindleHours, "1234567890123456789", now), leasing.RefusalMalformedValue},
		{ev("too-fine", m, leasing.MeterSpindleHours, "0.0000000000001", now), leasing.RefusalMalformedValue},
		{ev("half-part", m, leasing.MeterParts, "2.5", now), leasing.RefusalMalformedValue},
		{ev("negative-peak", m, leasing.MeterMaxLoad, "-3", now), leasing.RefusalMalformedValue},
		{ev("no-such-machine", uuid.New(), leasing.MeterParts, "1", now), leasing.RefusalUnknownEquipment},
		{leasing.UsageInput{EventID: "not-an-id", EquipmentID: "cnc-1", Meter: "parts", Value: "1", At: now.Format(time.RFC3339), Seq: 1}, leasing.RefusalUnknownEquipment},
		{ev("foreign-machine", other.machines[0], leasing.MeterParts, "1", now.Add(-time.Minute)), leasing.RefusalUnknownEquipment},
		{ev("no-energy-meter", m, leasing.MeterEnergyKWh, "1", now), leasing.RefusalUnknownMeter},
		{ev("bogus-meter", m, "bogus", "1", now), leasing.RefusalUnknownMeter},
		{ev("before-lease", m, leasing.MeterParts, "1", f.start.Add(-time.Hour)), leasing.RefusalOutsideContract},
		{ev("unleased-machine", unleased.ID, leasing.MeterParts, "1", now), leasing.RefusalOutsideContract},
		{ev("in-future", m, leasing.MeterParts, "1", now.Add(10*time.Minute)), leasing.RefusalInFuture},
		{ev("negative-hours", m, leasing.MeterSpindleHours, "-1", now), leasing.RefusalCounterBackwards},
		{ev("ok-parts", m, leasing.MeterParts, "3", now.Add(-50*time.Minute)), ""},
		{ev("ok-skewed", m, leasing.MeterParts, "0007", now.Add(2*time.Minute)), ""},
		{ev("ok-peak", m, leasing.MeterMaxLoad, "7.25", now.Add(-40*time.Minute)), ""},
		{ev("ok-whole-part", m, leasing.MeterParts, "2.000", now.Add(-35*time.Minute)), ""},
	}
	// A seq that goes up while the time goes back, against "ok-parts" of this batch.
	back := ev("seq-up-time-down", m, leasing.MeterParts, "1", now.Add(-2*time.Hour))
	back.Seq = now.Add(-45 * time.Minute).UnixMicro()
	cases = append(cases, struct {
		in   leasing.UsageInput
		want string
	}{back, leasing.RefusalCounterBackwards})

	batch := make([]leasing.UsageInput, len(cases))
	var valid []string
	for i, c := range cases {
		batch[i] = c.in
		if c.want == "" {
			valid = append(valid, c.in.EventID)
		}
	}
	res := f.ingest(t, f.store, batch)
	got := codes(res)
	for i, c := range cases {
		if got[i] != c.want {
			t.Errorf("event %d (%.20q): refusal %q, want %q", i, c.in.EventID, got[i], c.want)
		}
	}
	for _, r := range res.Refused {
		if r.Message == "" {
			t.Errorf("refusal %d has no message", r.Index)
		}
		if r.Code == leasing.RefusalUnknownEquipment && r.Message != "no such machine" {
			t.Errorf("unknown machine refused with %q: must not tell a foreign machine from a missing one", r.Message)
		}
	}
	if res.Accepted != len(valid) || res.Duplicates != 0 || res.Late != 0 {
		t.Fatalf("accepted %d, duplicates %d, late %d; want %d, 0, 0", res.Accepted, res.Duplicates, res.Late, len(valid))
	}
	if n := f.stored(t); n != len(valid) {
		t.Fatalf("%d events stored, want the %d valid ones and nothing refused", n, len(valid))
	}
	if n := other.stored(t); n != 0 {
		t.Fatalf("the foreign machine's contract got %d events", n)
	}
	var key string
	if err := f.p.DB.QueryRow(context.Background(), `SELECT period_key FROM usage_events WHERE equipment_id = $1 AND event_id = 'ok-spindle'`, m).Scan(&key); err != nil {
		t.Fatal(err)
	}
	if want, _ := leasing.PeriodAt(f.contract.Terms, now.Add(-time.Hour)); key != want.Key {
		t.Fatalf("period key %q, want %q", key, want.Key)
	}
}

func TestIngestOfOnlyRefusedEventsWritesNothing(t *testing.T) {
	t.Parallel()
	f := newIngestFixture(t, 1)
	now := time.Now().UTC()
	res := f.ingest(t, f.store, []leasing.UsageInput{
		ev("a", f.machines[0], leasing.MeterParts, "x", now),
		ev("b", f.machines[0], leasing.MeterParts, "1", now.Add(time.Hour)),
		ev("c", f.machines[0], leasing.MeterParts, "1", f.start.Add(-time.Second)),
	})
	if res.Accepted != 0 || len(res.Refused) != 3 {
		t.Fatalf("result %+v, want three refusals", res)
	}
	if n := f.stored(t); n != 0 {
		t.Fatalf("%d events stored", n)
	}
}

func TestIngestAuthorizesTheLessorsMembersAndTheOperatorOnly(t *testing.T) {
	t.Parallel()
	f := newIngestFixture(t, 1)
	batch := []leasing.UsageInput{ev("auth-1", f.machines[0], leasing.MeterParts, "1", time.Now().Add(-time.Minute))}
	ctx := context.Background()
	factory := testenv.Account(t, f.p, identity.KindFactory, identity.RoleAdmin)
	viewer := testenv.Member(t, f.p, f.lessor.Enterprise, identity.RoleViewer)
	for name, tc := range map[string]struct {
		p    *identity.Principal
		want error
	}{
		"anonymous":       {nil, errs.ErrUnauthenticated},
		"a factory":       {principal(factory), errs.ErrForbidden},
		"a lessor viewer": {principal(viewer), errs.ErrForbidden},
	} {
		if _, err := f.store.Ingest(ctx, tc.p, batch); !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", name, err, tc.want)
		}
	}
	if n := f.stored(t); n != 0 {
		t.Fatalf("refused callers stored %d events", n)
	}
	other := testenv.Account(t, f.p, identity.KindLessor, identity.RoleAdmin)
	res, err := f.store.Ingest(ctx, principal(other), batch)
	if err != nil || codes(res)[0] != leasing.RefusalUnknownEquipment {
		t.Fatalf("another lessor: %+v, %v; want UNKNOWN_EQUIPMENT", res, err)
	}
	res, err = f.store.Ingest(ctx, identity.System, batch)
	if err != nil || res.Accepted != 1 {
		t.Fatalf("the operator: %+v, %v; want the event accepted", res, err)
	}
}

// batchOf spreads n readings over the fixture's machines, a second apart.
func (f *ingestFixture) batchOf(prefix string, from time.Time, n int) []leasing.UsageInput {
	out := make([]leasing.UsageInput, n)
	for i := range n {
		m := f.machines[i%len(f.machines)]
		out[i] = ev(fmt.Sprintf("%s-%d", prefix, i), m, leasing.MeterSpindleHours, "0.25", from.Add(time.Duration(i)*time.Second))
	}
	return out
}

func TestIngestOfTheSameBatchTwiceCountsDuplicates(t *testing.T) {
	t.Parallel()
	f := newIngestFixture(t, 3)
	batch := f.batchOf("twice", time.Now().UTC().Add(-2*time.Hour), 300)
	// A repeat inside the batch counts once too.
	batch = append(batch, batch[7])
	first := f.ingest(t, f.store, batch)
	if first.Accepted != 300 || first.Duplicates != 1 {
		t.Fatalf("first: %+v, want 300 accepted and the repeat a duplicate", first)
	}
	second := f.ingest(t, f.store, batch)
	if second.Accepted != 0 || second.Duplicates != 301 || len(second.Refused) != 0 {
		t.Fatalf("second: %+v, want all duplicates", second)
	}
	if n := f.stored(t); n != 300 {
		t.Fatalf("%d events stored, want 300", n)
	}
}

func TestIngestRemembersStoredEventsInRedis(t *testing.T) {
	t.Parallel()
	f := newIngestFixture(t, 1)
	at := time.Now().UTC().Add(-time.Hour)
	f.ingest(t, f.store, []leasing.UsageInput{ev("remembered", f.machines[0], leasing.MeterParts, "1", at)})
	key := "usage:seen:" + f.machines[0].String() + ":" + at.Format("20060102")
	ok, err := f.p.Cache.R.SIsMember(context.Background(), key, "remembered").Result()
	if err != nil || !ok {
		t.Fatalf("Redis %s holds the stored event: %v, %v", key, ok, err)
	}
	if ttl := f.p.Cache.R.TTL(context.Background(), key).Val(); ttl <= 0 {
		t.Fatalf("the dedup set has no expiry (%v)", ttl)
	}
}

func TestConcurrentIngestOfTheSameBatchStoresEachEventOnce(t *testing.T) {
	t.Parallel()
	f := newIngestFixture(t, 4)
	batch := f.batchOf("race", time.Now().UTC().Add(-3*time.Hour), 800)
	const workers = 4
	results := make([]leasing.BatchResult, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { results[w] = f.ingestAsync(t, f.store, batch) })
	}
	wg.Wait()
	var accepted, dups int
	for _, r := range results {
		accepted += r.Accepted
		dups += r.Duplicates
		if len(r.Refused) > 0 {
			t.Errorf("refused %v", r.Refused[0])
		}
	}
	if accepted != len(batch) || dups != (workers-1)*len(batch) {
		t.Fatalf("accepted %d, duplicates %d over %d workers; want %d and %d", accepted, dups, workers, len(batch), (workers-1)*len(batch))
	}
	if n := f.stored(t); n != len(batch) {
		t.Fatalf("%d events stored, want %d", n, len(batch))
	}
}

func TestConcurrentOverlappingBatchesStoreEachEventOnce(t *testing.T) {
	t.Parallel()
	f := newIngestFixture(t, 3)
	all := f.batchOf("overlap", time.Now().UTC().Add(-3*time.Hour), 900)
	batches := [][]leasing.UsageInput{all[:600], all[300:], all[150:750]}
	results := make([]leasing.BatchResult, len(batches))
	var wg sync.WaitGroup
	for i, b := range batches {
		wg.Go(func() { results[i] = f.ingestAsync(t, f.store, b) })
	}
	wg.Wait()
	var accepted, dups int
	for _, r := range results {
		accepted += r.Accepted
		dups += r.Duplicates
		if len(r.Refused) > 0 {
			t.Errorf("refused %v", r.Refused[0])
		}
	}
	if accepted != 900 || dups != 600+600+600-900 {
		t.Fatalf("accepted %d, duplicates %d; want 900 and 900", accepted, dups)
	}
	if n := f.stored(t); n != 900 {
		t.Fatalf("%d events stored, want 900", n)
	}
}

func TestIngestWithRedisDownStillCountsEachEventOnce(t *testing.T) {
	t.Parallel()
	f := newIngestFixture(t, 2)
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { _ = dead.Close() })
	s := leasing.NewStore(f.p.DB, &cache.Cache{R: dead})
	batch := f.batchOf("no-redis", time.Now().UTC().Add(-time.Hour), 200)
	if r := f.ingest(t, s, batch); r.Accepted != 200 {
		t.Fatalf("first: %+v", r)
	}
	if r := f.ingest(t, s, batch); r.Duplicates != 200 || r.Accepted != 0 {
		t.Fatalf("again: %+v, want all duplicates", r)
	}
	// Concurrent copies, still without Redis.
	more := f.batchOf("no-redis-race", time.Now().UTC().Add(-30*time.Minute), 200)
	var wg sync.WaitGroup
	results := make([]leasing.BatchResult, 3)
	for i := range results {
		wg.Go(func() { results[i] = f.ingestAsync(t, s, more) })
	}
	wg.Wait()
	if a := results[0].Accepted + results[1].Accepted + results[2].Accepted; a != 200 {
		t.Fatalf("concurrent copies accepted %d events, want 200", a)
	}
	// The working store trusts Postgres for what Redis never learnt.
	if r := f.ingest(t, f.store, batch); r.Duplicates != 200 {
		t.Fatalf("with Redis back: %+v, want all duplicates", r)
	}
	if n := f.stored(t); n != 400 {
		t.Fatalf("%d events stored, want 400", n)
	}
}

func TestIngestRefusesASequenceThatContradictsTheStoredReadings(t *testing.T) {
	t.Parallel()
	f := newIngestFixture(t, 1)
	m := f.machines[0]
	base := time.Now().UTC().Add(-4 * time.Hour).Truncate(time.Second)
	at := func(seq int64, minutes int, id string) leasing.UsageInput {
		u := ev(id, m, leasing.MeterParts, "1", base.Add(time.Duration(minutes)*time.Minute))
		u.Seq = seq
		return u
	}
	if r := f.ingest(t, f.store, []leasing.UsageInput{at(10, 0, "s10"), at(20, 10, "s20")}); r.Accepted != 2 {
		t.Fatalf("setup: %+v", r)
	}
	res := f.ingest(t, f.store, []leasing.UsageInput{
		at(15, 20, "s15-late"),  // lower seq than 20, later time
		at(15, 5, "s15"),        // between 10 and 20 in both
		at(25, 5, "s25-early"),  // higher seq than 20, earlier time
		at(5, -1, "s5"),         // before everything
		at(20, 10, "s20-again"), // same seq and time, another id: agrees
		at(30, 30, "s30"),
		at(40, 40, "s40"),
		at(41, 35, "s41-early"), // against s40 of this very batch
		at(35, 35, "s35"),       // between s30 and s40
		at(36, 34, "s36-early"), // against s35, accepted just before
	})
	want := map[int]string{0: leasing.RefusalCounterBackwards, 2: leasing.RefusalCounterBackwards, 7: leasing.RefusalCounterBackwards, 9: leasing.RefusalCounterBackwards}
	if got := codes(res); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("refusals %v, want %v", res.Refused, want)
	}
	if res.Accepted != 6 {
		t.Fatalf("accepted %d, want 6", res.Accepted)
	}
}

func TestLateUsageIsAcceptedWithinTheGraceWindowAndRefusedBeyond(t *testing.T) {
	t.Parallel()
	f := newIngestFixture(t, 1)
	m := f.machines[0]
	ctx := context.Background()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	clock := func() time.Time { return today.Add(12 * time.Hour) } // 36 h after yesterday's period ended
	yesterday := today.AddDate(0, 0, -1).Add(9 * time.Hour)
	fiveDaysAgo := today.AddDate(0, 0, -5).Add(9 * time.Hour)
	sixDaysAgo := today.AddDate(0, 0, -6).Add(9 * time.Hour)
	for _, day := range []time.Time{yesterday, fiveDaysAgo} {
		per, err := leasing.PeriodAt(f.contract.Terms, day)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.p.DB.Exec(ctx, `INSERT INTO invoices (id, contract_id, kind, period_key, charge_key, currency, body, total, platform_fee, lessor_share)
			VALUES ($1, $2, 'PERIOD', $3, $4, 'CNY', '{}', 0, 0, 0)`, uuid.New(), f.contract.ID, per.Key, "period:"+per.Key); err != nil {
			t.Fatal(err)
		}
	}
	batch := []leasing.UsageInput{
		ev("six-days-ago", m, leasing.MeterSpindleHours, "1", sixDaysAgo),   // not invoiced: on time
		ev("five-days-ago", m, leasing.MeterSpindleHours, "1", fiveDaysAgo), // invoiced 4 days ago
		ev("yesterday", m, leasing.MeterSpindleHours, "2", yesterday),       // invoiced, within 72 h
		ev("today", m, leasing.MeterSpindleHours, "3", today.Add(time.Hour)),
	}
	res, err := f.store.IngestWith(ctx, f.as, batch, leasing.IngestOptions{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if got := codes(res); len(got) != 1 || got[1] != leasing.RefusalLateBeyondGrace {
		t.Fatalf("refusals %v, want only five-days-ago LATE_BEYOND_GRACE", res.Refused)
	}
	if res.Accepted != 3 || res.Late != 1 {
		t.Fatalf("accepted %d, late %d; want 3 and 1", res.Accepted, res.Late)
	}
	// The late event waits unbilled in its own period for the next settlement.
	var key string
	var invoice *uuid.UUID
	if err := f.p.DB.QueryRow(ctx, `SELECT period_key, invoice_id FROM usage_events WHERE equipment_id = $1 AND event_id = 'yesterday'`, m).Scan(&key, &invoice); err != nil {
		t.Fatal(err)
	}
	if key != yesterday.Format(time.DateOnly) || invoice != nil {
		t.Fatalf("late event in period %q with invoice %v, want %s and none", key, invoice, yesterday.Format(time.DateOnly))
	}
	// A shorter grace refuses yesterday's too; a retry of a stored late event is a duplicate, not a refusal.
	res, err = f.store.IngestWith(ctx, f.as, []leasing.UsageInput{
		batch[2],
		ev("yesterday-2", m, leasing.MeterSpindleHours, "2", yesterday.Add(time.Minute)),
	}, leasing.IngestOptions{Now: clock, Grace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if res.Duplicates != 1 || codes(res)[1] != leasing.RefusalLateBeyondGrace {
		t.Fatalf("with a 1 h grace: %+v", res)
	}
}

func TestIngestRefusesOversizedBatchesWhole(t *testing.T) {
	t.Parallel()
	f := newIngestFixture(t, 1)
	_, err := f.store.Ingest(context.Background(), f.as, make([]leasing.UsageInput, leasing.MaxBatch+1))
	if !errors.Is(err, errs.ErrInvalidInput) {
		t.Fatalf("err %v, want INVALID_INPUT", err)
	}
}

func TestUsageInputDecodesNumbersAndMissingSeq(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]leasing.UsageInput{
		`{"eventId":"a","equipmentId":"e","meter":"parts","value":12.50,"at":"t","seq":3}`:  {EventID: "a", EquipmentID: "e", Meter: "parts", Value: "12.50", At: "t", Seq: 3},
		`{"eventId":"a","equipmentId":"e","meter":"parts","value":"1.5","at":"t"}`:          {EventID: "a", EquipmentID: "e", Meter: "parts", Value: "1.5", At: "t", Seq: -1},
		`{"eventId":"a","value":null,"seq":null}`:                                           {EventID: "a", Seq: -1},
		`{"eventId":"a","value":true,"seq":0}`:                                              {EventID: "a", Value: "true"},
		`{"eventId":"a","equipmentId":"e","meter":"parts","value":"7","at":"t","seq":0}`:    {EventID: "a", EquipmentID: "e", Meter: "parts", Value: "7", At: "t"},
		`{"eventId":"a","equipmentId":"e","meter":"parts","value":"7","at":"t","seq":0.5}`:  {},
		`{"eventId":"a","equipmentId":"e","meter":"parts","value":"7","at":"t","seq":"12"}`: {},
	} {
		var got leasing.UsageInput
		err := got.UnmarshalJSON([]byte(raw))
		if want == (leasing.UsageInput{}) {
			if err == nil {
				t.Errorf("%s: decoded %+v, want an error", raw, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%s: %+v, %v; want %+v", raw, got, err, want)
		}
	}
}

// The Redis watermark spares a scan of the machine's history only while no
// reading was stored for the machine since it was written; one stored behind
// Ingest's back (or a lost watermark update) must be seen.
func TestIngestDoesNotTrustAWatermarkTheMachineHasMovedPast(t *testing.T) {
	t.Parallel()
	f := newIngestFixture(t, 1)
	m := f.machines[0]
	ctx := context.Background()
	base := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)
	read := func(seq int64, minutes int, id string) leasing.UsageInput {
		u := ev(id, m, leasing.MeterParts, "1", base.Add(time.Duration(minutes)*time.Minute))
		u.Seq = seq
		return u
	}
	if r := f.ingest(t, f.store, []leasing.UsageInput{read(1, 1, "w1"), read(2, 2, "w2"), read(3, 3, "w3")}); r.Accepted != 3 {
		t.Fatalf("setup: %+v", r)
	}
	mark, err := f.p.Cache.R.Get(ctx, "usage:seq:"+m.String()).Result()
	if err != nil || !strings.Contains(mark, fmt.Sprintf("|3|%d", base.Add(3*time.Minute).UnixMicro())) {
		t.Fatalf("watermark %q (%v), want seq 3 at the third reading", mark, err)
	}
	per, err := leasing.PeriodAt(f.contract.Terms, base.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.p.DB.Exec(ctx, `INSERT INTO usage_events (equipment_id, event_id, meter, value, at, seq, contract_id, period_key)
		VALUES ($1, 'direct', 'parts', 1, $2, 100, $3, $4)`, m, base.Add(time.Hour), f.contract.ID, per.Key); err != nil {
		t.Fatal(err)
	}
	res := f.ingest(t, f.store, []leasing.UsageInput{read(200, 30, "behind-direct"), read(300, 90, "after-direct")})
	if got := codes(res); len(got) != 1 || got[0] != leasing.RefusalCounterBackwards || res.Accepted != 1 {
		t.Fatalf("result %+v, want seq 200 refused against the reading stored behind Ingest's back", res)
	}
	// And the next batch builds on the new watermark.
	if r := f.ingest(t, f.store, []leasing.UsageInput{read(250, 95, "behind-300"), read(400, 100, "w400")}); r.Accepted != 1 || codes(r)[0] != leasing.RefusalCounterBackwards {
		t.Fatalf("next batch: %+v, want seq 250 refused and seq 400 accepted", r)
	}
}
