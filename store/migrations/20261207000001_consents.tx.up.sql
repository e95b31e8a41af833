-- consents records each acceptance of the privacy policy and terms
-- (acceptPolicy, POLICY_VERSION): who accepted which version, when, from
-- where. Append-only: rows are inserted, never updated (PIPL asks that
-- consent be provable), except that a user merged into another (one person,
-- by unionid) hands theirs to the survivor. A user's current version is
-- their newest row.
CREATE TABLE consents (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    version     text NOT NULL CHECK (version <> ''),
    accepted_at timestamptz NOT NULL DEFAULT now(),
    ip          inet
);

--bun:split

-- A user's newest acceptance, for User.policyVersion and the export.
CREATE INDEX consents_user_id_accepted_at_idx ON consents (user_id, accepted_at DESC, id DESC);
