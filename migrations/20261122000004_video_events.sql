-- Every change the studio shows (a video appearing or going away, its state, progress and
-- failure) is announced on `ferrotape_video_events`, whoever made it (the upload API, a worker,
-- an admin, plain SQL), so every server can stream it to the editor's browser. The payload only
-- names the video; listeners read the row itself (NOTIFY payloads are limited to 8000 bytes).
CREATE FUNCTION notify_video_event() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed videos;
BEGIN
    IF TG_OP = 'DELETE' THEN
        changed := OLD;
    ELSE
        changed := NEW;
    END IF;
    PERFORM pg_notify('ferrotape_video_events', json_build_object(
        'tenant', changed.tenant_id,
        'video', changed.id,
        'uploaded_by', changed.uploaded_by,
        'deleted', TG_OP = 'DELETE')::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER videos_announce_insert_delete
    AFTER INSERT OR DELETE ON videos
    FOR EACH ROW EXECUTE FUNCTION notify_video_event();

CREATE TRIGGER videos_announce_update
    AFTER UPDATE ON videos
    FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state
          OR OLD.progress IS DISTINCT FROM NEW.progress
          OR OLD.failure_reason IS DISTINCT FROM NEW.failure_reason)
    EXECUTE FUNCTION notify_video_event();
