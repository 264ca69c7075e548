package leasing

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"

	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
)

// Ingestion of metered usage. Machines report batches of readings through
// their lessor's token; each reading is counted exactly once. Postgres decides:
// usage_events' primary key (equipment_id, event_id) is the truth of dedup, and
// every batch lands through one INSERT ... ON CONFLICT DO NOTHING, so that
// concurrent copies of an event are stored once and the batch that lost the
// race counts it as a duplicate. Redis only remembers what Postgres has
// already committed (the stored event ids, and each machine's highest stored
// seq), so a repeated batch is answered without touching Postgres and a batch
// of newer readings is checked without scanning the machine's history; with
// Redis down the answer is the same, only slower.
//
// A batch is checked in stages: first what needs no stored state but the
// machines (shape, machine, meter, value, clock) and the Redis fast path; then,
// in one transaction under per-machine advisory locks, the contract, the
// invoiced periods and the machine's sequence, and finally a COPY into a
// session staging table and one INSERT from it.

// The reasons an event is refused. Each refused event gets one, with a
// message for people; the other events of the batch are stored regardless.
const (
	// RefusalMalformed: a required field (eventId, equipmentId, meter, at, seq)
	// is missing, the event id is too long, or the time is not RFC 3339.
	RefusalMalformed = "MALFORMED"
	// RefusalMalformedValue: the value is not a plain decimal, has too many
	// digits, is not whole for a counted meter, or is a negative peak.
	RefusalMalformedValue = "MALFORMED_VALUE"
	// RefusalUnknownEquipment: no machine of the caller's lessor has that id.
	// A machine of another lessor is refused the same way, so nobody learns
	// which ids exist.
	RefusalUnknownEquipment = "UNKNOWN_EQUIPMENT"
	// RefusalUnknownMeter: the machine does not report that meter.
	RefusalUnknownMeter = "UNKNOWN_METER"
	// RefusalOutsideContract: no ACTIVE lease covers the machine at that time.
	RefusalOutsideContract = "OUTSIDE_CONTRACT"
	// RefusalInFuture: the time is further ahead of the platform's clock than
	// the allowed skew.
	RefusalInFuture = "IN_FUTURE"
	// RefusalCounterBackwards: a negative reading of an additive meter (SUM or
	// COUNT), or a sequence number that contradicts the machine's other events
	// (a higher seq with an earlier time, or a lower seq with a later time).
	RefusalCounterBackwards = "COUNTER_BACKWARDS"
	// RefusalLateBeyondGrace: the event's period is already invoiced and
	// ended longer ago than the grace window.
	RefusalLateBeyondGrace = "LATE_BEYOND_GRACE"
)

// Ingestion limits and defaults.
const (
	// MaxBatch is the largest batch Ingest takes in one call.
	MaxBatch = 100_000
	// DefaultMaxSkew is how far ahead of the platform's clock a reading may be.
	DefaultMaxSkew = 5 * time.Minute
	// DefaultGrace is how long after its period ended a reading is still
	// accepted when the period is already invoiced (it is then billed as an
	// adjustment on the next invoice).
	DefaultGrace = 72 * time.Hour

	maxEventIDChars = 200 // usage_events.event_id's CHECK
	maxIntDigits    = 18  // significant digits before the point
	maxFracDigits   = 12  // significant digits after it
	// seenTTL is how long Redis remembers a stored event id (per machine and
	// day of the reading): long enough for a machine's retries, short enough
	// to bound memory; older repeats are caught by Postgres.
	seenTTL = 4 * 24 * time.Hour
	// redisBudget bounds the fast path: a slow Redis must not hold a batch up.
	redisBudget = 500 * time.Millisecond
	// redisPause is how long the fast path is skipped after Redis failed, so
	// that a Redis outage costs one budget per pause, not two per batch.
	redisPause = 10 * time.Second
	// lockClass namespaces the per-machine advisory locks (two-key form, which
	// does not overlap the single-key locks used elsewhere).
	lockClass = 0x75736167 // "usag"
)

// UsageInput is one reading as a machine sends it. The fields are kept raw so
// that a malformed value or time is refused with its own reason instead of
// failing the whole batch.
type UsageInput struct {
	EventID     string `json:"eventId"`
	EquipmentID string `json:"equipmentId"`
	Meter       string `json:"meter"`
	// Value is a plain decimal, "-?digits(.digits)?".
	Value string `json:"value"`
	// At is an RFC 3339 time with a zone.
	At string `json:"at"`
	// Seq is the machine's own sequence number; it orders the machine's
	// readings and must agree with their times.
	Seq int64 `json:"seq"`
}

