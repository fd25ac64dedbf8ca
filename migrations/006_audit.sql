-- The audit trail (DESIGN §1): who asked this node about which identifiers, and when. One row per
-- audited action: a lookup now, record exports and other sensitive reads later (`action` names them).
-- Identifiers appear only as the keyed digests the node derived from them (`digests`): never a raw
-- value or a canonical form, here or in `details`, so the audit log is as safe to keep as the
-- indicators are. Rows older than ALLIANCE_AUDIT_RETENTION_DAYS are deleted by the node.

CREATE TABLE audit_log (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- e.g. 'lookup', 'audit.search'; dotted lower-case names, so new actions need no migration.
  action           text NOT NULL CHECK (action ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$'),
  -- The token's subject and roles (comma-separated) at the time.
  subject          text NOT NULL,
  role             text NOT NULL,
  at               timestamptz NOT NULL DEFAULT now(),
  -- How many identifiers the action was about (valid or not).
  identifier_count integer NOT NULL DEFAULT 0 CHECK (identifier_count >= 0),
  -- Base64url HMAC digests of those identifiers, under every epoch key the action used.
  digests          text[] NOT NULL DEFAULT '{}',
  -- What the action found (for a lookup: other members' matching indicators plus own records).
  hit_count        integer NOT NULL DEFAULT 0 CHECK (hit_count >= 0),
  -- Counts, epochs, region, request id: never raw values.
  details          jsonb NOT NULL DEFAULT '{}'::jsonb
);

-- Newest-first pages are read by id; retention deletes by time; "who asked about this identifier"
-- goes by digest.
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_subject_idx ON audit_log (subject, id);
CREATE INDEX audit_log_digests_idx ON audit_log USING gin (digests);
