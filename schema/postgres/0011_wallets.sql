-- Prepaid money on a lease: a top-up is cash the lessor's finance received
-- ahead of usage, held on the lessee's wallet account until invoices draw on
-- it. wallet_alerted is the highest share of the wallet used (0, 80 or 100
-- percent) the timeline has announced, so each threshold is announced once
-- per filling.
CREATE TABLE wallet_topups (
    id           uuid PRIMARY KEY,
    contract_id  uuid NOT NULL REFERENCES lease_contracts(id),
    reference    text NOT NULL CHECK (length(reference) BETWEEN 1 AND 200),
    amount       numeric NOT NULL CHECK (amount > 0),
    currency     text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (contract_id, reference)
);
ALTER TABLE lease_contracts ADD COLUMN wallet_alerted int NOT NULL DEFAULT 0 CHECK (wallet_alerted IN (0, 80, 100));
