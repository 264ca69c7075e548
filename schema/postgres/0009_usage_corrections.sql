-- Corrections of recorded usage: an event is voided (with the correction
-- that voided it), a corrected value is a new event; a correction that
-- touches a finalized period invoice issues a numbered credit or debit note
-- against it, posted like an invoice.
CREATE TABLE usage_corrections (
    id            uuid PRIMARY KEY,
    contract_id   uuid NOT NULL REFERENCES lease_contracts(id),
    -- the caller's idempotency key: a repeated key is the same correction
    key           text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    reason        text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    requested_by  uuid,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (contract_id, key)
);

ALTER TABLE usage_events
    ADD COLUMN voided_by uuid REFERENCES usage_corrections(id),
    ADD COLUMN voided_at timestamptz,
    ADD CONSTRAINT usage_events_void_whole CHECK ((voided_by IS NULL) = (voided_at IS NULL));

CREATE TABLE invoice_notes (
    id             uuid PRIMARY KEY,
    number         bigserial UNIQUE,
    contract_id    uuid NOT NULL REFERENCES lease_contracts(id),
    invoice_id     uuid NOT NULL REFERENCES invoices(id),
    correction_id  uuid NOT NULL REFERENCES usage_corrections(id),
    kind           text NOT NULL CHECK (kind IN ('CREDIT', 'DEBIT')),
    currency       text NOT NULL,
    body           jsonb NOT NULL,
    -- signed: a credit note's amounts are negative
    total          numeric NOT NULL,
    tax            numeric NOT NULL,
    gross          numeric NOT NULL,
    issued_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (correction_id, invoice_id)
);
CREATE INDEX invoice_notes_invoice ON invoice_notes (invoice_id, number);
CREATE INDEX invoice_notes_contract ON invoice_notes (contract_id, issued_at, id);
