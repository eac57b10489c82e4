-- Videos whose source a job produces rather than an uploader: the demo talks' generated clips
-- (`demo.video`) and URL imports (`import`). Such a video waits in `uploading` until its job
-- stores a source and queues the transcode. Like the transcode's (20261201000002), the job's
-- end moves the video in the same transaction whichever code path ends it (a last failed
-- attempt, the rescuer discarding an expired lease, a cancel), so a video is never left
-- `uploading` with no job that will finish it.
CREATE FUNCTION source_job_moves_video() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    video uuid := (NEW.payload ->> 'video_id')::uuid;
BEGIN
    IF NEW.state IN ('discarded', 'cancelled') THEN
        UPDATE videos SET state = 'failed', eta_at = NULL,
               failure_reason = left(CASE NEW.state
                   WHEN 'cancelled' THEN 'the import was cancelled'
                   ELSE 'the import failed: ' || coalesce(
                       NEW.errors[cardinality(NEW.errors)] ->> 'error', 'no error was recorded')
               END, 4000)
         WHERE tenant_id = NEW.tenant_id AND id = video AND state = 'uploading';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_source_moves_video
    AFTER UPDATE OF state ON jobs
    FOR EACH ROW
    WHEN (NEW.kind IN ('import', 'demo.video') AND OLD.state IS DISTINCT FROM NEW.state
          AND NEW.payload ->> 'video_id' ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$')
    EXECUTE FUNCTION source_job_moves_video();
