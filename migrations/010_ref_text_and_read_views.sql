-- A record's ref has one form everywhere: base64url text, 22 characters for its 16 random bytes,
-- exactly as batches, indicators and matches carry it. (It was bytea here and was converted back
-- and forth in SQL and in code on every trip between records and indicators.)
ALTER TABLE records ALTER COLUMN ref DROP DEFAULT;
ALTER TABLE records DROP CONSTRAINT IF EXISTS records_ref_check;
ALTER TABLE records ALTER COLUMN ref TYPE text COLLATE "C" USING rtrim(translate(encode(ref, 'base64'), '+/', '-_'), '=');
-- 16 bytes: 21 characters and a last one that carries 2 bits (RFC 4648 §3.5, canonical form).
ALTER TABLE records ADD CONSTRAINT records_ref_form CHECK (ref ~ '^[A-Za-z0-9_-]{21}[AQgw]$');
ALTER TABLE records ALTER COLUMN ref SET DEFAULT rtrim(translate(encode(uuid_send(gen_random_uuid()), 'base64'), '+/', '-_'), '=');

ALTER TABLE indicator_outbox ALTER COLUMN ref TYPE text COLLATE "C" USING rtrim(translate(encode(ref, 'base64'), '+/', '-_'), '=');

-- Each table has one owning module (docs/architecture.md, "Tables and their owners"). Where another
-- module reads across in one set-based statement (matching, lookup), it reads these views, which the
-- owner keeps as its published interface, never the owner's tables.

-- records (node/records/): which record a ref is, and its status.
CREATE VIEW record_refs AS
  SELECT id AS record_id, ref, status FROM records;

-- records (node/records/): this member's records by an identifier's canonical form.
CREATE VIEW record_identifier_hits AS
  SELECT ri.type, ri.canonical, r.id AS record_id, r.name, r.kind, r.status, r.categories, r.confidence, r.ref, r.updated_at
    FROM record_identifiers ri JOIN records r ON r.id = ri.record_id
   WHERE ri.canonical IS NOT NULL;

-- indicators (node/indicators/): live indicator rows of every origin, and when the batch that last
-- set each one was created.
CREATE VIEW indicator_rows AS
  SELECT i.origin, i.type, i.digest, i.ref, i.epoch, i.categories, i.status, i.confidence, i.first_seen, i.expires_at, i.seq,
         coalesce(b.created_at, i.updated_at) AS last_seen
    FROM indicators i LEFT JOIN batches b ON b.origin = i.origin AND b.seq = i.seq;
