-- A video follows its transcode job, whichever code path ends it (a worker's last failed
-- attempt, the rescuer discarding an expired lease past its last attempt, a cancel of a waiting
-- or running job, an admin's retry), in the same transaction as the job's change: a video is
-- never left `processing` with no job that will finish it.
CREATE FUNCTION transcode_job_moves_video() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    video uuid := (NEW.payload ->> 'video_id')::uuid;
BEGIN
    IF NEW.state IN ('discarded', 'cancelled') THEN
        UPDATE videos SET state = 'failed', eta_at = NULL,
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

CREATE TRIGGER jobs_transcode_moves_video
    AFTER UPDATE OF state ON jobs
    FOR EACH ROW
    WHEN (NEW.kind = 'transcode' AND OLD.state IS DISTINCT FROM NEW.state
          AND NEW.payload ->> 'video_id' ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$')
    EXECUTE FUNCTION transcode_job_moves_video();

-- Every transcode attempt writes its outputs under `{tenant}/{video}/v{n}/` with a number of
-- its own, taken from this counter when it starts; the video switches to a finished attempt's
-- outputs in one conditional UPDATE (see worker/src/transcode.rs).
ALTER TABLE videos ADD COLUMN output_generation integer NOT NULL DEFAULT 0;