// UnmarshalJSON reads a reading leniently where that loses nothing: value may
// be a JSON string or a JSON number (taken by its literal, never as a float),
// and a missing or null seq becomes -1, which Ingest refuses as MALFORMED
// instead of mistaking it for seq 0.
func (u *UsageInput) UnmarshalJSON(b []byte) error {
	var raw struct {
		EventID     string          `json:"eventId"`
		EquipmentID string          `json:"equipmentId"`
		Meter       string          `json:"meter"`
		Value       json.RawMessage `json:"value"`
		At          string          `json:"at"`
		Seq         *int64          `json:"seq"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*u = UsageInput{EventID: raw.EventID, EquipmentID: raw.EquipmentID, Meter: raw.Meter, At: raw.At, Seq: -1}
	if raw.Seq != nil {
		u.Seq = *raw.Seq
	}
	switch v := raw.Value; {
	case len(v) == 0 || string(v) == "null":
	case v[0] == '"':
		if err := json.Unmarshal(v, &u.Value); err != nil {
			return err
		}
	default:
		u.Value = string(v) // a number, or something Ingest refuses as MALFORMED_VALUE
	}
	return nil
}

// Refusal says why the event at Index of a batch was not stored.
type Refusal struct {
	Index   int    `json:"index"`
	EventID string `json:"eventId"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// BatchResult is the answer to a batch. Every event is counted once:
// Accepted + Duplicates + len(Refused) is the batch's length. Late counts the
// accepted events whose period is already invoiced; they are billed as
// adjustments on the contract's next invoice.
type BatchResult struct {
	Accepted   int       `json:"accepted"`
	Duplicates int       `json:"duplicates"`
	Late       int       `json:"late"`
	Refused    []Refusal `json:"refused"`
}

// IngestOptions tune ingestion; zero fields take the defaults.
type IngestOptions struct {
	// MaxSkew is how far ahead of Now a reading may be (DefaultMaxSkew).
	MaxSkew time.Duration
	// Grace is how long late usage of an invoiced period is accepted after
	// the period ended (DefaultGrace; the platform passes LEASE_LATE_GRACE).
	Grace time.Duration
	// Now is the platform's clock (time.Now).
	Now func() time.Time
}

func (o IngestOptions) withDefaults() IngestOptions {
	if o.MaxSkew <= 0 {
		o.MaxSkew = DefaultMaxSkew
	}
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Ingest stores a batch of usage with the default options. See IngestWith.
func (s *Store) Ingest(ctx context.Context, p *identity.Principal, batch []UsageInput) (BatchResult, error) {
	return s.IngestWith(ctx, p, batch, IngestOptions{})
}

// IngestWith stores the valid events of a batch and says why each other one
// was refused. The caller is a lessor's admin or member reporting for its own
// machines, or the operator. Refusing never writes; a repeated event (in the
// batch, in an earlier batch, or in a concurrent one) is counted as a
// duplicate and stored once. An error means nothing of the batch was stored.
func (s *Store) IngestWith(ctx context.Context, p *identity.Principal, batch []UsageInput, opt IngestOptions) (BatchResult, error) {
	if err := identity.Authorize(p, identity.ActUsageReport, identity.Scope{EnterpriseID: p.EnterpriseIDOrNil()}); err != nil {
		return BatchResult{}, err
	}
	if len(batch) > MaxBatch {
		return BatchResult{}, errs.Invalid([]string{"input", "events"}, "a batch holds at most %d events, this one %d", MaxBatch, len(batch))
	}
	opt = opt.withDefaults()
	in := &ingestion{s: s, p: p, opt: opt, now: opt.Now().UTC(), batch: batch}
	if err := in.run(ctx); err != nil {
		return BatchResult{}, err
	}
	return in.result(), nil
}

// status is where an event of the batch stands.
type status uint8

const (
	live     status = iota // still to be stored
	refused                // refused for what it is: never a copy of a stored event
	held                   // refused for the state of things; a duplicate if already stored
	dup                    // already stored, or repeated in the batch
	accepted               // inserted by this batch
)

type candidate struct {
	idx     int // position in the batch
	eventID string
	equip   uuid.UUID
	meter   Meter
	value   string
	at      time.Time
	seq     int64

	contract  uuid.UUID
	period    string
	periodEnd time.Time
	late      bool

	st   status
	code string
	msg  string
	// stored: Postgres holds the event now (inserted, or found there), so
	// Redis may learn it.
	stored bool
}

func (c *candidate) refuse(st status, code, format string, args ...any) {
	c.st, c.code, c.msg = st, code, fmt.Sprintf(format, args...)
}

type eventKey struct {
	equip uuid.UUID
	id    string
}

type machine struct {
	meters []Meter
	leases []*lease
}

// lease is a contract as ingestion needs it, with the last period computed so
// that consecutive readings do not compute it again.
type lease struct {
	id    uuid.UUID
	terms Contract // ID, Period, Start and End only
	cur   Period
	has   bool
}

func (l *lease) periodAt(t time.Time) (Period, error) {
	if l.has && !t.Before(l.cur.Start) && t.Before(l.cur.End) {
		return l.cur, nil
	}
	p, err := PeriodAt(l.terms, t)
	if err == nil {
		l.cur, l.has = p, true
	}
	return p, err
}

// seqPoint is a reading's place in its machine's sequence.
type seqPoint struct {
	seq int64
	at  time.Time
}

// seqLine is what the sequence check knows of one machine: stored readings
// (the nearest below the batch's seqs, those within, the nearest above) and
// the batch's readings accepted so far, sorted by (seq, at).
type seqLine struct {
	pts []seqPoint
	// top: the last point is the machine's highest stored seq, so it can be
	// remembered as the machine's watermark once the batch is stored.
	top bool
}

type ingestion struct {
	s     *Store
	p     *identity.Principal
	opt   IngestOptions
	now   time.Time
	batch []UsageInput

	bad      []Refusal   // events that did not parse
	cands    []candidate // the others, in batch order
	machines map[uuid.UUID]*machine
	keys     map[eventKey]int // the first candidate of each event

	marks    map[uuid.UUID]watermark // from Redis, unverified
	versions map[uuid.UUID]string    // equipment row versions under the batch's lock
	after    map[uuid.UUID]string    // and after its insert
	lines    map[uuid.UUID]*seqLine
	complete bool // every event that reached the INSERT was inserted
}

func (in *ingestion) run(ctx context.Context) error {
	in.parse()
	if len(in.cands) == 0 {
		return nil
	}
	if err := in.loadMachines(ctx); err != nil {
		return err
	}
	in.checkStatic()
	in.recall(ctx)
	in.checkFuture()
	if in.count(live) == 0 {
		if err := in.resolveHeld(ctx, in.s.db); err != nil {
			return err
		}
	} else if err := in.store(ctx); err != nil {
		return err
	}
	in.remember(ctx)
	return nil
}

func (in *ingestion) count(st status) int {
	n := 0
	for i := range in.cands {
		if in.cands[i].st == st {
			n++
		}
	}
	return n
}

// liveMachines lists, once each and in batch order, the machines that still
// have events to store.
func (in *ingestion) liveMachines() []uuid.UUID {
	var out []uuid.UUID
	seen := make(map[uuid.UUID]bool, len(in.machines))
	for i := range in.cands {
		if c := &in.cands[i]; c.st == live && !seen[c.equip] {
			seen[c.equip] = true
			out = append(out, c.equip)
		}
	}
	return out
}

// parse checks each event's shape; what passes becomes a candidate.
func (in *ingestion) parse() {
	in.cands = make([]candidate, 0, len(in.batch))
	for i := range in.batch {
		u := &in.batch[i]
		c, code, msg := parseInput(u)
		if code != "" {
			in.bad = append(in.bad, Refusal{Index: i, EventID: clip(u.EventID), Code: code, Message: msg})
			continue
		}
		c.idx = i
		in.cands = append(in.cands, c)
	}
}

func parseInput(u *UsageInput) (c candidate, code, msg string) {
	id := u.EventID
	switch {
	case strings.TrimSpace(id) == "":
		return c, RefusalMalformed, "eventId is required"
	case !utf8.ValidString(id) || strings.IndexByte(id, 0) >= 0:
		return c, RefusalMalformed, "eventId must be UTF-8 text without NUL"
	case utf8.RuneCountInString(id) > maxEventIDChars:
		return c, RefusalMalformed, fmt.Sprintf("eventId must be at most %d characters", maxEventIDChars)
	case strings.TrimSpace(u.EquipmentID) == "":
		return c, RefusalMalformed, "equipmentId is required"
	case strings.TrimSpace(u.Meter) == "":
		return c, RefusalMalformed, "meter is required"
	case strings.TrimSpace(u.At) == "":
		return c, RefusalMalformed, "at is required"
	case u.Seq < 0:
		return c, RefusalMalformed, "seq is required and must not be negative"
	}
	at, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(u.At))
	if err != nil {
		return c, RefusalMalformed, "at must be an RFC 3339 time with a zone, e.g. 2026-11-23T08:15:00Z"
	}
	eq, err := uuid.Parse(strings.TrimSpace(u.EquipmentID))
	if err != nil {
		return c, RefusalUnknownEquipment, "no such machine"
	}
	// Postgres keeps microseconds: compare what will be stored.
	return candidate{eventID: id, equip: eq, meter: Meter(strings.TrimSpace(u.Meter)), value: strings.TrimSpace(u.Value),
		at: at.UTC().Truncate(time.Microsecond), seq: u.Seq}, "", ""
}

// clip keeps an echoed id or value short.
func clip(s string) string {
	if len(s) <= maxEventIDChars {
		return s
	}
	s = s[:maxEventIDChars]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// loadMachines reads every machine of the batch in one query.
func (in *ingestion) loadMachines(ctx context.Context) error {
	ids := make([]uuid.UUID, 0, 8)
	seen := make(map[uuid.UUID]bool, 8)
	for i := range in.cands {
		if id := in.cands[i].equip; !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	rows, err := in.s.db.Query(ctx, `SELECT id, lessor_id, meters FROM equipment WHERE id = ANY($1)`, ids)
	if err != nil {
		return fmt.Errorf("ingest: machines: %w", err)
	}
	defer rows.Close()
	in.machines = make(map[uuid.UUID]*machine, len(ids))
	for rows.Next() {
		var id, lessor uuid.UUID
		var meters []string
		if err := rows.Scan(&id, &lessor, &meters); err != nil {
			return fmt.Errorf("ingest: machines: %w", err)
		}
		// Another lessor's machine is as unknown as a missing one.
		if !identity.Can(in.p, identity.ActUsageReport, identity.Scope{EnterpriseID: lessor}) {
			continue
		}
		m := &machine{meters: make([]Meter, len(meters))}
		for i, name := range meters {
			m.meters[i] = Meter(name)
		}
		in.machines[id] = m
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("ingest: machines: %w", err)
	}
	return nil
}

// checkStatic refuses what is wrong with an event whatever the time: the
// machine, the meter, the value. Then it counts repeats within the batch.
func (in *ingestion) checkStatic() {
	in.keys = make(map[eventKey]int, len(in.cands))
	for i := range in.cands {
		c := &in.cands[i]
		m := in.machines[c.equip]
		if m == nil {
			c.refuse(refused, RefusalUnknownEquipment, "no such machine")
			continue
		}
		if !slices.Contains(m.meters, c.meter) {
			c.refuse(refused, RefusalUnknownMeter, "the machine has no meter %q", clip(string(c.meter)))
			continue
		}
		agg, _ := c.meter.Aggregation()
		neg, whole, ok := parseValue(c.value)
		switch {
		case !ok:
			c.refuse(refused, RefusalMalformedValue, "value %q is not a decimal of at most %d digits before the point and %d after",
				clip(c.value), maxIntDigits, maxFracDigits)
		case neg && agg != AggregationMax:
			c.refuse(refused, RefusalCounterBackwards, "%s adds up: a reading of %s would run the counter backwards", c.meter, c.value)
		case neg:
			c.refuse(refused, RefusalMalformedValue, "a %s reading is never negative", c.meter)
		case agg == AggregationCount && !whole:
			c.refuse(refused, RefusalMalformedValue, "%s counts whole units, not %s", c.meter, c.value)
		}
		if c.st != live {
			continue
		}
		k := eventKey{c.equip, c.eventID}
		if _, again := in.keys[k]; again {
			c.st = dup
			continue
		}
		in.keys[k] = i
	}
}

// parseValue checks a reading written "-?digits(.digits)?" with at most
// maxIntDigits significant digits before the point and maxFracDigits after.
func parseValue(s string) (neg, whole, ok bool) {
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	intPart, frac, hasPoint := strings.Cut(s, ".")
	if intPart == "" || (hasPoint && frac == "") || !digits(intPart) || !digits(frac) {
		return false, false, false
	}
	intPart = strings.TrimLeft(intPart, "0")
	frac = strings.TrimRight(frac, "0")
	if len(intPart) > maxIntDigits || len(frac) > maxFracDigits {
		return false, false, false
	}
	return neg && (intPart != "" || frac != ""), frac == "", true
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// checkFuture holds readings from too far ahead.
func (in *ingestion) checkFuture() {
	limit := in.now.Add(in.opt.MaxSkew)
	for i := range in.cands {
		if c := &in.cands[i]; c.st == live && c.at.After(limit) {
			c.refuse(held, RefusalInFuture, "at %s is more than %s ahead of the platform clock", c.at.Format(time.RFC3339Nano), in.opt.MaxSkew)
		}
	}
}

// The Redis fast path keeps two things, both only ever written after Postgres
// committed what they describe:
//
//   - usage:seen:<equipment>:<yyyymmdd>, a set of the event ids stored for a
//     machine's readings of one UTC day. A member is a certain duplicate, so
//     the event is answered without Postgres; a miss proves nothing.
//   - usage:seq:<equipment>, the machine's watermark: its highest stored seq
//     and that reading's time, tagged with the version (xmin:xmax) of the
//     machine's equipment row as the writing transaction saw it after its
//     insert. Every insert into usage_events locks the machine's equipment
//     row FOR KEY SHARE (its foreign key), which stamps the row's xmax with the
//     inserting transaction; so while the row still shows the same version
//     nobody has stored a reading for the machine since, and the watermark is
//     exact. A batch that only adds newer readings then needs no scan of the
//     machine's history. Any other version (a lost update of the watermark,
//     a write that bypassed Ingest, a vacuum) just means a scan.

func seenKey(equip uuid.UUID, day int64) string {
	return "usage:seen:" + equip.String() + ":" + time.Unix(day*86400, 0).UTC().Format("20060102")
}

func markKey(equip uuid.UUID) string { return "usage:seq:" + equip.String() }

type watermark struct {
	version string
	seqPoint
}

func (w watermark) String() string {
	return fmt.Sprintf("%s|%d|%d", w.version, w.seq, w.at.UnixMicro())
}

func parseWatermark(s string) (watermark, bool) {
	var w watermark
	var micros int64
	version, rest, ok := strings.Cut(s, "|")
	if !ok {
		return w, false
	}
	if _, err := fmt.Sscanf(rest, "%d|%d", &w.seq, &micros); err != nil {
		return w, false
	}
	w.version, w.at = version, time.UnixMicro(micros).UTC()
	return w, true
}

func dayOf(t time.Time) int64 {
	s := t.Unix()
	d := s / 86400
	if s < 0 && s%86400 != 0 {
		d--
	}
	return d
}

type seenGroup struct {
	equip uuid.UUID
	day   int64
}

func (in *ingestion) groups(want func(*candidate) bool) map[seenGroup][]int {
	out := make(map[seenGroup][]int)
	for i := range in.cands {
		if c := &in.cands[i]; want(c) {
			g := seenGroup{c.equip, dayOf(c.at)}
			out[g] = append(out[g], i)
		}
	}
	return out
}

// recall asks Redis, in one round trip, which live events are already stored
// (they become duplicates) and the watermarks of their machines.
func (in *ingestion) recall(ctx context.Context) {
	if !in.fastPath() {
		return
	}
	groups := in.groups(func(c *candidate) bool { return c.st == live })
	if len(groups) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, redisBudget)
	defer cancel()
	pipe := in.s.cache.R.Pipeline()
	type lookup struct {
		idxs []int
		cmd  *redis.BoolSliceCmd
	}
	lookups := make([]lookup, 0, len(groups))
	for g, idxs := range groups {
		members := make([]any, len(idxs))
		for j, i := range idxs {
			members[j] = in.cands[i].eventID
		}
		lookups = append(lookups, lookup{idxs, pipe.SMIsMember(ctx, seenKey(g.equip, g.day), members...)})
	}
	machines := in.liveMachines()
	keys := make([]string, len(machines))
	for i, eq := range machines {
		keys[i] = markKey(eq)
	}
	marks := pipe.MGet(ctx, keys...)
	if _, err := pipe.Exec(ctx); err != nil {
		in.fastPathFailed(ctx, "usage fast path unavailable, Postgres decides", err)
		return
	}
	for _, l := range lookups {
		hits := l.cmd.Val()
		if len(hits) != len(l.idxs) {
			continue
		}
		for j, i := range l.idxs {
			if hits[j] {
				in.cands[i].st = dup
			}
		}
	}
	in.marks = make(map[uuid.UUID]watermark, len(machines))
	for i, v := range marks.Val() {
		if s, ok := v.(string); ok {
			if w, ok := parseWatermark(s); ok {
				in.marks[machines[i]] = w
			}
		}
	}
}

// remember tells Redis which events Postgres now holds and, when the batch
// stored everything it tried to, the machines' new watermarks.
func (in *ingestion) remember(ctx context.Context) {
	if !in.fastPath() {
		return
	}
	groups := in.groups(func(c *candidate) bool { return c.stored })
	if len(groups) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), redisBudget)
	defer cancel()
	pipe := in.s.cache.R.Pipeline()
	for g, idxs := range groups {
		members := make([]any, len(idxs))
		for j, i := range idxs {
			members[j] = in.cands[i].eventID
		}
		key := seenKey(g.equip, g.day)
		pipe.SAdd(ctx, key, members...)
		pipe.Expire(ctx, key, seenTTL)
	}
	if in.complete {
		for eq, version := range in.after {
			if l := in.lines[eq]; l != nil && l.top && len(l.pts) > 0 {
				pipe.Set(ctx, markKey(eq), watermark{version, l.pts[len(l.pts)-1]}.String(), seenTTL)
			}
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		in.fastPathFailed(ctx, "usage fast path not updated", err)
	}
}

// redisDownUntil remembers, per Redis client, until when the fast path is
// skipped after a failure (unix nanoseconds).
var redisDownUntil sync.Map // *redis.Client → int64

func (in *ingestion) fastPath() bool {
	if in.s.cache == nil || in.s.cache.R == nil {
		return false
	}
	until, ok := redisDownUntil.Load(in.s.cache.R)
	return !ok || time.Now().UnixNano() >= until.(int64)
}

func (in *ingestion) fastPathFailed(ctx context.Context, msg string, err error) {
	redisDownUntil.Store(in.s.cache.R, time.Now().Add(redisPause).UnixNano())
	slog.WarnContext(ctx, msg, "err", err, "retry_in", redisPause.String())
}

// store runs the checks that depend on stored state and inserts the rest, in
// one transaction. The batch's machines are locked (advisory, in a fixed
// order), so two batches of one machine check its sequence one after the
// other; its contracts are locked FOR KEY SHARE, which waits for a period
// close in progress and holds the next one off until this batch committed, so
// "already invoiced" cannot change under the batch.
func (in *ingestion) store(ctx context.Context) error {
	err := pgx.BeginFunc(ctx, in.s.db, func(tx pgx.Tx) error {
		if err := in.lockAndLoad(ctx, tx); err != nil {
			return err
		}
		in.checkContracts()
		if in.count(live) > 0 {
			invoiced, err := in.loadInvoicedAndSeqs(ctx, tx)
			if err != nil {
				return err
			}
			in.checkGrace(invoiced)
			in.checkSeq()
		}
		if err := in.resolveHeld(ctx, tx); err != nil {
			return err
		}
		if in.count(live) == 0 {
			return nil
		}
		return in.insert(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	return nil
}

// stagingDDL is the session's staging table: no index, no constraint, not
// WAL-logged, emptied at every commit. COPY into it is the cheapest way to
// hand Postgres a batch; the INSERT from it lets the primary key decide.
const stagingDDL = `CREATE TEMP TABLE IF NOT EXISTS usage_ingest_staging (
	equipment_id uuid NOT NULL, event_id text NOT NULL, meter text NOT NULL, value text NOT NULL,
	at timestamptz NOT NULL, seq bigint NOT NULL, contract_id uuid NOT NULL, period_key text NOT NULL
) ON COMMIT DELETE ROWS`

var stagingColumns = []string{"equipment_id", "event_id", "meter", "value", "at", "seq", "contract_id", "period_key"}

// versionsSQL reads the equipment rows' versions (see the fast path above).
const versionsSQL = `SELECT id, xmin::text || ':' || xmax::text FROM equipment WHERE id = ANY($1)`

func lockKey(equip uuid.UUID) int32 {
	h := fnv.New32a()
	_, _ = h.Write(equip[:])
	return int32(h.Sum32())
}

// lockAndLoad prepares the transaction in one round trip: the staging table,
// the machines' advisory locks (sorted, so every batch takes them in the same
// order), their equipment rows' versions and their ACTIVE contracts.
func (in *ingestion) lockAndLoad(ctx context.Context, tx pgx.Tx) error {
	machines := in.liveMachines()
	keys := make([]int32, len(machines))
	for i, eq := range machines {
		keys[i] = lockKey(eq)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	from, to := in.span()
	in.versions = make(map[uuid.UUID]string, len(machines))
	leases := map[uuid.UUID]*lease{}

	b := &pgx.Batch{}
	b.Queue(stagingDDL)
	b.Queue(`SELECT pg_advisory_xact_lock($1::int4, k) FROM unnest($2::int4[]) AS k`, int32(lockClass), keys)
	b.Queue(versionsSQL, machines).Query(func(rows pgx.Rows) error {
		return scanVersions(rows, in.versions)
	})
	b.Queue(`SELECT ce.equipment_id, lc.id, lc.terms FROM contract_equipment ce JOIN lease_contracts lc ON lc.id = ce.contract_id
		WHERE ce.equipment_id = ANY($1) AND lc.status = 'ACTIVE' AND lc.starts_at <= $3 AND lc.ends_at >= $2
		ORDER BY lc.id FOR KEY SHARE OF lc`, machines, from, to).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var eq, id uuid.UUID
			var raw []byte
			if err := rows.Scan(&eq, &id, &raw); err != nil {
				return err
			}
			l := leases[id]
			if l == nil {
				var t struct {
					Period BillingPeriod `json:"period"`
					Start  time.Time     `json:"start"`
					End    time.Time     `json:"end"`
				}
				if err := json.Unmarshal(raw, &t); err != nil {
					return fmt.Errorf("contract %s terms: %w", id, err)
				}
				l = &lease{id: id, terms: Contract{ID: id.String(), Period: t.Period, Start: t.Start, End: t.End}}
				leases[id] = l
			}
			if m := in.machines[eq]; m != nil {
				m.leases = append(m.leases, l)
			}
		}
		return rows.Err()
	})
	return tx.SendBatch(ctx, b).Close()
}

func scanVersions(rows pgx.Rows, into map[uuid.UUID]string) error {
	for rows.Next() {
		var id uuid.UUID
		var v string
		if err := rows.Scan(&id, &v); err != nil {
			return err
		}
		into[id] = v
	}
	return rows.Err()
}

// span is the time range of the live events.
func (in *ingestion) span() (from, to time.Time) {
	first := true
	for i := range in.cands {
		c := &in.cands[i]
		if c.st != live {
			continue
		}
		if first || c.at.Before(from) {
			from = c.at
		}
		if first || c.at.After(to) {
			to = c.at
		}
		first = false
	}
	return from, to
}

// checkContracts holds events no ACTIVE lease covers and gives the others
// their contract and billing period.
func (in *ingestion) checkContracts() {
	for i := range in.cands {
		c := &in.cands[i]
		if c.st != live {
			continue
		}
		found := false
		for _, l := range in.machines[c.equip].leases {
			if p, err := l.periodAt(c.at); err == nil {
				c.contract, c.period, c.periodEnd, found = l.id, p.Key, p.End, true
				break
			}
		}
		if !found {
			c.refuse(held, RefusalOutsideContract, "no active lease covers this machine at %s", c.at.Format(time.RFC3339Nano))
		}
	}
}

type periodRef struct {
	contract uuid.UUID
	key      string
}

// seqScanSQL reads, for machines without a usable watermark, the stored
// readings the sequence check compares with: the nearest below the batch's
// lowest seq, those within its seq range, and the nearest above its highest
// (side -1, 0, 1). Ties on seq are broken by time so the nearest bound the
// check tightest. One pass over each machine's rows: usage_events has no
// index on (equipment_id, seq), so this costs the machine's history; with
// one, three LIMIT 1 / range lookups per machine would make it logarithmic.
const seqScanSQL = `WITH r AS MATERIALIZED (
		SELECT b.eq, u.seq, u.at, CASE WHEN u.seq < b.lo THEN -1 WHEN u.seq > b.hi THEN 1 ELSE 0 END AS side
		FROM unnest($1::uuid[], $2::int8[], $3::int8[]) AS b(eq, lo, hi)
		JOIN usage_events u ON u.equipment_id = b.eq
	)
	(SELECT eq, seq, at, side FROM r WHERE side = 0)
	UNION ALL
	(SELECT DISTINCT ON (eq) eq, seq, at, side FROM r WHERE side < 0 ORDER BY eq, seq DESC, at DESC)
	UNION ALL
	(SELECT DISTINCT ON (eq) eq, seq, at, side FROM r WHERE side > 0 ORDER BY eq, seq, at)`

// loadInvoicedAndSeqs reads, in one round trip, which periods of the batch are
// already invoiced and what the sequence check needs of each machine: its
// watermark when Redis has a current one and the batch only adds newer
// readings, its stored readings around the batch's seqs otherwise.
func (in *ingestion) loadInvoicedAndSeqs(ctx context.Context, tx pgx.Tx) (map[periodRef]bool, error) {
	var contracts []uuid.UUID
	var keys []string
	refs := map[periodRef]bool{}
	seenContract := map[uuid.UUID]bool{}
	type bounds struct{ lo, hi int64 }
	ranges := map[uuid.UUID]*bounds{}
	var order []uuid.UUID
	for i := range in.cands {
		c := &in.cands[i]
		if c.st != live {
			continue
		}
		if r := (periodRef{c.contract, c.period}); !refs[r] {
			refs[r] = true
			keys = append(keys, c.period)
			if !seenContract[c.contract] {
				seenContract[c.contract] = true
				contracts = append(contracts, c.contract)
			}
		}
		if r := ranges[c.equip]; r == nil {
			ranges[c.equip] = &bounds{c.seq, c.seq}
			order = append(order, c.equip)
		} else {
			r.lo, r.hi = min(r.lo, c.seq), max(r.hi, c.seq)
		}
	}
	in.lines = make(map[uuid.UUID]*seqLine, len(order))
	var eqs []uuid.UUID
	var los, his []int64
	for _, eq := range order {
		r := ranges[eq]
		if w, ok := in.marks[eq]; ok && w.version == in.versions[eq] && r.lo > w.seq {
			in.lines[eq] = &seqLine{pts: []seqPoint{w.seqPoint}, top: true}
			continue
		}
		in.lines[eq] = &seqLine{top: true} // until a stored reading above the batch shows up
		eqs, los, his = append(eqs, eq), append(los, r.lo), append(his, r.hi)
	}

	invoiced := map[periodRef]bool{}
	b := &pgx.Batch{}
	b.Queue(`SELECT contract_id, period_key FROM invoices WHERE kind = 'PERIOD' AND contract_id = ANY($1) AND period_key = ANY($2)`,
		contracts, keys).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var r periodRef
			if err := rows.Scan(&r.contract, &r.key); err != nil {
				return err
			}
			invoiced[r] = true
		}
		return rows.Err()
	})
	if len(eqs) > 0 {
		b.Queue(seqScanSQL, eqs, los, his).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var eq uuid.UUID
				var p seqPoint
				var side int
				if err := rows.Scan(&eq, &p.seq, &p.at, &side); err != nil {
					return err
				}
				l := in.lines[eq]
				l.pts = append(l.pts, p)
				if side > 0 {
					l.top = false
				}
			}
			return rows.Err()
		})
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	for _, eq := range eqs {
		slices.SortFunc(in.lines[eq].pts, func(a, b seqPoint) int { return cmp.Or(cmp.Compare(a.seq, b.seq), a.at.Compare(b.at)) })
	}
	return invoiced, nil
}

