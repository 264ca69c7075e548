-- Fulfilment: production at factories, logistics with carriers, after-sales
-- service. Every record an activity writes has a business key (the order, a
-- stage round, an event key) so that running the activity twice writes once.
-- customer_id is copied from the order when a record is created, so that the
-- customer's visibility is checked without a join into the orders context.

-- What a factory runs: per work-centre kind, its capacity in minutes per day.
CREATE TABLE factory_capabilities (
    factory_id        uuid NOT NULL REFERENCES enterprises(id),
    work_centre_kind  text NOT NULL CHECK (work_centre_kind ~ '^[A-Z][A-Z0-9_]{0,49}$'),
    minutes_per_day   int  NOT NULL CHECK (minutes_per_day > 0),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (factory_id, work_centre_kind)
);
CREATE INDEX factory_capabilities_kind ON factory_capabilities (work_centre_kind, factory_id);

-- One production order per order; its id is derived from the order id.
CREATE TABLE production_orders (
    id               uuid PRIMARY KEY,
    order_id         uuid NOT NULL UNIQUE REFERENCES orders(id),
    customer_id      uuid NOT NULL REFERENCES enterprises(id),
    factory_id       uuid NOT NULL REFERENCES enterprises(id),
    assign_key       text NOT NULL CHECK (length(assign_key) BETWEEN 1 AND 200),
    status           text NOT NULL CHECK (status IN ('ASSIGNED','IN_PROGRESS','QA','PASSED','FAILED','CANCELLED')),
    quantity         int  NOT NULL CHECK (quantity > 0),
    scrap_tolerance  numeric NOT NULL CHECK (scrap_tolerance >= 0 AND scrap_tolerance < 1),
    cancel_key       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX production_orders_factory ON production_orders (factory_id, created_at, id);
CREATE INDEX production_orders_created ON production_orders (created_at, id);
CREATE INDEX production_orders_open ON production_orders (factory_id) WHERE status IN ('ASSIGNED','IN_PROGRESS');

-- The routing's stages. Round 0 is the plan; a stage whose scrap exceeds the
-- tolerance gets a further round for the missing quantity (reason REWORK or
-- REPROCURE). input_quantity is what entered the round: known at creation for
-- the first stage and for later rounds, set at start for later stages.
CREATE TABLE production_stages (
    production_order_id  uuid NOT NULL REFERENCES production_orders(id),
    seq                  int  NOT NULL,
    rework_round         int  NOT NULL CHECK (rework_round >= 0),
    code                 text NOT NULL CHECK (length(code) BETWEEN 1 AND 100),
    name                 text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    work_centre_kind     text NOT NULL,
    minutes_per_unit     numeric NOT NULL CHECK (minutes_per_unit >= 0),
    planned_minutes      numeric NOT NULL CHECK (planned_minutes >= 0),
    reason               text NOT NULL CHECK (reason IN ('PLAN','REWORK','REPROCURE')),
    status               text NOT NULL CHECK (status IN ('PENDING','STARTED','DONE')),
    input_quantity       int CHECK (input_quantity >= 0),
    good_quantity        int CHECK (good_quantity >= 0),
    scrap_quantity       int CHECK (scrap_quantity >= 0),
    started_at           timestamptz,
    finished_at          timestamptz,
    started_by           uuid,
    finished_by          uuid,
    PRIMARY KEY (production_order_id, seq, rework_round),
    CHECK (good_quantity + scrap_quantity <= input_quantity)
);
CREATE INDEX production_stages_open ON production_stages (work_centre_kind) WHERE status <> 'DONE';

-- The QA verdict that closes production: one per production order.
CREATE TABLE qa_results (
    production_order_id  uuid PRIMARY KEY REFERENCES production_orders(id),
    passed               boolean NOT NULL,
    notes                text NOT NULL CHECK (length(notes) <= 2000),
    quantity             int NOT NULL CHECK (quantity >= 0),
    recorded_by          uuid,
    at                   timestamptz NOT NULL DEFAULT now()
);

-- Where a carrier delivers, how long it takes and what it costs per shipment.
CREATE TABLE carrier_lanes (
    carrier_id  uuid NOT NULL REFERENCES enterprises(id),
    country     text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    lead_days   int  NOT NULL CHECK (lead_days >= 0),
    price       numeric NOT NULL CHECK (price >= 0),
    currency    text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (carrier_id, country)
);
CREATE INDEX carrier_lanes_country ON carrier_lanes (country, carrier_id);

-- One shipment per order; its id is derived from the order id.
CREATE TABLE shipments (
    id               uuid PRIMARY KEY,
    order_id         uuid NOT NULL UNIQUE REFERENCES orders(id),
    customer_id      uuid NOT NULL REFERENCES enterprises(id),
    carrier_id       uuid NOT NULL REFERENCES enterprises(id),
    book_key         text NOT NULL CHECK (length(book_key) BETWEEN 1 AND 200),
    status           text NOT NULL CHECK (status IN ('BOOKED','PICKED_UP','IN_TRANSIT','OUT_FOR_DELIVERY','DELIVERED','EXCEPTION','CONFIRMED','CANCELLED')),
    tracking_number  text NOT NULL UNIQUE,
    destination      jsonb NOT NULL,
    country          text NOT NULL,
    price            numeric NOT NULL,
    currency         text NOT NULL,
    lead_days        int  NOT NULL,
    last_seq         int  NOT NULL DEFAULT 0,
    last_location    text NOT NULL DEFAULT '',
    picked_up_at     timestamptz,
    pod              jsonb,
    delivered_at     timestamptz,
    confirmed_at     timestamptz,
    auto_confirmed   boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shipments_carrier ON shipments (carrier_id, created_at, id);
CREATE INDEX shipments_created ON shipments (created_at, id);

-- A shipment's tracking history. event_key makes a repeated report append once.
CREATE TABLE tracking_events (
    shipment_id  uuid NOT NULL REFERENCES shipments(id),
    seq          int  NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('BOOKED','PICKED_UP','IN_TRANSIT','OUT_FOR_DELIVERY','DELIVERED','EXCEPTION','CONFIRMED','CANCELLED')),
    location     text NOT NULL DEFAULT '' CHECK (length(location) <= 200),
    note         text NOT NULL DEFAULT '' CHECK (length(note) <= 500),
    event_key    text NOT NULL CHECK (length(event_key) BETWEEN 1 AND 200),
    actor_id     uuid,
    at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shipment_id, seq),
    UNIQUE (shipment_id, event_key)
);

