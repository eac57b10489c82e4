-- A video becomes watchable while it is still transcoding: once every rung has its first
-- segments, the worker points `master_key` at an interim master playlist (bitrates from the
-- ladder's targets, rung playlists of type EVENT that grow as ffmpeg writes them) and the video
-- stays `processing` until the final VOD playlists replace them and it turns `ready`
-- (worker/src/transcode.rs, worker/src/progressive.rs).
ALTER TABLE videos
    -- When the video first became watchable (its interim master published, or the final one
    -- for a transcode that finished before that).
    ADD COLUMN playable_at timestamptz,
    -- Milliseconds every rung's growing playlist lists, while `master_key` names an interim
    -- master; NULL once the master is final (or there is none).
    ADD COLUMN available_ms bigint CHECK (available_ms >= 0),
    ADD CONSTRAINT videos_interim_has_master CHECK (available_ms IS NULL OR master_key IS NOT NULL);

-- A transcode that ends without finishing (discarded, cancelled — a crashed last attempt among
-- them) also detaches an interim master it left behind: a failed video is never half playable.
-- The rest is migrations/20261201000002_transcode_outcomes.sql unchanged.
CREATE OR REPLACE FUNCTION transcode_job_moves_video() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    video uuid := (NEW.payload ->> 'video_id')::uuid;
BEGIN
    IF NEW.state IN ('discarded', 'cancelled') THEN
        UPDATE videos SET state = 'failed', eta_at = NULL,
               master_key = CASE WHEN available_ms IS NULL THEN master_key END,
               playable_at = CASE WHEN available_ms IS NULL THEN playable_at END,
               available_ms = NULL,
               failure_reason = left(CASE NEW.state
                   WHEN 'cancelled' THEN 'the transcode was cancelled'
                   ELSE 'transcoding failed: ' || coalesce(
                       NEW.errors[cardinality(NEW.errors)] ->> 'error', 'no error was recorded')
               END, 4000)
         WHERE tenant_id = NEW.tenant_id AND id = video AND state = 'processing';
    ELSIF NEW.state = 'available' AND OLD.state IN ('discarded', 'cancelled') THEN
        -- Retried from the jobs admin: the video waits for it again.
        UPDATE videos SET state = 'processing', failure_reason = NULL, progress = 0, eta_at = NULL
         WHERE tenant_id = NEW.tenant_id AND id = video AND state = 'failed'
           AND source_key IS NOT NULL;
    END IF;
    RETURN NULL;
END
$$;

-- The studio shows "playable" as soon as it is: announce master changes too.
DROP TRIGGER videos_announce_update ON videos;
CREATE TRIGGER videos_announce_update
    AFTER UPDATE ON videos
    FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state
          OR OLD.progress IS DISTINCT FROM NEW.progress
          OR OLD.failure_reason IS DISTINCT FROM NEW.failure_reason
          OR OLD.master_key IS DISTINCT FROM NEW.master_key)
    EXECUTE FUNCTION notify_video_event();
