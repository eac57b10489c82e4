-- An upload is abandoned when nobody touched it for a while, not when it is old: a long upload
-- over a slow link stays alive as long as chunks, presign requests, status requests or a
-- `complete` keep arriving (each sets `last_activity_at`).

ALTER TABLE uploads ADD COLUMN last_activity_at timestamptz;
UPDATE uploads u SET last_activity_at = greatest(
    u.created_at,
    (SELECT max(c.received_at) FROM upload_chunks c WHERE c.upload_id = u.id)
);
ALTER TABLE uploads
    ALTER COLUMN last_activity_at SET NOT NULL,
    ALTER COLUMN last_activity_at SET DEFAULT now();

-- The cleanup finds idle open uploads by their last activity, no longer by age.
DROP INDEX uploads_open_idx;
CREATE INDEX uploads_idle_idx ON uploads (last_activity_at) WHERE state = 'open';
-- The per-user quota of open uploads counts them.
CREATE INDEX uploads_open_by_user_idx ON uploads (tenant_id, user_id) WHERE state = 'open';
