-- Identifiers keep their canonical form (schema/identifiers.md) beside the raw value: it is what
-- digests are derived from and what local matching compares. Records get the region used for
-- national phone numbers and ids, and `ref`, the random 128-bit handle their indicators carry.

ALTER TABLE records ADD COLUMN region text CHECK (region ~ '^[A-Z]{2}$');

-- Rows from before this migration get a random handle here; the node writes its own for new rows.
ALTER TABLE records ADD COLUMN ref bytea NOT NULL DEFAULT uuid_send(gen_random_uuid())
  CHECK (octet_length(ref) = 16);
CREATE UNIQUE INDEX records_ref_idx ON records (ref);

-- NULL only for identifiers stored before normalisation existed; the node fills them in at start.
ALTER TABLE record_identifiers ADD COLUMN canonical text;
CREATE INDEX record_identifiers_canonical_idx ON record_identifiers (type, canonical);
