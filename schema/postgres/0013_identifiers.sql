-- Industrial identifiers: the enterprise prefixes the operator assigns under the
-- platform's node prefix, the handles minted under them with their typed values
-- (the Handle record), and the genealogy the journey records as EPCIS events.

-- An enterprise's prefix, <node prefix>.<code>; assigned once, never changed
-- (identifiers under it are permanent).
CREATE TABLE enterprise_prefixes (
    enterprise_id  uuid PRIMARY KEY REFERENCES enterprises(id),
    prefix         text NOT NULL CHECK (length(prefix) BETWEEN 1 AND 64),
    assigned_by    uuid,
    assigned_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX enterprise_prefixes_prefix ON enterprise_prefixes (lower(prefix));

-- A minted identifier. key is its lower-case form (uniqueness is
-- case-insensitive), handle the original case. mint_key names what minted it
-- (a unit of a production order, a shipped lot, a batch request) so minting
-- the same thing again finds the same handle.
CREATE TABLE handles (
    key          text PRIMARY KEY CHECK (key = lower(key) AND length(key) BETWEEN 3 AND 255),
    handle       text NOT NULL CHECK (lower(handle) = key),
    owner_id     uuid NOT NULL REFERENCES enterprises(id),
    kind         text NOT NULL CHECK (kind IN ('UNIT','LOT','EQUIPMENT','PACKAGE','LOCATION','OTHER')),
    order_id     uuid REFERENCES orders(id),
    mint_key     text CHECK (length(mint_key) BETWEEN 1 AND 300),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX handles_mint_key ON handles (owner_id, mint_key) WHERE mint_key IS NOT NULL;
CREATE INDEX handles_owner ON handles (owner_id, created_at, key);
CREATE INDEX handles_order ON handles (order_id, kind) WHERE order_id IS NOT NULL;

-- The values of a record (RFC 3651 section 3.1), each readable by everyone
-- (PUBLIC), by the owning enterprise (OWNER), or by the owner and the named
-- partner enterprises (PARTNERS).
CREATE TABLE handle_values (
    handle_key   text NOT NULL REFERENCES handles(key),
    idx          int  NOT NULL CHECK (idx > 0),
    type         text NOT NULL CHECK (length(type) BETWEEN 1 AND 128),
    data         text NOT NULL CHECK (length(data) BETWEEN 1 AND 255),
    ttl          int  NOT NULL CHECK (ttl >= 0),
    readable     text NOT NULL CHECK (readable IN ('PUBLIC','OWNER','PARTNERS')),
    partners     uuid[] NOT NULL DEFAULT '{}',
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (handle_key, idx)
);

-- The journey's serial numbers, one counter per enterprise and series (units
-- of a product, lots, packages).
CREATE TABLE handle_counters (
    owner_id  uuid NOT NULL REFERENCES enterprises(id),
    series    text NOT NULL CHECK (length(series) BETWEEN 1 AND 100),
    last      bigint NOT NULL CHECK (last > 0),
    PRIMARY KEY (owner_id, series)
);

-- A batch minted on request, idempotent on (owner, key): the same key with the
-- same request answers the same handles; with another request it is refused.
CREATE TABLE mint_batches (
    owner_id     uuid NOT NULL REFERENCES enterprises(id),
    key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    request      text NOT NULL,
    handles      text[] NOT NULL,
    created_by   uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner_id, key)
);

-- Serial-numbered units of a production order as they move through its
-- stages: done_seq is the last stage they passed, scrapped_seq the stage that
-- scrapped them.
CREATE TABLE production_units (
    production_order_id  uuid NOT NULL REFERENCES production_orders(id),
    serial               int  NOT NULL CHECK (serial > 0),
    handle_key           text NOT NULL REFERENCES handles(key),
    done_seq             int  NOT NULL DEFAULT 0,
    scrapped_seq         int,
    PRIMARY KEY (production_order_id, serial)
);

-- EPCIS 2.0 events, stored once: id is derived from the event's business key.
-- body is the event as it is exported (JSON-LD, without the document around it).
CREATE TABLE epcis_events (
    id             text PRIMARY KEY,
    event_type     text NOT NULL CHECK (event_type IN ('ObjectEvent','AggregationEvent','TransformationEvent')),
    action         text CHECK (action IN ('ADD','OBSERVE','DELETE')),
    biz_step       text NOT NULL,
    event_time     timestamptz NOT NULL,
    record_time    timestamptz NOT NULL DEFAULT now(),
    order_id       uuid REFERENCES orders(id),
    recorded_by    uuid REFERENCES enterprises(id),
    body           jsonb NOT NULL,
    declared_error jsonb
);
CREATE INDEX epcis_events_order ON epcis_events (order_id, event_time, id);
CREATE INDEX epcis_events_time ON epcis_events (event_time, id);

-- Which identifiers an event names, and how: an epcList member (EPC), an
-- aggregation's parent or child, a transformation's input or output, the
-- readPoint.
CREATE TABLE epcis_event_ids (
    handle_key  text NOT NULL,
    role        text NOT NULL CHECK (role IN ('EPC','PARENT','CHILD','INPUT','OUTPUT','READ_POINT')),
    event_id    text NOT NULL REFERENCES epcis_events(id),
    event_time  timestamptz NOT NULL,
    PRIMARY KEY (handle_key, event_time, event_id, role)
);
CREATE INDEX epcis_event_ids_event ON epcis_event_ids (event_id);

-- The genealogy: what went into what. INPUT: a lot or unit went into a unit;
-- MACHINE: a unit was made on a machine; PACKED: a unit was packed into a
-- package. Traced downstream by parent, upstream by child.
CREATE TABLE genealogy_edges (
    parent_key  text NOT NULL,
    child_key   text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('INPUT','MACHINE','PACKED')),
    event_id    text NOT NULL,
    PRIMARY KEY (parent_key, child_key, kind)
);
CREATE INDEX genealogy_edges_child ON genealogy_edges (child_key, parent_key);

-- Recalls: what was recalled, why and by whom, and what it reached.
CREATE TABLE recalls (
    id            uuid PRIMARY KEY,
    handle_key    text NOT NULL REFERENCES handles(key),
    reason        text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    started_by    uuid,
    enterprise_id uuid REFERENCES enterprises(id),
    affected      int NOT NULL,
    orders        uuid[] NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recalls_created ON recalls (created_at, id);
