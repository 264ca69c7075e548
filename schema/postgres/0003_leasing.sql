-- Equipment leasing: the registry, lease contracts, metered usage, invoices,
-- the double-entry ledger and payments.
CREATE TABLE equipment (
    id          uuid PRIMARY KEY,
    lessor_id   uuid NOT NULL REFERENCES enterprises(id),
    serial      text NOT NULL UNIQUE CHECK (length(serial) BETWEEN 1 AND 100),
    kind        text NOT NULL CHECK (length(kind) BETWEEN 1 AND 100),
    meters      text[] NOT NULL,
    locked_at   timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX equipment_lessor ON equipment (lessor_id, created_at, id);

CREATE TABLE lease_contracts (
    id          uuid PRIMARY KEY,
    number      bigserial UNIQUE,
    lessor_id   uuid NOT NULL REFERENCES enterprises(id),
    lessee_id   uuid NOT NULL REFERENCES enterprises(id),
    currency    text NOT NULL,
    terms       jsonb NOT NULL,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL CHECK (ends_at > starts_at),
    status      text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE','ENDED','TERMINATED')),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lease_contracts_lessor ON lease_contracts (lessor_id, created_at, id);
CREATE INDEX lease_contracts_lessee ON lease_contracts (lessee_id, created_at, id);

CREATE TABLE contract_equipment (
    contract_id  uuid NOT NULL REFERENCES lease_contracts(id),
    equipment_id uuid NOT NULL REFERENCES equipment(id),
    PRIMARY KEY (contract_id, equipment_id)
);
CREATE INDEX contract_equipment_equipment ON contract_equipment (equipment_id);

-- Every usage event counted exactly once: the primary key is the truth of dedup.
CREATE TABLE usage_events (
    equipment_id uuid NOT NULL REFERENCES equipment(id),
    event_id     text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 200),
    meter        text NOT NULL,
    value        numeric NOT NULL,
    at           timestamptz NOT NULL,
    seq          bigint NOT NULL,
    contract_id  uuid NOT NULL REFERENCES lease_contracts(id),
    period_key   text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    -- set when the event is rated: into its period's invoice, or later as an adjustment
    invoice_id   uuid,
    PRIMARY KEY (equipment_id, event_id)
);
CREATE INDEX usage_events_period ON usage_events (contract_id, period_key);
CREATE INDEX usage_events_unbilled ON usage_events (contract_id) WHERE invoice_id IS NULL;

CREATE TABLE invoices (
    id            uuid PRIMARY KEY,
    number        bigserial UNIQUE,
    contract_id   uuid NOT NULL REFERENCES lease_contracts(id),
    kind          text NOT NULL CHECK (kind IN ('PERIOD','INSTANT')),
    period_key    text NOT NULL,
    -- one period invoice per contract and period; instant charges carry their job id
    charge_key    text NOT NULL,
    currency      text NOT NULL,
    body          jsonb NOT NULL,
    total         numeric NOT NULL,
    platform_fee  numeric NOT NULL,
    lessor_share  numeric NOT NULL,
    issued_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (contract_id, charge_key)
);
CREATE INDEX invoices_contract ON invoices (contract_id, issued_at, id);

-- Double-entry: every posting's entries sum to zero (checked by the writer).
CREATE TABLE ledger_entries (
    id           bigserial PRIMARY KEY,
    posting_key  text NOT NULL,
    account      text NOT NULL,
    amount       numeric NOT NULL,
    currency     text NOT NULL,
    contract_id  uuid NOT NULL REFERENCES lease_contracts(id),
    invoice_id   uuid REFERENCES invoices(id),
    at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (posting_key, account)
);
CREATE INDEX ledger_contract ON ledger_entries (contract_id, id);

CREATE TABLE payments (
    id           uuid PRIMARY KEY,
    contract_id  uuid NOT NULL REFERENCES lease_contracts(id),
    amount       numeric NOT NULL CHECK (amount > 0),
    currency     text NOT NULL,
    reference    text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (contract_id, reference)
);
