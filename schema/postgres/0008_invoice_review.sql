-- A period invoice is first a DRAFT for a review window, during which late
-- usage of its period is rated into it and finance may finalize it early;
-- a FINALIZED invoice is immutable and posted to the ledger. Invoices issued
-- before this migration were final when issued.
ALTER TABLE invoices
    ADD COLUMN status text NOT NULL DEFAULT 'FINALIZED' CHECK (status IN ('DRAFT', 'FINALIZED')),
    ADD COLUMN review_until timestamptz,
    ADD COLUMN finalized_at timestamptz DEFAULT now();
UPDATE invoices SET finalized_at = issued_at;
ALTER TABLE invoices ADD CONSTRAINT invoices_final_has_time CHECK ((status = 'FINALIZED') = (finalized_at IS NOT NULL));
-- The lease workflow and finance find a contract's open draft.
CREATE INDEX invoices_drafts ON invoices (contract_id) WHERE status = 'DRAFT';
