// Command seed applies the migrations and writes the demo data of `make run`:
// one enterprise per kind with users and known demo tokens, the seed product
// templates, and what the demo enterprises can do: the two suppliers' materials
// for both templates, the factory's work centres, the carrier's lanes. Running
// it again changes nothing (a demo capability edited since is set back). It
// prints the demo tokens, one per role, and a line on the capabilities.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/masscustom/orchestrator/internal/platform"
	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/services/config"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/logistics"
	"github.com/masscustom/orchestrator/services/production"
)

// demoNS makes the demo ids stable across runs and machines.
var demoNS = uuid.MustParse("6f1c2a52-8d7e-4c55-9a41-0b1de2b7a001")

func id(name string) uuid.UUID { return uuid.NewSHA1(demoNS, []byte(name)) }

type demo struct {
	who        string
	kind       identity.Kind
	enterprise string
	email      string
	user       string
	role       identity.Role
}

var demos = []demo{
	{"operator", identity.KindPlatform, "MassCustom Platform Operations", "ops@platform.example", "Li Wei", identity.RoleAdmin},
	{"customer", identity.KindCustomer, "Qingdao Home Comfort Retail", "buyer@homecomfort.example", "Zhang Min", identity.RoleAdmin},
	{"supplier-a", identity.KindSupplier, "Shenzhen Compressor Co.", "sales@szcompressor.example", "Chen Jie", identity.RoleMember},
	{"supplier-b", identity.KindSupplier, "Ningbo Copper Tube Works", "orders@nbcopper.example", "Wang Fang", identity.RoleMember},
	{"factory", identity.KindFactory, "Foshan Smart Assembly Plant", "planner@fsplant.example", "Liu Yang", identity.RoleMember},
	{"carrier", identity.KindCarrier, "Yangtze Express Logistics", "dispatch@yzexpress.example", "Zhao Lei", identity.RoleMember},
	{"lessor", identity.KindLessor, "Shenyang Machine Tool Leasing", "leasing@symtl.example", "Sun Hao", identity.RoleAdmin},
	{"finance", identity.KindLessor, "Shenyang Machine Tool Leasing", "finance@symtl.example", "Zhou Jing", identity.RoleFinance},
}

