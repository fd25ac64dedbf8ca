-- Cheaper ingest of peer batches: every indicator row a batch sets pays for each index of
-- `indicators` and for its batch's JWS in `batches`, so keep only what the queries need, in the
-- cheapest form that still serves them.

-- Digests and refs are base64url (ASCII only). Byte order is all their comparisons need; under the
-- database's collation (en_US.UTF-8, C.UTF-8 ...) every index comparison goes through the locale's
-- rules instead. Values stay base64url text, exactly as on the wire, for every reader.
ALTER TABLE indicators
  ALTER COLUMN digest TYPE text COLLATE "C",
  ALTER COLUMN ref TYPE text COLLATE "C";

-- Keyed by digest first: lookups and matching go by (digest, type) and find their rows through the
-- primary key, so the separate digest index (one more random insert per row) goes. (origin, ref)
-- stays for an actor's rows (matching, the publisher's own rows), expires_at for expiry.
ALTER TABLE indicators DROP CONSTRAINT indicators_pkey;
ALTER TABLE indicators ADD PRIMARY KEY (digest, type, origin, ref);
DROP INDEX indicators_digest_idx;

-- The matcher joins matches to indicators on these; an index serves a join only under the same
-- collation.
ALTER TABLE matches
  ALTER COLUMN record_ref TYPE text COLLATE "C",
  ALTER COLUMN ref TYPE text COLLATE "C";

-- A stored JWS is ~0.4 MB for 1,000 items: lz4 compresses it about as well as the default pglz at
-- a fraction of the CPU. Servers built without lz4 (PGlite) keep pglz.
DO $$
BEGIN
  ALTER TABLE batches ALTER COLUMN jws SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
  NULL;
END $$;