// checkGrace accepts late events of invoiced periods within the grace window
// (they are billed as adjustments: the invoice itself is never edited) and
// holds those beyond it.
func (in *ingestion) checkGrace(invoiced map[periodRef]bool) {
	for i := range in.cands {
		c := &in.cands[i]
		if c.st != live || !invoiced[periodRef{c.contract, c.period}] {
			continue
		}
		if in.now.Sub(c.periodEnd) > in.opt.Grace {
			c.refuse(held, RefusalLateBeyondGrace, "period %s is invoiced and ended more than %s ago", c.period, in.opt.Grace)
			continue
		}
		c.late = true
	}
}

// checkSeq holds events whose sequence number contradicts their machine's
// other readings: the stored ones and those of this batch accepted so far, in
// batch order. A machine's stored readings always agree (seq order is time
// order, ties allowed), because nothing else is ever stored; so the nearest
// readings below and above an event's seq are the only ones to compare with.
func (in *ingestion) checkSeq() {
	for i := range in.cands {
		c := &in.cands[i]
		if c.st != live {
			continue
		}
		l := in.lines[c.equip]
		pts := l.pts
		// The common case: the machine's newest reading so far.
		if n := len(pts); n == 0 || pts[n-1].seq < c.seq {
			if n > 0 && pts[n-1].at.After(c.at) {
				in.backwards(c, pts[n-1])
				continue
			}
			l.pts = append(pts, seqPoint{c.seq, c.at})
			continue
		}
		lo, _ := slices.BinarySearchFunc(pts, c.seq, func(p seqPoint, s int64) int { return cmp.Compare(p.seq, s) })
		hi := lo
		for hi < len(pts) && pts[hi].seq == c.seq {
			hi++
		}
		// Sorted by (seq, at): the last below has the latest time of its seq,
		// the first above the earliest of its.
		if lo > 0 && pts[lo-1].at.After(c.at) {
			in.backwards(c, pts[lo-1])
			continue
		}
		if hi < len(pts) && pts[hi].at.Before(c.at) {
			in.backwards(c, pts[hi])
			continue
		}
		at := lo
		for at < hi && !pts[at].at.After(c.at) {
			at++
		}
		l.pts = slices.Insert(pts, at, seqPoint{c.seq, c.at})
	}
}

