// Package genealogy records what the platform's journeys make and move as
// EPCIS 2.0 events (GS1's Electronic Product Code Information Services), in
// the same transactions as the writes they describe: a supplier's lots
// commissioned and shipped, their receipt at the factory, each production
// stage as a transformation from lots and units into units on a machine,
// scrap, packing into a package, pick-up, delivery and proof of delivery.
// From the events it keeps the genealogy edges (what went into what), which
// trace walks upstream and downstream, and on which a recall marks every
// affected identifier.
//
// Identifiers appear in events as info URIs of their handles
// (`info:hdl/88.500.1304/AC-SPLIT-0000042`, RFC 4452). Each event's id is
// derived from its business key (`urn:uuid:` of a name-based UUID), so an
// activity that runs twice stores its event once.
package genealogy

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The EPCIS event types the platform records.
const (
	ObjectEvent         = "ObjectEvent"
	AggregationEvent    = "AggregationEvent"
	TransformationEvent = "TransformationEvent"
)

// The CBV business steps and dispositions the journey uses.
const (
	StepCommissioning = "commissioning"
	StepShipping      = "shipping"
	StepReceiving     = "receiving"
	StepAssembling    = "assembling"
	StepDestroying    = "destroying"
	StepInspecting    = "inspecting"
	StepPacking       = "packing"
	StepDeparting     = "departing"
	StepArriving      = "arriving"
	StepAccepting     = "accepting"

	DispActive       = "active"
	DispInTransit    = "in_transit"
	DispInProgress   = "in_progress"
	DispDestroyed    = "destroyed"
	DispConformant   = "conformant"
	DispNonConform   = "non_conformant"
	DispInPossession = "in_possession"
	DispRecalled     = "recalled"
)

// BizSteps lists the business steps an event filter accepts.
var BizSteps = []string{StepCommissioning, StepShipping, StepReceiving, StepAssembling, StepDestroying, StepInspecting,
	StepPacking, StepDeparting, StepArriving, StepAccepting}

// Context is the JSON-LD context of exported documents: GS1's EPCIS 2.0
// context and the namespace of the platform's extension fields (mc:).
var Context = []any{
	"https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
	map[string]string{"mc": "https://masscustom.dev/epcis/"},
}

// Event is one EPCIS 2.0 event in its JSON-LD form. Fields that do not apply
// to its type stay empty and are left out.
type Event struct {
	Type                string            `json:"type"`
	EventID             string            `json:"eventID"`
	EventTime           string            `json:"eventTime"`
	EventTimeZoneOffset string            `json:"eventTimeZoneOffset"`
	RecordTime          string            `json:"recordTime,omitempty"`
	Action              string            `json:"action,omitempty"`
	BizStep             string            `json:"bizStep"`
	Disposition         string            `json:"disposition,omitempty"`
	ParentID            string            `json:"parentID,omitempty"`
	EPCList             []string          `json:"epcList,omitempty"`
	ChildEPCs           []string          `json:"childEPCs,omitempty"`
	QuantityList        []Quantity        `json:"quantityList,omitempty"`
	InputEPCList        []string          `json:"inputEPCList,omitempty"`
	InputQuantityList   []Quantity        `json:"inputQuantityList,omitempty"`
	OutputEPCList       []string          `json:"outputEPCList,omitempty"`
	ReadPoint           *Place            `json:"readPoint,omitempty"`
	BizLocation         *Place            `json:"bizLocation,omitempty"`
	BizTransactionList  []BizTransaction  `json:"bizTransactionList,omitempty"`
	ErrorDeclaration    *ErrorDeclaration `json:"errorDeclaration,omitempty"`
	// The platform's extensions.
	Order         string            `json:"mc:order,omitempty"`
	Stage         string            `json:"mc:stage,omitempty"`
	ScrapQuantity *int              `json:"mc:scrapQuantity,omitempty"`
	Proof         map[string]string `json:"mc:proofOfDelivery,omitempty"`
}

// Quantity is a quantity of a class or lot of objects.
type Quantity struct {
	EPCClass string  `json:"epcClass"`
	Quantity float64 `json:"quantity"`
	UOM      string  `json:"uom,omitempty"`
}

// Place is a readPoint or a bizLocation.
type Place struct {
	ID string `json:"id"`
}

// BizTransaction names the business transaction an event belongs to.
type BizTransaction struct {
	Type           string `json:"type"`
	BizTransaction string `json:"bizTransaction"`
}

// ErrorDeclaration marks an event as erroneous (EPCIS 2.0 section 7.4.1.4).
type ErrorDeclaration struct {
	DeclarationTime    string   `json:"declarationTime"`
	Reason             string   `json:"reason,omitempty"`
	CorrectiveEventIDs []string `json:"correctiveEventIDs,omitempty"`
}

// Document is an EPCIS 2.0 document of events.
type Document struct {
	Context       []any  `json:"@context"`
	Type          string `json:"type"`
	SchemaVersion string `json:"schemaVersion"`
	CreationDate  string `json:"creationDate"`
	EPCISBody     struct {
		EventList []json.RawMessage `json:"eventList"`
	} `json:"epcisBody"`
}

// NewDocument wraps events (each already encoded) in a document created at.
func NewDocument(events []json.RawMessage, at time.Time) Document {
	d := Document{Context: Context, Type: "EPCISDocument", SchemaVersion: "2.0", CreationDate: stamp(at)}
	d.EPCISBody.EventList = events
	if d.EPCISBody.EventList == nil {
		d.EPCISBody.EventList = []json.RawMessage{}
	}
	return d
}

// URI is the identifier URI of a handle in events.
func URI(handle string) string { return "info:hdl/" + handle }

// HandleOf is the handle of an identifier URI ("" when it is not one).
func HandleOf(uri string) string {
	h, ok := strings.CutPrefix(uri, "info:hdl/")
	if !ok {
		return ""
	}
	return h
}

var eventNS = uuid.MustParse("0f1b8a52-93c4-4d0e-9d4a-6f3b2c7e5a10")

// EventID derives an event's id from its business key.
func EventID(key string) string { return "urn:uuid:" + uuid.NewSHA1(eventNS, []byte(key)).String() }

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// OrderURI names an order as a business transaction.
func OrderURI(id uuid.UUID) string { return "urn:masscustom:order:" + id.String() }
