package registry_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/masscustom/orchestrator/internal/testenv"
	"github.com/masscustom/orchestrator/services/errs"
	"github.com/masscustom/orchestrator/services/identifiers"
	"github.com/masscustom/orchestrator/services/identity"
	"github.com/masscustom/orchestrator/services/registry"
)

func code(err error) errs.Code {
	if e, ok := errs.As(err); ok {
		return e.Code
	}
	if l, ok := err.(errs.List); ok && len(l) > 0 {
		return l[0].Code
	}
	return ""
}

func field(err error) string {
	if l, ok := err.(errs.List); ok && len(l) > 0 {
		return strings.Join(l[0].Field, ".")
	}
	if e, ok := errs.As(err); ok {
		return strings.Join(e.Field, ".")
	}
	return ""
}

func TestPrefixesAreAssignedOnceByTheOperatorAndMintingGivesOneOtherwise(t *testing.T) {
	p := testenv.Platform(t)
	ctx := context.Background()
	op := testenv.Principal(testenv.Account(t, p, identity.KindPlatform, identity.RoleAdmin))
	opMember := testenv.Principal(testenv.Account(t, p, identity.KindPlatform, identity.RoleMember))
	sup := testenv.Account(t, p, identity.KindSupplier, identity.RoleAdmin)
	other := testenv.Account(t, p, identity.KindSupplier, identity.RoleAdmin)
	c := fmt.Sprint(100000 + rand.IntN(899999))

	if _, err := p.Registry.AssignPrefix(ctx, testenv.Principal(sup), sup.Enterprise.ID, c); code(err) != errs.Forbidden {
		t.Fatalf("a supplier assigning itself a prefix: %v", err)
	}
	if _, err := p.Registry.AssignPrefix(ctx, opMember, sup.Enterprise.ID, c); code(err) != errs.Forbidden {
		t.Fatalf("a platform member assigning: %v", err)
	}
	for _, bad := range []string{"", "01", "1.2", "x", "-1", strings.Repeat("9", 70)} {
		if _, err := p.Registry.AssignPrefix(ctx, op, sup.Enterprise.ID, bad); code(err) != errs.InvalidInput || field(err) != "input.code" {
			t.Errorf("code %q: %v (field %s)", bad, err, field(err))
		}
	}
	got, err := p.Registry.AssignPrefix(ctx, op, sup.Enterprise.ID, c)
	if err != nil || got.Prefix != p.Registry.Node()+"."+c {
		t.Fatalf("assign: %+v %v", got, err)
	}
	if again, err := p.Registry.AssignPrefix(ctx, op, sup.Enterprise.ID, c); err != nil || again.Prefix != got.Prefix {
		t.Fatalf("the same assignment again: %+v %v", again, err)
	}
	if _, err := p.Registry.AssignPrefix(ctx, op, sup.Enterprise.ID, c+"1"); code(err) != errs.AlreadyExists {
		t.Fatalf("a second prefix for the enterprise: %v", err)
	}
	if _, err := p.Registry.AssignPrefix(ctx, op, other.Enterprise.ID, c); code(err) != errs.AlreadyExists {
		t.Fatalf("another enterprise's prefix: %v", err)
	}
	// Minting for an enterprise the operator never gave a prefix gives it the next free code.
	b, err := p.Registry.MintBatch(ctx, testenv.Principal(other), registry.BatchInput{Key: "k1", Kind: registry.KindLot, Count: 2, Stem: "LOT"})
	if err != nil {
		t.Fatal(err)
	}
	pr, err := p.Registry.PrefixOf(ctx, other.Enterprise.ID)
	if err != nil || pr == nil || !strings.HasPrefix(b.Handles[0], pr.Prefix+"/") || b.Handles[1] != pr.Prefix+"/LOT-000002" {
		t.Fatalf("minted %v under %+v (%v)", b.Handles, pr, err)
	}
}

