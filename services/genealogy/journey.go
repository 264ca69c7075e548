package genealogy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/services/identifiers"
	"github.com/masscustom/orchestrator/services/registry"
)

// The journey's hooks. Each runs inside the transaction of the write it
// describes (the services call it there), so the event, the identifiers it
// mints and the write commit together or not at all, and running the write
// again records nothing twice. A nil *Service records nothing.

// mint finds the identifier minted under mintKey or mints the next of the
// owner's series: suffix is given the serial.
// A taken suffix (the enterprise minted it itself, or a concurrent write
// minted the same thing) is tried again: the mint key first, then the next
// serial.
func (s *Service) mint(ctx context.Context, tx pgx.Tx, owner uuid.UUID, kind, series, stem, mintKey string, suffix func(int64) string,
	orderID *uuid.UUID, values []registry.ValueInput) (string, error) {
	for attempt := 0; ; attempt++ {
		var existing string
		err := tx.QueryRow(ctx, `SELECT handle FROM handles WHERE owner_id = $1 AND mint_key = $2`, owner, mintKey).Scan(&existing)
		if err == nil {
			return existing, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return "", err
		}
		n, err := registry.NextSerials(ctx, tx, owner, series, 1)
		if err != nil {
			return "", err
		}
		sfx := suffix(n)
		if attempt > 0 && sfx == suffix(n-1) {
			sfx = fmt.Sprintf("%s-%d", sfx, n) // a suffix of its own (EQ-<serial>) was taken
		}
		hs, err := s.Registry.MintManyTx(ctx, tx, owner, kind, orderID, []registry.Item{{Suffix: sfx, MintKey: mintKey, Values: values}})
		if errors.Is(err, registry.ErrTaken) && attempt < maxMintAttempts {
			if stem != "" {
				if err := registry.SkipTaken(ctx, tx, owner, series, stem); err != nil {
					return "", err
				}
			}
			continue
		}
		if err != nil {
			return "", err
		}
		return hs[0].String(), nil
	}
}

// maxMintAttempts bounds the suffixes a mint tries.
const maxMintAttempts = 20

func public(idx int, typ, data string) registry.ValueInput {
	return registry.ValueInput{Index: idx, Type: typ, Data: clip(data), Readable: registry.ReadPublic}
}

func private(idx int, typ, data string) registry.ValueInput {
	return registry.ValueInput{Index: idx, Type: typ, Data: clip(data), Readable: registry.ReadOwner}
}

func clip(s string) string {
	if r := []rune(s); len(r) > identifiers.MaxValueData {
		return string(r[:identifiers.MaxValueData])
	}
	if s == "" {
		return "-"
	}
	return s
}

func nameOf(ctx context.Context, tx pgx.Tx, id uuid.UUID) (string, error) {
	var name string
	err := tx.QueryRow(ctx, `SELECT name FROM enterprises WHERE id = $1`, id).Scan(&name)
	return name, err
}

// LotShipment is a supplier's shipment of a procurement task's material.
type LotShipment struct {
	TaskID     uuid.UUID
	OrderID    uuid.UUID
	SupplierID uuid.UUID
	Seq        int
	Material   string
	Quantity   decimal.Decimal
	Unit       string
	At         time.Time
}

