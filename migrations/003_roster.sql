-- The membership roster (DESIGN §2, schema/roster.md): the validated chain of signed entries, and the
-- alarms raised by entries that were refused but must be seen by admins (forks). Public alliance
-- data only: no record contents, no key material beyond what the signed entries carry.

CREATE TABLE roster_entries (
  -- The entry's seq: 0 for the genesis, then +1 without gaps. The primary key is what keeps two
  -- processes from appending two different entries at the same place.
  seq        bigint PRIMARY KEY CHECK (seq >= 0),
  -- entryHash of the payload (base64url SHA-256, 43 characters).
  hash       text NOT NULL UNIQUE CHECK (length(hash) = 43),
  type       text NOT NULL,
  -- The exact signed entry (RFC 8785 General JSON JWS, serializeSignedEntry): replayed at every start.
  signed     text NOT NULL,
  -- The entry's createdAt (set by the admins), and when this node stored it.
  created_at timestamptz NOT NULL,
  stored_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE roster_alarms (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  seq         bigint NOT NULL CHECK (seq >= 0),
  -- Hash of the refused entry, and of the entry applied at that seq (for a fork).
  hash        text NOT NULL,
  stored_hash text,
  -- The RosterError reason (e.g. fork).
  reason      text NOT NULL,
  signed      text NOT NULL,
  detected_at timestamptz NOT NULL DEFAULT now(),
  -- The same refused entry seen again (from another peer, a resubmitted file) is one alarm.
  UNIQUE (hash, reason)
);

CREATE INDEX roster_alarms_detected_idx ON roster_alarms (detected_at);