func TestABatchIsAllOrNoneIdempotentOnItsKeyAndBoundedOnEveryField(t *testing.T) {
	p := testenv.Platform(t)
	ctx := context.Background()
	fac := testenv.Account(t, p, identity.KindFactory, identity.RoleMember)
	viewer := testenv.Member(t, p, fac.Enterprise, identity.RoleViewer)
	other := testenv.Account(t, p, identity.KindFactory, identity.RoleAdmin)
	me := testenv.Principal(fac)
	ttl := 60

	in := registry.BatchInput{Key: "batch-" + testenv.Suffix(), Kind: registry.KindUnit, Count: registry.MaxBatch, Stem: "Unit",
		Values: []registry.ValueInput{{Type: "URL", Data: "https://example.com/units", TTL: &ttl}, {Type: registry.TypeGS1GIAI, Data: "(8004)0614141ABC123"}}}
	b, err := p.Registry.MintBatch(ctx, me, in)
	if err != nil || len(b.Handles) != registry.MaxBatch || b.Repeated {
		t.Fatalf("a batch of %d: %d handles, %v", registry.MaxBatch, len(b.Handles), err)
	}
	again, err := p.Registry.MintBatch(ctx, me, in)
	if err != nil || !again.Repeated || again.Handles[1999] != b.Handles[1999] {
		t.Fatalf("the same batch again: %v %v", again.Repeated, err)
	}
	changed := in
	changed.Count = 3
	if _, err := p.Registry.MintBatch(ctx, me, changed); code(err) != errs.AlreadyExists || field(err) != "input.key" {
		t.Fatalf("another request under the key: %v", err)
	}
	// Case-insensitive uniqueness, original case kept.
	h, _ := identifiers.Parse(b.Handles[0])
	rec, err := p.Registry.Record(ctx, mustParse(t, strings.ToUpper(h.String())))
	if err != nil || rec == nil || rec.Handle != h.String() || !strings.Contains(rec.Handle, "Unit-000001") {
		t.Fatalf("looked up in upper case: %+v %v", rec, err)
	}
	clash := registry.BatchInput{Key: "clash-" + testenv.Suffix(), Kind: registry.KindUnit, Suffixes: []string{"fresh-" + testenv.Suffix(), "UNIT-000002"}}
	if _, err := p.Registry.MintBatch(ctx, me, clash); code(err) != errs.AlreadyExists || field(err) != "input.suffixes.1" {
		t.Fatalf("a batch with a taken suffix (case aside): %v %s", err, field(err))
	}
	if r, _ := p.Registry.Record(ctx, mustParse(t, rec.Handle[:strings.Index(rec.Handle, "/")+1]+clash.Suffixes[0])); r != nil {
		t.Fatal("a refused batch minted part of itself")
	}

	for name, tc := range map[string]struct {
		in    registry.BatchInput
		who   *identity.Principal
		code  errs.Code
		field string
	}{
		"too many":          {registry.BatchInput{Key: "x", Kind: "UNIT", Count: registry.MaxBatch + 1, Stem: "a"}, me, errs.InvalidInput, "input.count"},
		"both ways":         {registry.BatchInput{Key: "x", Kind: "UNIT", Count: 1, Stem: "a", Suffixes: []string{"b"}}, me, errs.InvalidInput, "input.suffixes"},
		"repeated suffix":   {registry.BatchInput{Key: "x", Kind: "UNIT", Suffixes: []string{"b", "B"}}, me, errs.InvalidInput, "input.suffixes.1"},
		"bad suffix":        {registry.BatchInput{Key: "x", Kind: "UNIT", Suffixes: []string{"a b"}}, me, errs.InvalidInput, "input.suffixes.0"},
		"long suffix":       {registry.BatchInput{Key: "x", Kind: "UNIT", Suffixes: []string{strings.Repeat("a", 250)}}, me, errs.InvalidInput, "input.suffixes.0"},
		"kind":              {registry.BatchInput{Key: "x", Kind: "ROBOT", Count: 1, Stem: "a"}, me, errs.InvalidInput, "input.kind"},
		"no key":            {registry.BatchInput{Kind: "UNIT", Count: 1, Stem: "a"}, me, errs.InvalidInput, "input.key"},
		"long type":         {registry.BatchInput{Key: "x", Kind: "UNIT", Count: 1, Stem: "a", Values: []registry.ValueInput{{Type: strings.Repeat("T", 129), Data: "d"}}}, me, errs.InvalidInput, "input.values.0.type"},
		"long data":         {registry.BatchInput{Key: "x", Kind: "UNIT", Count: 1, Stem: "a", Values: []registry.ValueInput{{Type: "T", Data: strings.Repeat("é", 256)}}}, me, errs.InvalidInput, "input.values.0.data"},
		"reserved type":     {registry.BatchInput{Key: "x", Kind: "UNIT", Count: 1, Stem: "a", Values: []registry.ValueInput{{Type: "MC.RECALL_STATUS", Data: "fine"}}}, me, errs.InvalidInput, "input.values.0.type"},
		"bad GTIN":          {registry.BatchInput{Key: "x", Kind: "UNIT", Count: 1, Stem: "a", Values: []registry.ValueInput{{Type: "GS1.SGTIN", Data: "(01)09506000134353(21)X1"}}}, me, errs.InvalidInput, "input.values.0.data"},
		"bad SSCC":          {registry.BatchInput{Key: "x", Kind: "UNIT", Count: 1, Stem: "a", Values: []registry.ValueInput{{Type: "GS1.SSCC", Data: "106141411234567890"}}}, me, errs.InvalidInput, "input.values.0.data"},
		"partners unnamed":  {registry.BatchInput{Key: "x", Kind: "UNIT", Count: 1, Stem: "a", Values: []registry.ValueInput{{Type: "T", Data: "d", Readable: "PARTNERS"}}}, me, errs.InvalidInput, "input.values.0.partners"},
		"ttl":               {registry.BatchInput{Key: "x", Kind: "UNIT", Count: 1, Stem: "a", Values: []registry.ValueInput{{Type: "T", Data: "d", TTL: ptr(-1)}}}, me, errs.InvalidInput, "input.values.0.ttl"},
		"a viewer":          {registry.BatchInput{Key: "x", Kind: "UNIT", Count: 1, Stem: "a"}, testenv.Principal(viewer), errs.Forbidden, "input.owner"},
		"for another":       {registry.BatchInput{Key: "x", Kind: "UNIT", Count: 1, Stem: "a", Owner: &other.Enterprise.ID}, me, errs.Forbidden, "input.owner"},
		"no token":          {registry.BatchInput{Key: "x", Kind: "UNIT", Count: 1, Stem: "a"}, nil, errs.Unauthenticated, ""},
		"control character": {registry.BatchInput{Key: "x", Kind: "UNIT", Count: 1, Stem: "a", Values: []registry.ValueInput{{Type: "T", Data: "a\nb"}}}, me, errs.InvalidInput, "input.values.0.data"},
	} {
		_, err := p.Registry.MintBatch(ctx, tc.who, tc.in)
		if code(err) != tc.code || field(err) != tc.field {
			t.Errorf("%s: %v (field %q), want %s on %q", name, err, field(err), tc.code, tc.field)
		}
	}
}

