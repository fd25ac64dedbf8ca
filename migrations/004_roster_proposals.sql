-- Roster proposals of the online admin workflow (GraphQL proposeRosterChange, approveRosterProposal):
-- the next roster entry as it goes round the admins of this node, signed by the node's admin key when
-- one is configured. A proposal is for one seq (head + 1 when it was made): once another entry is
-- applied at that seq it is STALE. Public alliance data only: signed entries carry no private key.

CREATE TABLE roster_proposals (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  seq         bigint NOT NULL CHECK (seq > 0),
  -- entryHash of the proposal's payload: equal to the stored entry's hash once it is applied.
  hash        text NOT NULL CHECK (length(hash) = 43),
  type        text NOT NULL,
  -- The signed entry so far (serializeSignedEntry): no signature, then one more per approval.
  signed      text NOT NULL,
  -- The token subject that proposed it.
  created_by  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  status      text NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'SUBMITTED', 'REJECTED', 'STALE')),
  -- The roster's refusal (RosterError reason: message) of a REJECTED proposal.
  reason      text
);

CREATE INDEX roster_proposals_status_idx ON roster_proposals (status, id);
