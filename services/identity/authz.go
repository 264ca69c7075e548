package identity

import (
	"slices"

	"github.com/google/uuid"
	"github.com/masscustom/orchestrator/services/errs"
)

// Action names an operation that needs authorization. Every service guard and the
// viewer's permission list use these names, so the policy below is the one place
// where who-may-do-what is decided.
type Action string

// The actions of the platform.
const (
	ActViewer           Action = "viewer"
	ActEnterpriseList   Action = "enterprise.list"
	ActEnterpriseRead   Action = "enterprise.read"
	ActEnterpriseCreate Action = "enterprise.create"
	ActUserRead         Action = "user.read"
	ActUserCreate       Action = "user.create"
	ActTokenRead        Action = "token.read"
	ActTokenManage      Action = "token.manage"
	ActCatalogRead      Action = "catalog.read"
	ActCatalogManage    Action = "catalog.manage"
	ActOrderPlace       Action = "order.place"
	ActOrderRead        Action = "order.read"
	ActOrderDecide      Action = "order.decide"
	ActOrderCancel      Action = "order.cancel"
	ActOrderResume      Action = "order.resume"
	ActLeasingManage    Action = "leasing.manage"
	ActLeasingRead      Action = "leasing.read"
	ActUsageReport      Action = "usage.report"
	ActPaymentRecord    Action = "payment.record"
	ActInvoiceFinalize  Action = "invoice.finalize"
	ActUsageCorrect     Action = "usage.correct"
	ActTaskAnswer       Action = "procurement.answer"
	ActMaterialReceive  Action = "procurement.receive"
	ActProductionReport Action = "production.report"
	ActShipmentReport   Action = "shipment.report"
	ActTicketManage     Action = "ticket.manage"
	ActTicketDispatch   Action = "ticket.dispatch"
)

// Scope is what an action is about: the enterprise that owns the object and, for
// objects that belong to a person, that user.
type Scope struct {
	EnterpriseID uuid.UUID
	UserID       uuid.UUID
}

// rule says who may perform an action. Platform users are decided by PlatformRoles
// alone (the operator sees and manages everything); everybody else needs a kind in
// Kinds (nil: any kind) and a role in Roles, and, when Own is set, the object must
// belong to their enterprise. Self lets any user act on objects that are their own.
type rule struct {
	PlatformRoles []Role
	Kinds         []Kind
	Roles         []Role
	Own           bool
	Self          bool
}

var (
	allRoles  = []Role{RoleAdmin, RoleMember, RoleFinance, RoleViewer}
	adminOnly = []Role{RoleAdmin}
	actors    = []Role{RoleAdmin, RoleMember}
	customer  = []Kind{KindCustomer}
)