func TestValuesAreReadAsTheirPermissionSaysAndChangesReachTheCache(t *testing.T) {
	p := testenv.Platform(t)
	ctx := context.Background()
	sup := testenv.Account(t, p, identity.KindSupplier, identity.RoleAdmin)
	partner := testenv.Account(t, p, identity.KindFactory, identity.RoleMember)
	stranger := testenv.Account(t, p, identity.KindFactory, identity.RoleMember)
	b, err := p.Registry.MintBatch(ctx, testenv.Principal(sup), registry.BatchInput{Key: "v-" + testenv.Suffix(), Kind: registry.KindLot,
		Suffixes: []string{"Lot-" + testenv.Suffix()}, Values: []registry.ValueInput{
			{Type: "URL", Data: "https://example.com/lot"},
			{Type: "LOT.COST", Data: "12.50 CNY", Readable: registry.ReadOwner},
			{Type: "LOT.CERT", Data: "3.1 certificate", Readable: registry.ReadPartners, Partners: []uuid.UUID{partner.Enterprise.ID}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	h := mustParse(t, b.Handles[0])
	types := func(pr *identity.Principal) string {
		a, err := p.Registry.Resolve(ctx, pr, h, identifiers.Query{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, v := range a.Values {
			out = append(out, v.Type)
		}
		return strings.Join(out, ",")
	}
	for who, want := range map[string]string{
		"anonymous": "URL", "stranger": "URL", "partner": "URL,LOT.CERT", "owner": "URL,LOT.COST,LOT.CERT",
	} {
		pr := map[string]*identity.Principal{"anonymous": nil, "stranger": testenv.Principal(stranger), "partner": testenv.Principal(partner), "owner": testenv.Principal(sup)}[who]
		if got := types(pr); got != want {
			t.Errorf("%s reads %s, want %s", who, got, want)
		}
	}
	// A change is seen at once, cached or not.
	if _, err := p.Registry.SetValues(ctx, testenv.Principal(sup), h.String(), []registry.ValueInput{{Index: 1, Type: "URL", Data: "https://example.com/lot/v2"}}); err != nil {
		t.Fatal(err)
	}
	a, _ := p.Registry.Resolve(ctx, nil, h, identifiers.Query{Types: []string{"url"}})
	if len(a.Values) != 1 || a.Values[0].Data.Value != "https://example.com/lot/v2" {
		t.Fatalf("after the change: %+v", a)
	}
	if _, err := p.Registry.SetValues(ctx, testenv.Principal(stranger), h.String(), []registry.ValueInput{{Type: "X", Data: "y"}}); code(err) != errs.Forbidden {
		t.Fatalf("a stranger writing values: %v", err)
	}
	if _, err := p.Registry.SetValues(ctx, testenv.Principal(sup), "88.500/none-"+testenv.Suffix(), []registry.ValueInput{{Type: "X", Data: "y"}}); code(err) != errs.NotFound {
		t.Fatalf("values of no identifier: %v", err)
	}
	if a, _ := p.Registry.Resolve(ctx, nil, h, identifiers.Query{Indexes: []int{99}}); a.ResponseCode != identifiers.CodeValuesNotFound {
		t.Fatalf("an index that has no value: %+v", a)
	}
}

func ptr(n int) *int { return &n }

func mustParse(t *testing.T, s string) identifiers.Handle {
	t.Helper()
	h, err := identifiers.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