// LotShipped mints the shipment's lot under the supplier's prefix and
// records it commissioned and shipped.
func (s *Service) LotShipped(ctx context.Context, tx pgx.Tx, l LotShipment) error {
	if s == nil {
		return nil
	}
	supplier, err := nameOf(ctx, tx, l.SupplierID)
	if err != nil {
		return err
	}
	qty := l.Quantity.String() + " " + l.Unit
	lot, err := s.mint(ctx, tx, l.SupplierID, registry.KindLot, "LOT", "LOT", fmt.Sprintf("lot:%s:%d", l.TaskID, l.Seq),
		func(n int64) string { return fmt.Sprintf("LOT-%07d", n) }, &l.OrderID, []registry.ValueInput{
			public(1, registry.TypeKind, registry.KindLot),
			public(2, registry.TypeProduct, l.Material),
			public(3, registry.TypeManufacturer, supplier),
			private(4, registry.TypeQuantity, qty),
			private(5, registry.TypeOrder, l.OrderID.String()),
		})
	if err != nil {
		return err
	}
	q, _ := l.Quantity.Float64()
	quantity := []Quantity{{EPCClass: URI(lot), Quantity: q, UOM: uom(l.Unit)}}
	tr := []BizTransaction{{Type: "po", BizTransaction: OrderURI(l.OrderID)}}
	key := strings.ToLower(lot)
	if _, err := write(ctx, tx, stored{key: "commission:" + key, at: l.At, orderID: &l.OrderID, by: &l.SupplierID, event: Event{
		Type: ObjectEvent, Action: "ADD", BizStep: StepCommissioning, Disposition: DispActive,
		EPCList: []string{URI(lot)}, QuantityList: quantity, BizTransactionList: tr, Order: l.OrderID.String(),
	}}); err != nil {
		return err
	}
	_, err = write(ctx, tx, stored{key: "ship:" + key, at: l.At, orderID: &l.OrderID, by: &l.SupplierID, event: Event{
		Type: ObjectEvent, Action: "OBSERVE", BizStep: StepShipping, Disposition: DispInTransit,
		EPCList: []string{URI(lot)}, QuantityList: quantity, BizTransactionList: tr, Order: l.OrderID.String(),
	}})
	return err
}

// uom is the UN/ECE unit code of a material unit, where there is one.
func uom(unit string) string {
	switch strings.ToLower(unit) {
	case "pcs", "piece", "pieces", "unit", "units", "ea":
		return "EA"
	case "kg":
		return "KGM"
	case "m":
		return "MTR"
	case "l":
		return "LTR"
	}
	return ""
}

// LotReceipt is a factory's receipt of a task's material.
type LotReceipt struct {
	TaskID   uuid.UUID
	OrderID  uuid.UUID
	Seq      int
	Quantity decimal.Decimal
	Unit     string
	At       time.Time
}

