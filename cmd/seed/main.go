// Command seed applies the migrations and writes the demo data of `make run`:
// one enterprise per kind with users and known demo tokens, and the seed
// product templates. Running it again
// changes nothing. It prints the demo tokens, one per role.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"text/tabwriter"

	"github.com/google/uuid"

	"github.com/masscustom/orchestrator/services/catalog"
	"github.com/masscustom/orchestrator/services/config"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/platform"
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
}
