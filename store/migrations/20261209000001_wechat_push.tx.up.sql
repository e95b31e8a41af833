-- wechat_pushes records every message WeChat's message push delivered
-- (/wechat/push/{appid}), keyed by the message's identity, so that a retry
-- (WeChat retries up to three times when it has no answer within 5 s) is
-- answered as handled without being handled twice. The record commits in
-- the transaction that does the message's work, so it exists exactly when
-- the work is done. message_key is "msg:" and WeChat's MsgId when the
-- message has one, else "sha256:" and the hash of the fields that make an
-- event itself (see push.MessageKey). (appid, timestamp, nonce) is unique
-- too: a signature seen with one message cannot carry another (plaintext
-- mode signs the query only, not the body).
CREATE TABLE wechat_pushes (
    appid       text NOT NULL,
    message_key text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    msg_type    text NOT NULL,
    event       text NOT NULL DEFAULT '',
    openid      text,
    user_id     uuid,
    push_ts     bigint NOT NULL,
    nonce       text NOT NULL,
    outcome     text NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(detail) = 'object'),
    PRIMARY KEY (appid, message_key)
);

--bun:split

CREATE UNIQUE INDEX wechat_pushes_signature_key ON wechat_pushes (appid, push_ts, nonce);

--bun:split

-- Old records are purged (they only need to outlive WeChat's retries).
CREATE INDEX wechat_pushes_received_at_idx ON wechat_pushes (received_at);

--bun:split

-- A media check verdict is looked up by its trace_id.
CREATE INDEX wechat_pushes_trace_id_idx ON wechat_pushes ((detail->>'traceId')) WHERE event = 'wxa_media_check';