// LotsReceived records the task's lots received.
func (s *Service) LotsReceived(ctx context.Context, tx pgx.Tx, r LotReceipt) error {
	if s == nil {
		return nil
	}
	lots, err := handles(ctx, tx, `SELECT handle FROM handles WHERE kind = 'LOT' AND order_id = $1 AND mint_key LIKE $2 ORDER BY created_at, key`,
		r.OrderID, "lot:"+r.TaskID.String()+":%")
	if err != nil || len(lots) == 0 {
		return err
	}
	q, _ := r.Quantity.Float64()
	var quantity []Quantity
	if len(lots) == 1 {
		quantity = []Quantity{{EPCClass: URI(lots[0]), Quantity: q, UOM: uom(r.Unit)}}
	}
	// The receiving factory is the order's (it may declare the event erroneous).
	var factory *uuid.UUID
	var f uuid.UUID
	if err := tx.QueryRow(ctx, `SELECT factory_id FROM production_orders WHERE order_id = $1`, r.OrderID).Scan(&f); err == nil {
		factory = &f
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	_, err = write(ctx, tx, stored{key: fmt.Sprintf("receive:%s:%d", r.TaskID, r.Seq), at: r.At, orderID: &r.OrderID, by: factory, event: Event{
		Type: ObjectEvent, Action: "OBSERVE", BizStep: StepReceiving, Disposition: DispInProgress,
		EPCList: uris(lots), QuantityList: quantity, Order: r.OrderID.String(),
		BizTransactionList: []BizTransaction{{Type: "po", BizTransaction: OrderURI(r.OrderID)}},
	}})
	return err
}

func handles(ctx context.Context, tx pgx.Tx, sql string, args ...any) ([]string, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// StageReport is a finished round of a production stage.
type StageReport struct {
	ProductionOrderID uuid.UUID
	OrderID           uuid.UUID
	FactoryID         uuid.UUID
	Seq, Round        int
	Code              string
	WorkCentreKind    string
	Input             int  // units that entered the round
	Good, Scrap       int  // its outcome
	First             bool // the routing's first stage
	PrevSeq           int  // the stage before it in the routing (0 for the first)
	// Reprocured: the round makes up scrap from new material (new units);
	// otherwise a later round reworks the units an earlier one rejected.
	Reprocured bool
	// Reworked: the units this round rejects are reworked by the next round
	// (held as non-conformant); otherwise they are destroyed.
	Reworked bool
	At       time.Time
}

type unit struct {
	serial int
	handle string
}

// StageFinished records a finished round as a TransformationEvent on the
// machine that ran it: the units that entered (minted, under the factory's
// prefix, as they first enter production: at the first stage and in each
// re-procurement round) and, for new units, the order's lots, into the good
// units. The rejected units are destroyed (an ObjectEvent DELETE) unless the
// next round reworks them: then they are held as non-conformant and are that
// round's input.
func (s *Service) StageFinished(ctx context.Context, tx pgx.Tx, r StageReport) error {
	if s == nil {
		return nil
	}
	key := fmt.Sprintf("stage:%s:%d:%d", r.ProductionOrderID, r.Seq, r.Round)
	var done bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM epcis_events WHERE id = $1)`, EventID(key)).Scan(&done); err != nil || done {
		return err
	}
	var product string
	if err := tx.QueryRow(ctx, `SELECT t.code FROM orders o JOIN product_templates t ON t.id = o.template_id WHERE o.id = $1`, r.OrderID).Scan(&product); err != nil {
		return err
	}
	var fresh []unit
	if r.Round == 0 && r.First || r.Round > 0 && r.Reprocured {
		var err error
		if fresh, err = s.mintUnits(ctx, tx, r, product, r.Input); err != nil {
			return err
		}
	}
	var in []unit
	if r.Round > 0 && r.Reprocured {
		in = fresh
	} else {
		// The units that passed the stage before (or, in a rework round,
		// were held by this stage's round before), by serial.
		rows, err := tx.Query(ctx, `SELECT serial, h.handle FROM production_units u JOIN handles h ON h.key = u.handle_key
			WHERE u.production_order_id = $1 AND u.scrapped_seq IS NULL AND u.done_seq = $2 ORDER BY serial LIMIT $3`,
			r.ProductionOrderID, r.PrevSeq, max(r.Input, r.Good+r.Scrap))
		if err != nil {
			return err
		}
		in, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (unit, error) {
			var u unit
			return u, row.Scan(&u.serial, &u.handle)
		})
		if err != nil {
			return err
		}
	}
	// Every unit of the round that did not come out good was rejected:
	// scrapped, or missing from the report (the shortfall a further round
	// makes up counts both).
	good := min(r.Good, len(in))
	goodUnits, scrapped := in[:good], in[good:]
	if err := mark(ctx, tx, r.ProductionOrderID, goodUnits, `done_seq = $3`, r.Seq); err != nil {
		return err
	}
	if !r.Reworked {
		if err := mark(ctx, tx, r.ProductionOrderID, scrapped, `scrapped_seq = $3`, r.Seq); err != nil {
			return err
		}
	}
	machine, err := s.machine(ctx, tx, r.FactoryID, r.WorkCentreKind)
	if err != nil {
		return err
	}
	var lots []string
	if len(fresh) > 0 {
		if lots, err = handles(ctx, tx, `SELECT handle FROM handles WHERE kind = 'LOT' AND order_id = $1 AND mint_key LIKE 'lot:%' ORDER BY created_at, key`, r.OrderID); err != nil {
			return err
		}
	}
	inputs := append(uris(lots), uris(names(in))...)
	edges := make([]Edge, 0, len(in)*(len(lots)+1))
	mkey := strings.ToLower(machine)
	for _, u := range in {
		k := strings.ToLower(u.handle)
		for _, l := range lots {
			edges = append(edges, Edge{Parent: strings.ToLower(l), Child: k, Kind: EdgeInput})
		}
		edges = append(edges, Edge{Parent: mkey, Child: k, Kind: EdgeMachine})
	}
	scrapCount := r.Scrap
	if _, err := write(ctx, tx, stored{key: key, at: r.At, orderID: &r.OrderID, by: &r.FactoryID, edges: edges, event: Event{
		Type: TransformationEvent, BizStep: StepAssembling, Disposition: DispInProgress,
		InputEPCList: inputs, OutputEPCList: uris(names(goodUnits)), ReadPoint: &Place{ID: URI(machine)},
		Order: r.OrderID.String(), Stage: fmt.Sprintf("%d %s", r.Seq, r.Code), ScrapQuantity: &scrapCount,
		BizTransactionList: []BizTransaction{{Type: "po", BizTransaction: OrderURI(r.OrderID)}},
	}}); err != nil {
		return err
	}
	if len(scrapped) > 0 {
		ev := Event{Type: ObjectEvent, Action: "DELETE", BizStep: StepDestroying, Disposition: DispDestroyed,
			EPCList: uris(names(scrapped)), ReadPoint: &Place{ID: URI(machine)}, Order: r.OrderID.String()}
		if r.Reworked {
			ev.Action, ev.BizStep, ev.Disposition = "OBSERVE", StepInspecting, DispNonConform
		}
		if _, err := write(ctx, tx, stored{key: "scrap:" + key, at: r.At, orderID: &r.OrderID, by: &r.FactoryID, event: ev}); err != nil {
			return err
		}
	}
	return nil
}

func names(us []unit) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.handle
	}
	return out
}

func mark(ctx context.Context, tx pgx.Tx, po uuid.UUID, us []unit, set string, seq int) error {
	if len(us) == 0 {
		return nil
	}
	serials := make([]int32, len(us))
	for i, u := range us {
		serials[i] = int32(u.serial)
	}
	_, err := tx.Exec(ctx, `UPDATE production_units SET `+set+` WHERE production_order_id = $1 AND serial = ANY($2)`, po, serials, seq)
	return err
}

// mintUnits mints n units of the production order that enter production in
// round r, serial-numbered per factory and product.
func (s *Service) mintUnits(ctx context.Context, tx pgx.Tx, r StageReport, product string, n int) ([]unit, error) {
	if n <= 0 {
		return nil, nil
	}
	factory, err := nameOf(ctx, tx, r.FactoryID)
	if err != nil {
		return nil, err
	}
	var next int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(serial), 0) + 1 FROM production_units WHERE production_order_id = $1`, r.ProductionOrderID).Scan(&next); err != nil {
		return nil, err
	}
	// Serials count per factory and product; product codes that differ in
	// case only share a series, since identifiers ignore case. A serial the
	// factory minted itself is skipped.
	series := safeSuffix(product)
	var hs []identifiers.Handle
	for attempt := 0; ; attempt++ {
		first, err := registry.NextSerials(ctx, tx, r.FactoryID, "UNIT:"+strings.ToLower(product), n)
		if err != nil {
			return nil, err
		}
		items := make([]registry.Item, n)
		for i := range items {
			serial := fmt.Sprintf("%s-%07d", series, first+int64(i))
			items[i] = registry.Item{Suffix: serial, MintKey: fmt.Sprintf("unit:%s:%d", r.ProductionOrderID, next+i), Values: []registry.ValueInput{
				public(1, registry.TypeKind, registry.KindUnit),
				public(2, registry.TypeProduct, product),
				public(3, registry.TypeSerial, serial),
				public(4, registry.TypeManufacturer, factory),
				private(5, registry.TypeOrder, r.OrderID.String()),
			}}
		}
		hs, err = s.Registry.MintManyTx(ctx, tx, r.FactoryID, registry.KindUnit, &r.OrderID, items)
		if errors.Is(err, registry.ErrTaken) && attempt < maxMintAttempts {
			if err := registry.SkipTaken(ctx, tx, r.FactoryID, "UNIT:"+strings.ToLower(product), series); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		break
	}
	out := make([]unit, n)
	serials, keys := make([]int32, n), make([]string, n)
	for i, h := range hs {
		out[i] = unit{serial: next + i, handle: h.String()}
		serials[i], keys[i] = int32(next+i), h.Key()
	}
	if _, err := tx.Exec(ctx, `INSERT INTO production_units (production_order_id, serial, handle_key) SELECT $1, s, k FROM unnest($2::int[], $3::text[]) AS t(s, k)`,
		r.ProductionOrderID, serials, keys); err != nil {
		return nil, err
	}
	return out, nil
}

// safeSuffix keeps the characters of s a suffix may carry.
func safeSuffix(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c < 128 && strings.ContainsRune(identifiers.SuffixAlphabet, c) {
			b.WriteRune(c)
		} else {
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "X"
	}
	return b.String()
}

// machine is the identifier of the machine a factory runs a kind of work
// on: a piece of equipment leased to it of that kind (under its lessor's
// prefix), or else the factory's own work centre (under the factory's).
func (s *Service) machine(ctx context.Context, tx pgx.Tx, factory uuid.UUID, kind string) (string, error) {
	var id, lessor uuid.UUID
	var serial, eqKind string
	err := tx.QueryRow(ctx, `SELECT e.id, e.lessor_id, e.serial, e.kind FROM equipment e
		JOIN contract_equipment ce ON ce.equipment_id = e.id JOIN lease_contracts c ON c.id = ce.contract_id
		WHERE c.lessee_id = $1 AND c.status = 'ACTIVE' AND c.starts_at <= now() AND c.ends_at > now() AND upper(e.kind) = upper($2)
		ORDER BY e.created_at, e.id LIMIT 1`, factory, kind).Scan(&id, &lessor, &serial, &eqKind)
	if err == nil {
		return s.Equipment(ctx, tx, id, lessor, serial, eqKind)
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return "", err
	}
	wc := "WC-" + safeSuffix(kind)
	return s.mint(ctx, tx, factory, registry.KindEquipment, "WC", "", "work-centre:"+kind, func(int64) string { return wc }, nil,
		[]registry.ValueInput{public(1, registry.TypeKind, registry.KindEquipment), public(2, registry.TypeProduct, kind)})
}

// Equipment returns the identifier of a piece of leased equipment, minting
// it under the lessor's prefix the first time: EQ-<serial> when the serial
// is a valid suffix, EQ-<n> otherwise.
func (s *Service) Equipment(ctx context.Context, tx pgx.Tx, id, lessor uuid.UUID, serial, kind string) (string, error) {
	suffix := "EQ-" + serial
	if _, err := identifiers.Join("1", suffix); err != nil {
		suffix = ""
	}
	return s.mint(ctx, tx, lessor, registry.KindEquipment, "EQ", "", "equipment:"+id.String(), func(n int64) string {
		if suffix != "" {
			return suffix
		}
		return fmt.Sprintf("EQ-%07d", n)
	}, nil, []registry.ValueInput{
		public(1, registry.TypeKind, registry.KindEquipment),
		public(2, registry.TypeProduct, kind),
		public(3, registry.TypeSerial, serial),
	})
}

// Inspection is the QA verdict that closes a production order.
type Inspection struct {
	ProductionOrderID uuid.UUID
	OrderID           uuid.UUID
	FactoryID         uuid.UUID
	Passed            bool
	At                time.Time
}

// Inspected records the QA verdict on the units that came out of the last
// stage: conformant or non-conformant.
func (s *Service) Inspected(ctx context.Context, tx pgx.Tx, i Inspection) error {
	if s == nil {
		return nil
	}
	units, err := finishedUnits(ctx, tx, i.ProductionOrderID)
	if err != nil || len(units) == 0 {
		return err
	}
	disp := DispConformant
	if !i.Passed {
		disp = DispNonConform
	}
	_, err = write(ctx, tx, stored{key: "qa:" + i.ProductionOrderID.String(), at: i.At, orderID: &i.OrderID, by: &i.FactoryID, event: Event{
		Type: ObjectEvent, Action: "OBSERVE", BizStep: StepInspecting, Disposition: disp, EPCList: uris(units), Order: i.OrderID.String(),
		BizTransactionList: []BizTransaction{{Type: "po", BizTransaction: OrderURI(i.OrderID)}},
	}})
	return err
}

// finishedUnits are the units of a production order that passed its last
// stage and were not scrapped, by serial.
func finishedUnits(ctx context.Context, tx pgx.Tx, po uuid.UUID) ([]string, error) {
	return handles(ctx, tx, `SELECT h.handle FROM production_units u JOIN handles h ON h.key = u.handle_key
		WHERE u.production_order_id = $1 AND u.scrapped_seq IS NULL
		  AND u.done_seq = (SELECT coalesce(max(seq), 0) FROM production_stages WHERE production_order_id = $1) ORDER BY u.serial`, po)
}

// Packing is the packing of an order's shipment.
type Packing struct {
	OrderID    uuid.UUID
	ShipmentID uuid.UUID
	Tracking   string
	At         time.Time
}

// Packed mints the shipment's package under the prefix of the factory that
// made the order and aggregates the order's good units into it.
func (s *Service) Packed(ctx context.Context, tx pgx.Tx, p Packing) error {
	if s == nil {
		return nil
	}
	var po, factory uuid.UUID
	err := tx.QueryRow(ctx, `SELECT id, factory_id FROM production_orders WHERE order_id = $1`, p.OrderID).Scan(&po, &factory)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // nothing produced here: nothing to pack
	}
	if err != nil {
		return err
	}
	pkg, err := s.mint(ctx, tx, factory, registry.KindPackage, "PKG", "", "package:"+p.ShipmentID.String(),
		func(int64) string { return "PKG-" + safeSuffix(p.Tracking) }, &p.OrderID, []registry.ValueInput{
			public(1, registry.TypeKind, registry.KindPackage),
			public(2, registry.TypeSerial, p.Tracking),
			private(3, registry.TypeOrder, p.OrderID.String()),
		})
	if err != nil {
		return err
	}
	units, err := finishedUnits(ctx, tx, po)
	if err != nil {
		return err
	}
	edges := make([]Edge, len(units))
	pk := strings.ToLower(pkg)
	for i, u := range units {
		edges[i] = Edge{Parent: strings.ToLower(u), Child: pk, Kind: EdgePacked}
	}
	_, err = write(ctx, tx, stored{key: "pack:" + pk, at: p.At, orderID: &p.OrderID, by: &factory, edges: edges, event: Event{
		Type: AggregationEvent, Action: "ADD", BizStep: StepPacking, Disposition: DispInProgress,
		ParentID: URI(pkg), ChildEPCs: uris(units), Order: p.OrderID.String(),
		BizTransactionList: []BizTransaction{{Type: "po", BizTransaction: OrderURI(p.OrderID)}},
	}})
	return err
}

