-- Batches this node refused but keeps for admins to see (DESIGN §2, schema/wire.md §9), beside
-- `roster_alarms`: forks, where an origin signed two different batches at one seq (`fork`), or a
-- batch whose prev names another batch than the one it signed before (`bad_prev`: a fork seen one
-- batch later). The refused JWS, with the batch stored (in `batches`), is the proof: both verify under
-- the origin's key. A batch holds digests and refs only, so this holds no raw identifier either.
CREATE TABLE batch_alarms (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  origin      text NOT NULL,
  seq         bigint NOT NULL CHECK (seq >= 1),
  -- Batch hash of the refused batch, and of the stored batch it contradicts: the one at that seq
  -- (fork), or at seq - 1 (bad_prev).
  hash        text NOT NULL,
  stored_hash text,
  -- The ingest reason: fork or bad_prev.
  reason      text NOT NULL,
  jws         text NOT NULL,
  detected_at timestamptz NOT NULL DEFAULT now(),
  -- One refused batch per origin, seq and reason is proof enough. Keeping every further variant would
  -- let one member fill this table with batches it signs at will; the first one seen stays.
  UNIQUE (origin, seq, reason)
);
