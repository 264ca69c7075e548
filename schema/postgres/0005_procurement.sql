-- Procurement: what each supplier can supply and how well it has behaved, the
-- purchase tasks offered to suppliers for each material (BOM line) of an order,
-- their shipments and receipts, the audit of score changes, and the lines held
-- because no supplier is left.

-- One row per supplier and material: its list price, lead time, how much it can
-- cover per order, and its score (0..100), which follows its behaviour.
CREATE TABLE supplier_capabilities (
    supplier_id  uuid NOT NULL REFERENCES enterprises(id),
    material     text NOT NULL CHECK (length(material) BETWEEN 1 AND 100),
    unit_price   numeric NOT NULL CHECK (unit_price > 0),
    currency     text NOT NULL,
    lead_days    int NOT NULL CHECK (lead_days BETWEEN 0 AND 365),
    max_quantity numeric NOT NULL CHECK (max_quantity > 0),
    score        numeric NOT NULL DEFAULT 50 CHECK (score BETWEEN 0 AND 100),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (supplier_id, material)
);
CREATE INDEX supplier_capabilities_material ON supplier_capabilities (material);

-- One row per offer: (order, line, attempt) is the business key that makes an
-- activity that runs twice offer once. Status moves OFFERED -> ACCEPTED |
-- REJECTED | TIMED_OUT | WITHDRAWN, and ACCEPTED -> SHIPPED -> RECEIVED, or
-- -> CANCELLED when the order is cancelled.
CREATE TABLE procurement_tasks (
    id                uuid PRIMARY KEY,
    order_id          uuid NOT NULL REFERENCES orders(id),
    line              int NOT NULL CHECK (line >= 0),
    attempt           int NOT NULL CHECK (attempt > 0),
    material          text NOT NULL,
    quantity          numeric NOT NULL CHECK (quantity > 0),
    supplier_id       uuid NOT NULL REFERENCES enterprises(id),
    currency          text NOT NULL,
    list_unit_price   numeric,
    status            text NOT NULL CHECK (status IN ('OFFERED','ACCEPTED','REJECTED','TIMED_OUT','WITHDRAWN','CANCELLED','SHIPPED','RECEIVED')),
    offered_at        timestamptz NOT NULL,
    deadline          timestamptz NOT NULL,
    decided_at        timestamptz,
    unit_price        numeric CHECK (unit_price > 0),
    accepted_quantity numeric CHECK (accepted_quantity > 0),
    promised_date     date,
    reject_reason     text,
    cancel_reason     text,
    shipped_quantity  numeric NOT NULL DEFAULT 0,
    received_quantity numeric NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (order_id, line, attempt),
    CHECK (accepted_quantity IS NULL OR accepted_quantity <= quantity),
    CHECK (shipped_quantity >= 0 AND shipped_quantity <= coalesce(accepted_quantity, 0)),
    CHECK (received_quantity >= 0 AND received_quantity <= shipped_quantity)
);
-- A supplier's inbox, with and without a status filter; the operator's lists.
CREATE INDEX procurement_tasks_inbox ON procurement_tasks (supplier_id, status, created_at, id);
CREATE INDEX procurement_tasks_supplier ON procurement_tasks (supplier_id, created_at, id);
CREATE INDEX procurement_tasks_status ON procurement_tasks (status, created_at, id);
CREATE INDEX procurement_tasks_created ON procurement_tasks (created_at, id);
-- The order's tasks are served by UNIQUE (order_id, line, attempt).

-- Shipments reported by the supplier and receipts confirmed by the factory,
-- numbered per task so that a repeated write counts once.
CREATE TABLE procurement_movements (
    task_id   uuid NOT NULL REFERENCES procurement_tasks(id),
    kind      text NOT NULL CHECK (kind IN ('SHIPPED','RECEIVED')),
    seq       int NOT NULL CHECK (seq > 0),
    quantity  numeric NOT NULL CHECK (quantity > 0),
    actor_id  uuid,
    at        timestamptz NOT NULL,
    PRIMARY KEY (task_id, kind, seq)
);

-- Every score change with its cause; at most one change of each kind per task.
CREATE TABLE supplier_score_events (
    task_id     uuid NOT NULL REFERENCES procurement_tasks(id),
    kind        text NOT NULL CHECK (kind IN ('ACCEPTED','REJECTED','TIMED_OUT','SHIPPED_ON_TIME','SHIPPED_LATE')),
    supplier_id uuid NOT NULL REFERENCES enterprises(id),
    material    text NOT NULL,
    delta       numeric NOT NULL,
    score_after numeric,
    at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, kind)
);
CREATE INDEX supplier_score_events_supplier ON supplier_score_events (supplier_id, at);

-- A line whose sourcing ran out of suppliers, until the operator resumes it (or
-- the sourcing ends). While any line of an order is held, the order is ON_HOLD.
CREATE TABLE sourcing_holds (
    order_id    uuid NOT NULL REFERENCES orders(id),
    line        int NOT NULL,
    round       int NOT NULL CHECK (round > 0),
    material    text NOT NULL,
    remaining   numeric NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    released_at timestamptz,
    PRIMARY KEY (order_id, line, round)
);
CREATE INDEX sourcing_holds_open ON sourcing_holds (created_at, order_id) WHERE released_at IS NULL;