func main() {
	cfg, err := config.FromEnv()
	if err != nil {
		platform.Fatal("seed", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	p, err := platform.Open(ctx, cfg, platform.Options{})
	if err != nil {
		platform.Fatal("seed", err)
	}
	defer p.Close()

	if err := p.Catalog.EnsureSeeded(ctx, catalog.SeedTemplates()); err != nil {
		platform.Fatal("seed", err)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tENTERPRISE\tUSER\tDEMO TOKEN")
	for _, d := range demos {
		secret := "mco_demo_" + d.who
		a := identity.Account{
			Enterprise: identity.Enterprise{ID: id("enterprise:" + d.enterprise), Kind: d.kind, Name: d.enterprise},
			User:       identity.User{ID: id("user:" + d.email), Email: d.email, Name: d.user, Role: d.role},
			TokenID:    id("token:" + d.who),
			TokenName:  "demo",
			Secret:     secret,
		}
		if err := p.Identity.EnsureAccount(ctx, a); err != nil {
			platform.Fatal("seed", err)
		}
		fmt.Fprintf(tw, "%s\t%s (%s)\t%s (%s)\t%s\n", d.who, d.enterprise, d.kind, d.email, d.role, secret)
	}
	_ = tw.Flush()

	summary, err := seedCapabilities(ctx, p, catalog.SeedTemplates())
	if err != nil {
		platform.Fatal("seed", err)
	}
	fmt.Println(summary)
	fmt.Println(seedPrefixes(ctx, p))
}

// demoPrefixCodes are the codes the operator gives the demo enterprises that
// mint identifiers: their prefixes are <node prefix>.<code>.
var demoPrefixCodes = []struct{ who, code string }{
	{"supplier-a", "1301"}, {"supplier-b", "1302"}, {"factory", "1304"}, {"carrier", "1305"}, {"lessor", "1306"},
}

// seedPrefixes assigns the demo enterprises their identifier prefixes, as the
// operator does; an enterprise that already has one (assigned before, or
// given the next free code when it first minted) keeps it.
func seedPrefixes(ctx context.Context, p *platform.Platform) string {
	var out []string
	for _, d := range demoPrefixCodes {
		id := enterpriseOf(d.who)
		pr, err := p.Registry.AssignPrefix(ctx, identity.System, id, d.code)
		if e, ok := errs.As(err); ok && e.Code == errs.AlreadyExists {
			pr, err = p.Registry.PrefixOf(ctx, id)
		}
		if err != nil || pr == nil {
			platform.Fatal("seed", fmt.Errorf("the identifier prefix of %s: %v", d.who, err))
		}
		out = append(out, d.who+" "+pr.Prefix)
	}
	return "identifier prefixes: " + strings.Join(out, ", ")
}

// enterpriseOf is the demo enterprise of a role in demos.
func enterpriseOf(who string) uuid.UUID {
	for _, d := range demos {
		if d.who == who {
			return id("enterprise:" + d.enterprise)
		}
	}
	panic("no demo enterprise " + who) // a typo in this file
}

// Demo supply. Each material of the seed templates is supplied by both demo
// suppliers, so that an offer rejected or left to lapse by one goes to the
// other: the specialist for it is cheaper and faster (ranked first), the other
// asks 8% more and three days longer. Supplier A (compressors) is the
// specialist for compressors, electronics, chassis, panels and filters;
// supplier B (copper tube works) for copper, coils, refrigerants, insulation,
// films and the forgings and coatings of the flange.
//
// Their quantity per order is generous except for two materials, so that a
// split can be seen: a compressor allocation of 6 per order at A and 4 at B
// (an order of 7 to 10 air conditioners splits the compressors between them;
// above 10 the line waits for the operator), and 400 kg (B) and 300 kg (A) of
// A105 forgings (about 66 to 114 carbon-steel DN100 flanges split).
const (
	demoMaxQuantity = "5000"
	demoMarkup      = "1.08"
	demoLeadDays    = 3
	demoLeadExtra   = 3
)

// demoPrices are the specialist's list prices in the template's currency
// (AC-SPLIT: CNY, FLANGE-CNC: USD).
var demoPrices = map[string]string{
	"IDU-CHASSIS": "265.00", "ODU-CHASSIS": "318.00", "COMP-ROTARY": "486.00", "HX-COIL": "92.50",
	"CU-TUBE-9.52": "18.60", "INSUL-SLEEVE": "6.40", "REF-R32": "58.00", "REF-R410A": "72.00", "REF-R290": "64.00",
	"PCB-CTRL-220": "138.00", "PCB-CTRL-110": "146.00", "PANEL-ABS": "42.00", "PAINT-CHAMPAGNE": "210.00",
	"PAINT-GRAPHITE": "196.00", "PAINT-ROSEGOLD": "268.00", "CLEARCOAT-GLOSS": "175.00", "ALU-SKIN": "88.00",
	"FILM-WOODGRAIN": "54.00", "WIFI-MOD-B": "36.00", "WIFI-MOD-M": "58.00", "FLT-PM25": "21.00",
	"FLT-HEPA-H13": "64.00", "UVC-LAMP-KIT": "118.00", "ION-GEN": "26.00", "FLT-HCHO": "49.00",
	"ACOUSTIC-FOAM": "38.00", "ANTIVIB-MOUNT": "7.80", "CARTON-SET": "24.00",
	"FORGING-A105": "2.35", "FORGING-F304": "6.90", "FORGING-F316L": "8.60", "FORGING-F51": "14.80",
	"ZINC-SHG": "3.10", "EPOXY-FBE": "9.40", "PTFE-COAT": "46.00", "PHOSPHATE-BATH": "4.20",
	"RUST-OIL": "3.60", "VCI-BAG": "0.45", "TAG-SS": "0.85",
}

// demoUnitPrices price a material added to a template later, by its unit.
var demoUnitPrices = map[string]string{"pcs": "20.00", "kg": "10.00", "m": "5.00", "m2": "30.00", "l": "8.00", "set": "15.00"}

// supplierB: the materials supplier B is the specialist for.
var supplierB = []string{"HX-COIL", "CU-TUBE-9.52", "INSUL-SLEEVE", "REF-R32", "REF-R410A", "REF-R290", "FILM-WOODGRAIN", "ACOUSTIC-FOAM",
	"FORGING-A105", "FORGING-F304", "FORGING-F316L", "FORGING-F51", "ZINC-SHG", "EPOXY-FBE", "PTFE-COAT", "PHOSPHATE-BATH", "RUST-OIL"}

// demoLimits are the quantities per order below demoMaxQuantity, by material
// and supplier.
var demoLimits = map[string]map[string]string{
	"COMP-ROTARY":  {"supplier-a": "6", "supplier-b": "4"},
	"FORGING-A105": {"supplier-a": "300", "supplier-b": "400"},
}

// demoMinutesPerDay is the demo factory's capacity of each work-centre kind:
// twenty machines on one eight-hour shift.
const demoMinutesPerDay = 9600

// demoLanes are the demo carrier's lanes (one per country): China in CNY for
// the air conditioner, the United States in USD for the flange.
var demoLanes = []logistics.Lane{
	{Country: "CN", LeadDays: 3, Price: decimal.RequireFromString("180.00"), Currency: "CNY"},
	{Country: "US", LeadDays: 12, Price: decimal.RequireFromString("95.00"), Currency: "USD"},
}

// seedCapabilities declares what the demo suppliers supply, what the demo
// factory runs and where the demo carrier ships, as the platform, writing only
// what is missing or differs. It returns a line for the operator.
func seedCapabilities(ctx context.Context, p *platform.Platform, templates []catalog.Template) (string, error) {
	written, materials := 0, 0
	kinds := map[catalog.WorkCentreKind]bool{}
	for _, t := range templates {
		seen := map[string]bool{}
		for _, b := range t.BOMRules {
			if seen[b.Material] {
				continue
			}
			seen[b.Material] = true
			materials++
			price, ok := demoPrices[b.Material]
			if !ok {
				if price, ok = demoUnitPrices[b.Unit]; !ok {
					price = "10.00"
				}
			}
			best, other := "supplier-a", "supplier-b"
			if slices.Contains(supplierB, b.Material) {
				best, other = other, best
			}
			list := decimal.RequireFromString(price)
			for _, c := range []struct {
				who   string
				price decimal.Decimal
				lead  int
			}{
				{best, list, demoLeadDays},
				{other, list.Mul(decimal.RequireFromString(demoMarkup)).Round(2), demoLeadDays + demoLeadExtra},
			} {
				maxQty := demoMaxQuantity
				if q, ok := demoLimits[b.Material][c.who]; ok {
					maxQty = q
				}
				n, err := ensureCapability(ctx, p, enterpriseOf(c.who), b.Material, c.price, t.Currency, c.lead, decimal.RequireFromString(maxQty))
				if err != nil {
					return "", fmt.Errorf("capability of %s for %s: %w", c.who, b.Material, err)
				}
				written += n
			}
		}
		for _, r := range t.RoutingRules {
			kinds[r.WorkCentreKind] = true
		}
	}
	factory := enterpriseOf("factory")
	runs, err := p.Production.Capabilities(ctx, identity.System, factory)
	if err != nil {
		return "", fmt.Errorf("factory capabilities: %w", err)
	}
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, string(k))
		if slices.ContainsFunc(runs, func(c production.Capability) bool {
			return c.WorkCentreKind == k && c.MinutesPerDay == demoMinutesPerDay
		}) {
			continue
		}
		if _, err := p.Production.SetCapability(ctx, identity.System, factory, k, demoMinutesPerDay); err != nil {
			return "", fmt.Errorf("factory capability %s: %w", k, err)
		}
		written++
	}
	slices.Sort(names)
	carrier := enterpriseOf("carrier")
	have, err := p.Logistics.Lanes(ctx, identity.System, carrier)
	if err != nil {
		return "", fmt.Errorf("carrier lanes: %w", err)
	}
	lanes := make([]string, 0, len(demoLanes))
	for _, l := range demoLanes {
		l.CarrierID = carrier
		lanes = append(lanes, l.Country+" ("+l.Currency+")")
		i := slices.IndexFunc(have, func(h logistics.Lane) bool { return h.Country == l.Country })
		if i >= 0 && have[i].LeadDays == l.LeadDays && have[i].Price.Equal(l.Price) && have[i].Currency == l.Currency {
			continue
		}
		if _, err := p.Logistics.SetLane(ctx, identity.System, l); err != nil {
			return "", fmt.Errorf("carrier lane %s: %w", l.Country, err)
		}
		written++
	}
	return fmt.Sprintf("capabilities: %d materials from supplier-a and supplier-b, the factory's work centres %s, the carrier's lanes to %s; %d written, the rest as they were",
		materials, strings.Join(names, " "), strings.Join(lanes, " and "), written), nil
}

// ensureCapability sets a supplier's capability unless it is already so; it
// reports whether it wrote (1) or not (0). The score is the platform's and is
// kept either way.
func ensureCapability(ctx context.Context, p *platform.Platform, supplier uuid.UUID, material string, price decimal.Decimal, currency string, leadDays int, maxQty decimal.Decimal) (int, error) {
	c, err := p.Procurement.Capability(ctx, supplier, material)
	if err != nil && !errors.Is(err, errs.ErrNotFound) {
		return 0, err
	}
	if c != nil && c.UnitPrice.Equal(price) && c.Currency == currency && c.LeadDays == leadDays && c.MaxQuantity.Equal(maxQty) {
		return 0, nil
	}
	if _, err := p.Procurement.SetCapability(ctx, identity.System, supplier, material, price, currency, leadDays, maxQty); err != nil {
		return 0, err
	}
	return 1, nil
}