// policy is the authorization matrix of the platform.
var policy = map[Action]rule{
	ActViewer:           {PlatformRoles: allRoles, Roles: allRoles},
	ActEnterpriseList:   {PlatformRoles: allRoles, Roles: allRoles},
	ActEnterpriseRead:   {PlatformRoles: allRoles, Roles: allRoles, Own: true},
	ActEnterpriseCreate: {PlatformRoles: adminOnly},
	ActUserRead:         {PlatformRoles: allRoles, Roles: adminOnly, Own: true, Self: true},
	ActUserCreate:       {PlatformRoles: adminOnly, Roles: adminOnly, Own: true},
	ActTokenRead:        {PlatformRoles: allRoles, Roles: adminOnly, Own: true, Self: true},
	ActTokenManage:      {PlatformRoles: adminOnly, Roles: adminOnly, Own: true, Self: true},
	ActCatalogRead:      {PlatformRoles: allRoles, Roles: allRoles},
	ActCatalogManage:    {PlatformRoles: adminOnly},
	// Orders: the customer that placed it; the operator sees all and may act as
	// an engineer on the design, cancel, and resume what is on hold.
	ActOrderPlace:  {Kinds: customer, Roles: actors, Own: true},
	ActOrderRead:   {PlatformRoles: allRoles, Kinds: customer, Roles: allRoles, Own: true},
	ActOrderDecide: {PlatformRoles: actors, Kinds: customer, Roles: actors, Own: true},
	ActOrderCancel: {PlatformRoles: adminOnly, Kinds: customer, Roles: actors, Own: true},
	ActOrderResume: {PlatformRoles: actors},
	// Leasing: a lessor manages its machines and contracts; lessor and lessee
	// (and their finance staff) read their contracts; machines report usage
	// through a lessor token; finance records payments.
	ActLeasingManage: {PlatformRoles: adminOnly, Kinds: []Kind{KindLessor}, Roles: actors, Own: true},
	ActLeasingRead:   {PlatformRoles: allRoles, Kinds: []Kind{KindLessor, KindFactory}, Roles: allRoles, Own: true},
	ActUsageReport:   {PlatformRoles: adminOnly, Kinds: []Kind{KindLessor}, Roles: actors, Own: true},
	ActPaymentRecord: {PlatformRoles: adminOnly, Kinds: []Kind{KindLessor}, Roles: []Role{RoleAdmin, RoleFinance}, Own: true},
	// Ending a draft invoice's review early is the lessor's finance's call.
	ActInvoiceFinalize: {PlatformRoles: adminOnly, Kinds: []Kind{KindLessor}, Roles: []Role{RoleAdmin, RoleFinance}, Own: true},
	// Voiding and correcting recorded usage, with the notes it issues.
	ActUsageCorrect: {PlatformRoles: adminOnly, Kinds: []Kind{KindLessor}, Roles: []Role{RoleAdmin, RoleFinance}, Own: true},
	// Collaboration: each party acts on its own step; the order workflow then
	// checks that the enterprise is the one the step belongs to (the task's
	// supplier, the assigned factory, the booked carrier).
	ActTaskAnswer:       {Kinds: []Kind{KindSupplier}, Roles: actors, Own: true},
	ActMaterialReceive:  {PlatformRoles: actors, Kinds: []Kind{KindFactory}, Roles: actors, Own: true},
	ActProductionReport: {PlatformRoles: actors, Kinds: []Kind{KindFactory}, Roles: actors, Own: true},
	ActShipmentReport:   {PlatformRoles: actors, Kinds: []Kind{KindCarrier}, Roles: actors, Own: true},
	ActTicketManage:     {PlatformRoles: actors, Kinds: []Kind{KindFactory}, Roles: actors, Own: true},
	// Dispatching a ticket is the operator's: the platform decides who serves
	// a customer, not the factory that built the order.
	ActTicketDispatch: {PlatformRoles: actors},
}

// Actions lists every action in a stable order.
func Actions() []Action {
	out := make([]Action, 0, len(policy))
	for a := range policy {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// Can reports whether p may perform action on an object in scope.
func Can(p *Principal, action Action, s Scope) bool {
	if p == nil {
		return false
	}
	r, ok := policy[action]
	if !ok {
		return false // an action nobody declared is nobody's
	}
	if r.Self && s.UserID != uuid.Nil && s.UserID == p.UserID {
		return true
	}
	if p.Kind == KindPlatform {
		return slices.Contains(r.PlatformRoles, p.Role)
	}
	if r.Kinds != nil && !slices.Contains(r.Kinds, p.Kind) {
		return false
	}
	if !slices.Contains(r.Roles, p.Role) {
		return false
	}
	if r.Own && s.EnterpriseID != p.EnterpriseID {
		return false
	}
	return true
}

// Authorize returns nil when p may perform action in scope, UNAUTHENTICATED when
// there is no principal, and FORBIDDEN otherwise.
func Authorize(p *Principal, action Action, s Scope) error {
	if p == nil {
		return errs.New(errs.Unauthenticated, nil, "a bearer token is required")
	}
	if !Can(p, action, s) {
		return errs.New(errs.Forbidden, nil, "%s may not %s", p.describe(), action)
	}
	return nil
}

// Permissions lists the actions p may perform on its own enterprise's objects.
func Permissions(p *Principal) []string {
	var out []string
	for _, a := range Actions() {
		if Can(p, a, Scope{EnterpriseID: p.EnterpriseID}) {
			out = append(out, string(a))
		}
	}
	return out
}
