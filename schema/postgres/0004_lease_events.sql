-- The timeline of a lease that lessor and lessee follow (invoices, locks, payments).
CREATE TABLE lease_events (
    contract_id uuid NOT NULL REFERENCES lease_contracts(id),
    seq         bigserial,
    type        text NOT NULL,
    message     text NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}',
    at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (contract_id, seq)
);