// Movement is a carrier's report on an order's package.
type Movement struct {
	OrderID  uuid.UUID
	Carrier  uuid.UUID
	Kind     string // PICKED_UP or DELIVERED
	Location string
	Proof    map[string]string // the proof of delivery, for DELIVERED
	At       time.Time
}

// PackageMoved records a pick-up (departing, in transit) or a delivery
// (arriving, then accepting with the proof of delivery) of the order's
// package; other tracking reports record nothing.
func (s *Service) PackageMoved(ctx context.Context, tx pgx.Tx, m Movement) error {
	if s == nil {
		return nil
	}
	pkgs, err := handles(ctx, tx, `SELECT handle FROM handles WHERE kind = 'PACKAGE' AND order_id = $1 AND mint_key LIKE 'package:%' ORDER BY created_at, key`, m.OrderID)
	if err != nil || len(pkgs) == 0 {
		return err
	}
	var loc *Place
	if m.Location != "" {
		loc = &Place{ID: "urn:masscustom:location:" + strings.ReplaceAll(strings.ToLower(m.Location), " ", "-")}
	}
	base := Event{Type: ObjectEvent, Action: "OBSERVE", EPCList: uris(pkgs), BizLocation: loc, Order: m.OrderID.String(),
		BizTransactionList: []BizTransaction{{Type: "po", BizTransaction: OrderURI(m.OrderID)}}}
	pk := strings.ToLower(pkgs[0])
	switch m.Kind {
	case "PICKED_UP":
		ev := base
		ev.BizStep, ev.Disposition = StepDeparting, DispInTransit
		_, err = write(ctx, tx, stored{key: "pickup:" + pk, at: m.At, orderID: &m.OrderID, by: &m.Carrier, event: ev})
	case "DELIVERED":
		ev := base
		ev.BizStep, ev.Disposition = StepArriving, DispInProgress
		if _, err = write(ctx, tx, stored{key: "arrive:" + pk, at: m.At, orderID: &m.OrderID, by: &m.Carrier, event: ev}); err != nil {
			return err
		}
		pod := base
		pod.BizStep, pod.Disposition, pod.Proof = StepAccepting, DispInPossession, m.Proof
		_, err = write(ctx, tx, stored{key: "pod:" + pk, at: m.At, orderID: &m.OrderID, by: &m.Carrier, event: pod})
	}
	return err
}
