-- The exchange (DESIGN §2, §4): signed batches of every origin (this member's own included), the
-- live indicators they add, and the outbox of records whose indicators must be published. Nothing
-- here holds a raw identifier: digests and refs only.

-- Every batch stored exactly as signed, gapless per origin from seq 1: what this node relays and
-- serves to peers catching up. `published_at` is when the batch was out on the network: the time
-- of receipt for a received batch, the time it was handed to gossip for this node's own.
CREATE TABLE batches (
  origin       text NOT NULL,
  seq          bigint NOT NULL CHECK (seq >= 1),
  hash         text NOT NULL UNIQUE,
  prev         text,
  epoch        integer NOT NULL,
  kid          text NOT NULL,
  created_at   timestamptz NOT NULL,
  item_count   integer NOT NULL,
  jws          text NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz,
  PRIMARY KEY (origin, seq)
);

-- This node's own batches not yet handed to gossip (received batches are stored as published), so
-- the publisher finds them after a restart without reading the chains.
CREATE INDEX batches_unpublished_idx ON batches (origin, seq) WHERE published_at IS NULL;

-- Live indicators, one row per (origin, type, digest, ref): an add upserts it, a retract deletes it.
-- `digest` and `ref` are base64url as on the wire. `seq` is the batch that last set the row.
CREATE TABLE indicators (
  origin     text NOT NULL,
  type       text NOT NULL,
  digest     text NOT NULL,
  ref        text NOT NULL,
  epoch      integer NOT NULL,
  categories text[] NOT NULL,
  status     text NOT NULL,
  confidence smallint NOT NULL,
  first_seen date NOT NULL,
  expires_at timestamptz NOT NULL,
  seq        bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (origin, type, digest, ref)
);

-- Lookups and matching go by digest; this node's own rows are read by ref when a record changes.
CREATE INDEX indicators_digest_idx ON indicators (digest);
CREATE INDEX indicators_origin_ref_idx ON indicators (origin, ref);
CREATE INDEX indicators_expires_idx ON indicators (expires_at);

-- Records whose indicators must be (re)computed and published, by ref. Filled by a trigger in the
-- same transaction as every record write, so a change committed is a change that will be published.
CREATE TABLE indicator_outbox (
  ref       bytea PRIMARY KEY,
  queued_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION queue_record_indicators() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' OR TG_OP = 'UPDATE' THEN
    INSERT INTO indicator_outbox (ref) SELECT DISTINCT ref FROM new_rows ON CONFLICT DO NOTHING;
  END IF;
  IF TG_OP = 'DELETE' OR TG_OP = 'UPDATE' THEN
    INSERT INTO indicator_outbox (ref) SELECT DISTINCT ref FROM old_rows ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END $$;

-- Statement-level with transition tables: a bulk import queues its refs in one statement.
CREATE TRIGGER records_queue_insert AFTER INSERT ON records
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION queue_record_indicators();
CREATE TRIGGER records_queue_update AFTER UPDATE ON records
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION queue_record_indicators();
CREATE TRIGGER records_queue_delete AFTER DELETE ON records
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION queue_record_indicators();

-- Identifier changes touch record_identifiers; the record write that goes with them bumps
-- `records.version`, which fires the update trigger above. Records that exist before this migration
-- are queued here, so their indicators are published once the node has an epoch key.
INSERT INTO indicator_outbox (ref) SELECT ref FROM records ON CONFLICT DO NOTHING;