-- The warranty of a delivered order. factory_id is the enterprise that serves it
-- (normally the factory that built it).
CREATE TABLE warranties (
    order_id     uuid PRIMARY KEY REFERENCES orders(id),
    customer_id  uuid NOT NULL REFERENCES enterprises(id),
    factory_id   uuid REFERENCES enterprises(id),
    starts_at    timestamptz NOT NULL,
    ends_at      timestamptz NOT NULL CHECK (ends_at > starts_at),
    last_ticket  int NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX warranties_factory ON warranties (factory_id);

-- Service tickets, numbered per order; open_key makes a repeated open create one.
CREATE TABLE service_tickets (
    id                   uuid PRIMARY KEY,
    order_id             uuid NOT NULL REFERENCES warranties(order_id),
    customer_id          uuid NOT NULL REFERENCES enterprises(id),
    number               int  NOT NULL CHECK (number > 0),
    open_key             text NOT NULL CHECK (length(open_key) BETWEEN 1 AND 200),
    category             text NOT NULL CHECK (category IN ('INSTALLATION','DEFECT','NOISE','PERFORMANCE','OTHER')),
    description          text NOT NULL CHECK (length(description) BETWEEN 1 AND 2000),
    status               text NOT NULL CHECK (status IN ('OPEN','DISPATCHED','RESOLVED')),
    opened_by            uuid,
    assignee_enterprise  uuid REFERENCES enterprises(id),
    dispatched_by        uuid,
    dispatched_at        timestamptz,
    resolution           text CHECK (length(resolution) BETWEEN 1 AND 2000),
    resolved_by          uuid,
    resolved_at          timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (order_id, number),
    UNIQUE (order_id, open_key)
);
CREATE INDEX service_tickets_created ON service_tickets (created_at, id);
CREATE INDEX service_tickets_assignee ON service_tickets (assignee_enterprise, created_at, id);
CREATE INDEX service_tickets_open ON service_tickets (order_id) WHERE status <> 'RESOLVED';
