package server

import (
	"github.com/masscustom/orchestrator/graph/generated"
	"github.com/masscustom/orchestrator/graph/model"
	"github.com/masscustom/orchestrator/services/genealogy"
	"github.com/masscustom/orchestrator/services/store"
)

// unpagedListSize is what a list without a page size is priced at: the
// domain bounds these lists (a template's options, an order's BOM lines and
// stages, a payload's errors), but not to a number the schema states, so each
// counts as this many items of its children.
const unpagedListSize = 10

// Page sizes and caps of the lists that take `first` without being
// connections (see their resolvers).
const (
	timelineDefault, timelineCap = 100, 500
	ledgerDefault, ledgerCap     = 200, 1000
)

// connectionComplexity makes every connection and list of objects cost its
// page size times its children, so a wide or nested list is refused by the
// complexity limit before it runs (gqlgen's default prices any field at 1 plus
// its children, whatever it returns). TestEveryListAndConnectionFieldCostsItsPageSizeTimesItsChildren
// walks the schema and fails for a list field missing here.
func connectionComplexity(c *generated.ComplexityRoot) {
	conn := func(child int, first *int) int {
		n := 0
		if first != nil {
			n = *first
		}
		return 1 + store.PageSize(n)*child
	}
	capped := func(def, ceiling int) func(child int, first *int) int {
		return func(child int, first *int) int {
			n := def
			if first != nil {
				n = min(max(*first, 1), ceiling)
			}
			return 1 + n*child
		}
	}
	list := func(child int) int { return 1 + unpagedListSize*child }

	// Connections.
	c.Query.Enterprises = func(child int, _ *model.EnterpriseKind, first *int, _ *string) int { return conn(child, first) }
	c.Query.Orders = func(child int, _ *model.OrderStatus, _ *model.OrderStage, first *int, _ *string) int {
		return conn(child, first)
	}
	c.Query.ProductTemplates = func(child int, first *int, _ *string) int { return conn(child, first) }
	c.Query.ProcurementInbox = func(child int, _ *string, first *int, _ *string) int { return conn(child, first) }
	c.Query.ProductionInbox = func(child int, _ *string, first *int, _ *string) int { return conn(child, first) }
	c.Query.ShipmentInbox = func(child int, _ *string, first *int, _ *string) int { return conn(child, first) }
	c.Query.LeaseContracts = func(child int, first *int, _ *string) int { return conn(child, first) }
	c.Query.Equipment = func(child int, first *int, _ *string) int { return conn(child, first) }
	// epcisEvents' list is priced as an unpaged list below; its filter's
	// first scales it to the events asked for.
	c.Query.EpcisEvents = func(child int, f model.EpcisEventFilter) int {
		n := genealogy.DefaultEvents
		if f.First != nil {
			n = min(max(*f.First, 1), genealogy.MaxEvents)
		}
		return 1 + child*max(n/unpagedListSize, 1)
	}
	c.Enterprise.Users = func(child int, first *int, _ *string) int { return conn(child, first) }
	c.User.APITokens = func(child int, first *int, _ *string) int { return conn(child, first) }
	c.LeaseContract.Invoices = func(child int, first *int, _ *string) int { return conn(child, first) }

	// Lists with a page size of their own.
	timeline := capped(timelineDefault, timelineCap)
	c.Order.Timeline = func(child int, _ *int, first *int) int { return timeline(child, first) }
	c.LeaseContract.Timeline = func(child int, _ *int, first *int) int { return timeline(child, first) }
	c.LeaseContract.Ledger = capped(ledgerDefault, ledgerCap)

	// Lists without one.
	c.LeaseContract.Usage = func(child int, _ *string) int { return list(child) }
	for _, f := range []*func(int) int{
		&c.Configuration.Violations, &c.Configuration.BOM, &c.Configuration.Routing, &c.Configuration.Resolved,
		&c.Invoice.Lines, &c.Invoice.Notes, &c.InvoiceNote.Lines, &c.LeaseContract.Equipment, &c.OptionGroup.Choices,
		&c.Order.Selections, &c.Order.ProcurementTasks, &c.Order.ServiceTickets,
		&c.Price.Lines, &c.ProductTemplate.Options, &c.ProductionOrder.Stages, &c.Shipment.Events,
		&c.CreateQuotePayload.Violations, &c.PublishProductTemplatePayload.Violations, &c.ReportUsagePayload.Refused,
		&c.CapabilityPayload.Errors, &c.CreateApiTokenPayload.Errors, &c.CreateEnterprisePayload.Errors,
		&c.CreateLeaseContractPayload.Errors, &c.CreateQuotePayload.Errors, &c.CreateUserPayload.Errors, &c.FinalizeInvoicePayload.Errors,
		&c.CorrectUsagePayload.Errors, &c.CorrectUsagePayload.Notes, &c.TopUpWalletPayload.Errors, &c.AmendLeaseContractPayload.Errors, &c.TopUpUnitsPayload.Errors, &c.LeaseWallet.Units,
		&c.InvoicePayload.Errors, &c.OrderPayload.Errors, &c.PlaceOrderPayload.Errors,
		&c.ProcurementTaskPayload.Errors, &c.PublishProductTemplatePayload.Errors, &c.RecordPaymentPayload.Errors,
		&c.RegisterEquipmentPayload.Errors, &c.ReportUsagePayload.Errors, &c.RevokeApiTokenPayload.Errors,
		&c.EnterprisePrefixPayload.Errors, &c.MintIdentifiersPayload.Errors, &c.MintIdentifiersPayload.Handles,
		&c.IdentifierPayload.Errors, &c.IdentifierResolution.Values, &c.EpcisEventPayload.Errors, &c.EpcisEventsPayload.Errors,
		&c.EpcisEventList.Events, &c.TracePayload.Errors, &c.Trace.Counts, &c.Trace.Units, &c.Trace.Lots, &c.Trace.Machines,
		&c.Trace.Packages, &c.Trace.Orders, &c.TracedOrder.OpenTickets, &c.RecallPayload.Errors, &c.Recall.Affected, &c.Recall.Orders,
		&c.HandleValue.Partners,
	} {
		*f = list
	}
}
