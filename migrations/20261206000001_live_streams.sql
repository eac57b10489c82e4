-- Live streams (issue 18, part 2 and the state machine of part 3).
--
-- A stream is an editor's channel to go live on: its key, whether its recording becomes a VOD,
-- and where it stands. The key itself is never stored: it is derived from the server's secret,
-- the stream and `key_generation` (HMAC-SHA256, `accounts::stream_keys`), so the studio can
-- show it again, and only its SHA-256 is kept here for the publish webhook's one indexed
-- lookup. Regenerating bumps the generation, and the old key's hash matches nothing at once.
CREATE TYPE live_state AS ENUM ('idle', 'live', 'reconnecting', 'ended');

CREATE TABLE live_streams (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    owner_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title           text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    key_generation  integer NOT NULL DEFAULT 1 CHECK (key_generation > 0),
    key_hash        bytea NOT NULL CHECK (length(key_hash) = 32),
    -- The recording becomes a draft talk when the stream ends (part 6).
    record          boolean NOT NULL DEFAULT true,
    state           live_state NOT NULL DEFAULT 'idle',
    -- One live session spans reconnects within the window; a new one starts after `ended`.
    session_id      uuid,
    -- The ingest's id of the connection publishing now (nginx-rtmp's clientid, MediaMTX's id):
    -- a second publisher is refused, and only this one's end moves the state.
    publisher       text CHECK (length(publisher) <= 200),
    live_since      timestamptz,
    disconnected_at timestamptz,
    ended_at        timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((state IN ('live', 'reconnecting')) = (session_id IS NOT NULL AND live_since IS NOT NULL)),
    CHECK ((state = 'live') = (publisher IS NOT NULL)),
    CHECK ((state = 'reconnecting') = (disconnected_at IS NOT NULL))
);

CREATE UNIQUE INDEX live_streams_key_hash_idx ON live_streams (key_hash);
CREATE INDEX live_streams_tenant_owner_idx ON live_streams (tenant_id, owner_id, created_at DESC);
-- The expiry of the reconnect window reads only the streams waiting in it.
CREATE INDEX live_streams_reconnecting_idx ON live_streams (disconnected_at)
    WHERE state = 'reconnecting';
