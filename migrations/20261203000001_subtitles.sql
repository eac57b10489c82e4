-- Subtitle tracks: one per video and language, made by Whisper (`auto`) or edited by a person
-- (`human`). The cues, with Whisper's word timings and probabilities, live in the row; the
-- published files (a whole-file WebVTT and a segmented HLS rendition) live in storage under
-- `{tenant}/{video}/subs/{track}/r{revision}/`.
-- Whisper jobs claim as their own resource class (model::jobs::ResourceClass::Speech).
ALTER TABLE jobs DROP CONSTRAINT jobs_resource_class_check,
    ADD CONSTRAINT jobs_resource_class_check CHECK (resource_class IN ('cpu', 'gpu', 'speech'));

CREATE TYPE subtitle_origin AS ENUM ('auto', 'human');
CREATE TYPE subtitle_state AS ENUM ('transcribing', 'ready', 'failed');

CREATE TABLE subtitle_tracks (
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            uuid NOT NULL DEFAULT gen_random_uuid(),
    video_id      uuid NOT NULL,
    -- BCP 47; `und` while a transcription has not detected it yet.
    language      text NOT NULL CHECK (language ~ '^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$'),
    origin        subtitle_origin NOT NULL,
    state         subtitle_state NOT NULL DEFAULT 'transcribing',
    progress      real NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
    eta_at        timestamptz,
    failure_reason text CHECK (length(failure_reason) <= 4000),
    -- [{start_ms, end_ms, text, words: [{start_ms, end_ms, text, probability}]}]
    cues          jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(cues) = 'array'),
    -- Bumped by every change of the cues: the editor's optimistic-concurrency token.
    revision      integer NOT NULL DEFAULT 1,
    -- The published files of this revision (both set once the track is ready).
    vtt_key       text,
    playlist_key  text,
    -- The Whisper model an `auto` track came from (its file name), shown in the studio.
    model         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, video_id) REFERENCES videos (tenant_id, id) ON DELETE CASCADE,
    CHECK ((state = 'failed') = (failure_reason IS NOT NULL)),
    CHECK (state <> 'ready' OR (vtt_key IS NOT NULL AND playlist_key IS NOT NULL))
);

-- One track per language of a video; a second transcription of a language replaces the
-- machine's track and never a person's.
CREATE UNIQUE INDEX subtitle_tracks_language_idx ON subtitle_tracks (tenant_id, video_id, language);

-- The spoken words, one row per cue of every ready track, for the catalog's transcript search.
CREATE TABLE transcript_lines (
    tenant_id   uuid NOT NULL,
    track_id    uuid NOT NULL,
    video_id    uuid NOT NULL,
    start_ms    bigint NOT NULL CHECK (start_ms >= 0),
    end_ms      bigint NOT NULL CHECK (end_ms >= start_ms),
    text        text NOT NULL,
    search      tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
    PRIMARY KEY (tenant_id, track_id, start_ms, end_ms, text),
    FOREIGN KEY (tenant_id, track_id) REFERENCES subtitle_tracks (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX transcript_lines_search_idx ON transcript_lines USING gin (search);
CREATE INDEX transcript_lines_video_idx ON transcript_lines (tenant_id, video_id, start_ms);

-- A video becoming ready queues its transcription in the same transaction, so no crash between
-- the two can leave a ready video that is never captioned.
CREATE FUNCTION videos_queue_transcription() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO jobs (tenant_id, kind, payload, priority, max_attempts, unique_key)
    VALUES (NEW.tenant_id, 'transcribe', json_build_object('video_id', NEW.id), 3, 3,
            'transcribe:' || NEW.id)
    ON CONFLICT (kind, unique_key)
        WHERE unique_key IS NOT NULL AND state NOT IN ('completed', 'discarded', 'cancelled')
        DO NOTHING;
    PERFORM pg_notify('ferrotape_jobs', 'transcribe');
    RETURN NULL;
END
$$;

CREATE TRIGGER videos_queue_transcription
    AFTER UPDATE OF state ON videos
    FOR EACH ROW
    WHEN (NEW.state = 'ready' AND OLD.state IS DISTINCT FROM 'ready')
    EXECUTE FUNCTION videos_queue_transcription();

-- The transcription's end moves its track whichever code path ends it (a last failed attempt,
-- the rescuer discarding an expired lease, a cancel): a track is never left `transcribing`.
CREATE FUNCTION transcribe_job_moves_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE subtitle_tracks SET state = 'failed', eta_at = NULL, updated_at = now(),
           failure_reason = left(CASE NEW.state
               WHEN 'cancelled' THEN 'the transcription was cancelled'
               ELSE 'the transcription failed: ' || coalesce(
                   NEW.errors[cardinality(NEW.errors)] ->> 'error', 'no error was recorded')
           END, 4000)
     WHERE tenant_id = NEW.tenant_id AND video_id = (NEW.payload ->> 'video_id')::uuid
       AND state = 'transcribing';
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_transcribe_moves_track
    AFTER UPDATE OF state ON jobs
    FOR EACH ROW
    WHEN (NEW.kind = 'transcribe' AND NEW.state IN ('discarded', 'cancelled')
          AND OLD.state IS DISTINCT FROM NEW.state
          AND NEW.payload ->> 'video_id' ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$')
    EXECUTE FUNCTION transcribe_job_moves_track();

-- Track changes reach the studio through the video-event channel, in the video's own payload
-- (20261122000004), so every listener refreshes that video's row.
CREATE FUNCTION subtitle_tracks_announce() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed subtitle_tracks;
BEGIN
    IF TG_OP = 'DELETE' THEN
        changed := OLD;
    ELSE
        changed := NEW;
    END IF;
    PERFORM pg_notify('ferrotape_video_events', json_build_object(
        'tenant', v.tenant_id, 'video', v.id, 'uploaded_by', v.uploaded_by, 'deleted', false)::text)
       FROM videos v WHERE v.tenant_id = changed.tenant_id AND v.id = changed.video_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER subtitle_tracks_announce
    AFTER INSERT OR DELETE OR UPDATE OF state, progress, revision ON subtitle_tracks
    FOR EACH ROW EXECUTE FUNCTION subtitle_tracks_announce();
