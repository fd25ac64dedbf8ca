-- Match alerts (DESIGN §2 "Match"): one of this member's records holds an identifier whose keyed
-- digest is also a live indicator of another member. One row per (record, origin, ref): the record
-- here, the other member's actor there. The record's identifiers appear only as the digests of this
-- node's own indicators (type, digest, epoch), never as values or canonical forms, so the table is
-- as safe to keep as the indicators are. node/matching/matcher.ts keeps it current, in the same
-- transaction as every change of `indicators`.

CREATE TABLE matches (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- No foreign key: a record delete removes its matches through the trigger below, and the matcher
  -- never has to wait for a lock on a record that is being written.
  record_id    uuid NOT NULL,
  -- The record's ref as its own indicators carry it (base64url): what the matcher joins on.
  record_ref   text NOT NULL,
  -- The other member and its handle of the actor (indicators.origin, indicators.ref).
  origin       text NOT NULL,
  ref          text NOT NULL,
  -- NEW until an analyst decides (CONFIRMED, DISMISSED); RETRACTED once no live indicator of the
  -- (origin, ref) matches the record; a RETRACTED match that matches again is NEW again.
  state        text NOT NULL DEFAULT 'NEW' CHECK (state IN ('NEW', 'CONFIRMED', 'DISMISSED', 'RETRACTED')),
  -- Identifier types that match (distinct, sorted), and the record's own indicators behind them:
  -- [{type, digest, epoch}], sorted. A RETRACTED match keeps the last ones that matched.
  types        text[] NOT NULL,
  identifiers  jsonb NOT NULL,
  -- What the other member's newest matching indicator says about its actor.
  categories   text[] NOT NULL,
  status       text NOT NULL,
  confidence   smallint NOT NULL,
  created_at   timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL,
  -- The last acknowledgeMatch: when, by which token subject, with which note.
  decided_at   timestamptz,
  decided_by   text,
  note         text,
  retracted_at timestamptz,
  UNIQUE (record_id, origin, ref)
);

-- The matcher finds matches by the record's ref (local writes) and by (origin, ref) (peer batches);
-- the API pages by id within a state and filters by update time.
CREATE INDEX matches_record_ref_idx ON matches (record_ref);
CREATE INDEX matches_origin_ref_idx ON matches (origin, ref);
CREATE INDEX matches_state_idx ON matches (state, id);
CREATE INDEX matches_updated_at_idx ON matches (updated_at);

-- A deleted record's matches go with it, in the delete's own transaction (every delete path).
-- Decisions taken on them stay in the audit log.
CREATE FUNCTION delete_record_matches() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM matches m USING old_rows o WHERE m.record_id = o.id;
  RETURN NULL;
END $$;

CREATE TRIGGER records_delete_matches AFTER DELETE ON records
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION delete_record_matches();

-- Where matching stands beyond what each transaction does: one row.
CREATE TABLE matching_state (
  id             smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  -- When every live indicator was last matched in one pass. NULL until the first pass (indicators
  -- stored before matching existed) and again after a matching step failed: the node then runs a
  -- full pass.
  caught_up_at   timestamptz,
  -- The origins that were ACTIVE at the last pass: an origin ACTIVE now but not then (reinstated,
  -- also while this node was down) is matched in full once, since its indicators raised nothing
  -- while it was suspended.
  active_origins text[] NOT NULL DEFAULT '{}'
);

INSERT INTO matching_state DEFAULT VALUES;
