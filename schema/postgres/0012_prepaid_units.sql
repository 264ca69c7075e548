-- Prepaid meter units on a lease (200 spindle-hours bought ahead, or granted):
-- usage of the meter beyond its free allowance draws them before it is
-- billed. What each invoice drew is on its PREPAID_UNITS lines (and, after a
-- correction, on its latest note's re-rated lines), so the units left are the
-- units topped up less those lines; there is no second copy to drift.
-- A top-up sold for a price is invoiced at once as a PREPAID invoice.
CREATE TABLE unit_topups (
    id           uuid PRIMARY KEY,
    contract_id  uuid NOT NULL REFERENCES lease_contracts(id),
    reference    text NOT NULL CHECK (length(reference) BETWEEN 1 AND 200),
    meter        text NOT NULL,
    units        numeric NOT NULL CHECK (units > 0),
    price        numeric NOT NULL CHECK (price >= 0),
    invoice_id   uuid REFERENCES invoices(id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (contract_id, reference)
);
CREATE INDEX unit_topups_contract ON unit_topups (contract_id, meter);

-- The highest share of each meter's prepaid units used (80 or 100) the
-- timeline has announced, per filling: {"spindle_hours": 80}.
ALTER TABLE lease_contracts ADD COLUMN units_alerted jsonb NOT NULL DEFAULT '{}';

ALTER TABLE invoices DROP CONSTRAINT invoices_kind_check;
ALTER TABLE invoices ADD CONSTRAINT invoices_kind_check CHECK (kind IN ('PERIOD', 'INSTANT', 'PREPAID'));