func (in *ingestion) backwards(c *candidate, other seqPoint) {
	c.refuse(held, RefusalCounterBackwards, "seq %d at %s contradicts seq %d at %s of the same machine",
		c.seq, c.at.Format(time.RFC3339Nano), other.seq, other.at.Format(time.RFC3339Nano))
}

// resolveHeld reports as duplicates the held events that are already stored:
// a machine that retries a batch after its period was invoiced, or after its
// lease ended, is told its events are in, not that they are refused.
func (in *ingestion) resolveHeld(ctx context.Context, q querier) error {
	var eqs []uuid.UUID
	var ids []string
	for i := range in.cands {
		if c := &in.cands[i]; c.st == held {
			eqs = append(eqs, c.equip)
			ids = append(ids, c.eventID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := q.Query(ctx, `SELECT u.equipment_id, u.event_id FROM unnest($1::uuid[], $2::text[]) AS k(eq, id)
		JOIN usage_events u ON u.equipment_id = k.eq AND u.event_id = k.id`, eqs, ids)
	if err != nil {
		return fmt.Errorf("held events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k eventKey
		if err := rows.Scan(&k.equip, &k.id); err != nil {
			return fmt.Errorf("held events: %w", err)
		}
		if i, ok := in.keys[k]; ok && in.cands[i].st == held {
			in.cands[i].st, in.cands[i].stored = dup, true
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("held events: %w", err)
	}
	return nil
}

// insertSQL moves the staged events into usage_events; the primary key turns
// every event already there (stored before, or by a concurrent batch that
// committed first) into a duplicate.
const insertSQL = `INSERT INTO usage_events (equipment_id, event_id, meter, value, at, seq, contract_id, period_key)
	SELECT equipment_id, event_id, meter, value::numeric, at, seq, contract_id, period_key FROM usage_ingest_staging
	ON CONFLICT (equipment_id, event_id) DO NOTHING`

// insert copies the live events into the staging table, inserts them and
// reads the machines' equipment row versions again for their watermarks.
// Which events were inserted is asked only when some are late (Late counts
// the inserted ones); otherwise the row count says how many.
func (in *ingestion) insert(ctx context.Context, tx pgx.Tx) error {
	idxs := make([]int, 0, len(in.cands))
	anyLate := false
	for i := range in.cands {
		if c := &in.cands[i]; c.st == live {
			idxs = append(idxs, i)
			anyLate = anyLate || c.late
		}
	}
	row := make([]any, len(stagingColumns))
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"usage_ingest_staging"}, stagingColumns, pgx.CopyFromSlice(len(idxs), func(j int) ([]any, error) {
		c := &in.cands[idxs[j]]
		// Ids as [16]byte: uuid.UUID is a driver.Valuer, which pgx encodes
		// through its text form, several times slower.
		row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7] = [16]byte(c.equip), c.eventID, string(c.meter), c.value, c.at, c.seq, [16]byte(c.contract), c.period
		return row, nil
	})); err != nil {
		return fmt.Errorf("copy to staging: %w", err)
	}

	inserted := 0
	b := &pgx.Batch{}
	if anyLate {
		b.Queue(insertSQL + ` RETURNING equipment_id, event_id`).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var k eventKey
				if err := rows.Scan(&k.equip, &k.id); err != nil {
					return err
				}
				if i, ok := in.keys[k]; ok && in.cands[i].st == live {
					in.cands[i].st = accepted
					inserted++
				}
			}
			return rows.Err()
		})
	} else {
		b.Queue(insertSQL).Exec(func(tag pgconn.CommandTag) error {
			inserted = int(tag.RowsAffected())
			return nil
		})
	}
	in.after = make(map[uuid.UUID]string, len(in.lines))
	b.Queue(versionsSQL, in.liveMachines()).Query(func(rows pgx.Rows) error {
		return scanVersions(rows, in.after)
	})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("insert usage: %w", err)
	}
	in.complete = inserted == len(idxs)
	// Without RETURNING only the count is known, and only counts are reported.
	unmarked := inserted
	for _, i := range idxs {
		c := &in.cands[i]
		c.stored = true
		switch {
		case c.st == accepted:
		case !anyLate && unmarked > 0:
			c.st = accepted
			unmarked--
		default:
			c.st = dup // the primary key was already taken
		}
	}
	return nil
}

func (in *ingestion) result() BatchResult {
	res := BatchResult{Refused: make([]Refusal, 0, len(in.bad))}
	res.Refused = append(res.Refused, in.bad...)
	for i := range in.cands {
		c := &in.cands[i]
		switch c.st {
		case refused, held:
			res.Refused = append(res.Refused, Refusal{Index: c.idx, EventID: clip(c.eventID), Code: c.code, Message: c.msg})
		case dup:
			res.Duplicates++
		case accepted:
			res.Accepted++
			if c.late {
				res.Late++
			}
		}
	}
	slices.SortFunc(res.Refused, func(a, b Refusal) int { return cmp.Compare(a.Index, b.Index) })
	return res
}
