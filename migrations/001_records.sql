-- Records: what this member knows about suspected or confirmed infringers. Local only: nothing in
-- these tables ever leaves the node.

CREATE TABLE records (
  id          uuid PRIMARY KEY,
  -- Insertion order; the keyset for cursor pagination (stable while records are added).
  seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  kind        text NOT NULL CHECK (kind IN ('SELLER', 'SHOP', 'PERSON', 'COMPANY', 'LISTING')),
  name        text NOT NULL,
  categories  text[] NOT NULL DEFAULT '{}',
  status      text NOT NULL CHECK (status IN ('SUSPECTED', 'CONFIRMED', 'DISPUTED', 'CLEARED')),
  confidence  smallint NOT NULL CHECK (confidence BETWEEN 0 AND 100),
  brands      text[] NOT NULL DEFAULT '{}',
  notes       text,
  evidence    text[] NOT NULL DEFAULT '{}',
  external_id text,
  -- Bumped on every change; updateRecord may pass the version it read to refuse lost updates.
  version     integer NOT NULL DEFAULT 1,
  created_at  timestamptz NOT NULL DEFAULT now(),
  created_by  text NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  updated_by  text NOT NULL
);

CREATE INDEX records_status_idx ON records (status, seq);
CREATE INDEX records_kind_idx ON records (kind, seq);
CREATE INDEX records_updated_at_idx ON records (updated_at);
CREATE INDEX records_categories_idx ON records USING gin (categories);
CREATE INDEX records_external_id_idx ON records (external_id) WHERE external_id IS NOT NULL;

CREATE TABLE record_identifiers (
  record_id uuid NOT NULL REFERENCES records (id) ON DELETE CASCADE,
  position  smallint NOT NULL,
  type      text NOT NULL CHECK (type IN ('email', 'phone', 'url', 'domain', 'shop', 'business_id',
              'payment_account', 'bank_account', 'ip', 'device_id', 'name', 'address')),
  value     text NOT NULL,
  PRIMARY KEY (record_id, position)
);

-- Who changed which record, when, and which fields. Kept after a record is deleted.
CREATE TABLE record_changes (
  id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  record_id uuid NOT NULL,
  action    text NOT NULL CHECK (action IN ('create', 'update', 'status', 'delete', 'import')),
  actor     text NOT NULL,
  role      text,
  at        timestamptz NOT NULL DEFAULT now(),
  fields    text[] NOT NULL DEFAULT '{}',
  reason    text
);

CREATE INDEX record_changes_record_idx ON record_changes (record_id, id);
