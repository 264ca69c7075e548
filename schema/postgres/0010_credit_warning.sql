-- Whether the lessee has been warned that its balance reached 80% of the
-- credit limit; cleared when the balance falls below that again, so each
-- approach to the limit warns once.
ALTER TABLE lease_contracts ADD COLUMN credit_warned boolean NOT NULL DEFAULT false;
