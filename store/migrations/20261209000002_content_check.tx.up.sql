-- Content security (issue 20): where each user's nickname and avatar stand
-- in WeChat's checks (msgSecCheck, mediaCheckAsync) and an admin's review,
-- and the image checks whose verdict WeChat pushes later.
--
-- A state is about one value: the nickname or avatar_url kept beside it.
-- Once the user's value differs (changed by another path: a login's legacy
-- profile, an operator, a push clearing it), the state no longer applies
-- and the value counts as UNCHECKED. A missing row is UNCHECKED too, so
-- users from before this migration need none.
CREATE TABLE user_moderation (
    user_id        uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    nickname       text,
    nickname_state text CHECK (nickname_state IN ('APPROVED', 'REVIEW')),
    nickname_label integer,
    nickname_trace text,
    avatar_url     text,
    avatar_state   text CHECK (avatar_state IN ('PENDING', 'APPROVED', 'REVIEW')),
    avatar_label   integer,
    avatar_trace   text,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

--bun:split

-- The users filter "needs review" reads only these few rows.
CREATE INDEX user_moderation_review_idx ON user_moderation (user_id)
    WHERE nickname_state = 'REVIEW' OR avatar_state = 'REVIEW';

--bun:split

-- One row per mediaCheckAsync call, keyed by WeChat's trace_id. The upload
-- writes user_id and avatar_url; the verdict (pushed as wxa_media_check)
-- writes suggest, label and decided_at. Either may come first: a verdict
-- for a trace_id not yet recorded waits here for the upload to record it.
CREATE TABLE media_checks (
    trace_id   text PRIMARY KEY CHECK (length(trace_id) BETWEEN 1 AND 128),
    app_id     text NOT NULL,
    user_id    uuid REFERENCES users (id) ON DELETE CASCADE,
    avatar_url text,
    suggest    text CHECK (suggest IN ('pass', 'review', 'risky')),
    label      integer,
    created_at timestamptz NOT NULL DEFAULT now(),
    decided_at timestamptz
);

--bun:split

CREATE INDEX media_checks_user_id_idx ON media_checks (user_id);
