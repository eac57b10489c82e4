-- Platform events and the compute ledger (issue 17, part 6).
--
-- `platform_events`: one append-only log of what happened to a tenant's videos, which the
-- dashboards read and admins follow live (`/api/v1/admin/events/stream`). The video and job
-- triggers below write it in the transaction of the change itself, so every writer — the upload
-- API, workers, imports, `ferrotape import-video`, plain SQL — is covered and an event exists
-- exactly when its change does. VID_VIEW comes from the analytics ingestion through
-- `store::platform_events::record`.
CREATE TABLE platform_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- The time of the transaction that made the change (as the row's own timestamps are).
    occurred_at timestamptz NOT NULL DEFAULT now(),
    -- VID_LIVE and VID_LIVE_ENDED are defined now so the dashboards can name them; nothing
    -- writes them until live streaming exists (RTMP hooks in `server::live`, still to come).
    kind        text NOT NULL CHECK (kind IN (
                    'VID_UPLOAD', 'VID_UPLOAD_FAILED',
                    'VID_TRANSCODE', 'VID_TRANSCODE_FAILED',
                    'VID_READY', 'VID_VIEW',
                    'VID_LIVE', 'VID_LIVE_ENDED')),
    -- No foreign keys: the log outlives the videos and talks it names.
    video_id    uuid,
    talk_id     uuid,
    -- A few facts of the event (a failure's reason, a job's attempt); small by rule.
    detail      jsonb NOT NULL DEFAULT '{}'
                CHECK (jsonb_typeof(detail) = 'object' AND pg_column_size(detail) <= 4096)
);

-- The dashboards and the admin list read a tenant's newest events, all kinds or one kind.
CREATE INDEX platform_events_tenant_time_idx
    ON platform_events (tenant_id, occurred_at DESC, id DESC);
CREATE INDEX platform_events_tenant_kind_idx
    ON platform_events (tenant_id, kind, occurred_at DESC, id DESC);
-- The retention purge finds old rows by time alone; rows arrive in time order, so a BRIN
-- index serves it at a fraction of a B-tree's size and write cost.
CREATE INDEX platform_events_occurred_brin ON platform_events USING brin (occurred_at);

-- The compute ledger: one row per job attempt of a metered kind (transcode, transcribe) that
-- ended, written by the trigger on `jobs` below in the transaction that ends the attempt. It
-- has no reference to `jobs`, so it survives the retention job purging finished jobs. One row
-- per attempt (rather than a counter row per tenant and day upserted by every completion) is
-- deliberate: a batched completion updating several tenants' counters in whatever order its
-- rows come would lock them in that order, and two workers' batches could deadlock; inserts
-- never contend. The admin page and CSV sum it per day (`store::compute_ledger`).
CREATE TABLE compute_ledger (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- The UTC day the attempt ended: an attempt is booked whole on that day.
    day            date NOT NULL,
    job_id         bigint NOT NULL,
    kind           text NOT NULL,
    resource_class text NOT NULL,
    attempt        integer NOT NULL,
    -- `host:pid:worker`, as in `jobs.attempted_by`.
    worker         text,
    started_at     timestamptz NOT NULL,
    ended_at       timestamptz NOT NULL CHECK (ended_at >= started_at),
    seconds        double precision NOT NULL CHECK (seconds >= 0),
    -- The job's state after the attempt: completed, retryable, discarded, cancelled, or
    -- available (given back at shutdown: it ran, so it is booked, though the queue does not
    -- count it as an attempt).
    outcome        text NOT NULL,
    -- The job ended with this attempt (completed, discarded or cancelled).
    finished       boolean NOT NULL
);

CREATE INDEX compute_ledger_tenant_day_idx ON compute_ledger (tenant_id, day, kind);

-- Both tables are append-only in the database. The application connects as the role that owns
-- every table (and runs the migrations), so REVOKE UPDATE, DELETE would not hold: an owner can
-- grant itself back anything. A trigger refuses the change instead, whoever asks. Deletion has
-- two ways through: a retention purge that says so in its own transaction
-- (`SET LOCAL ferrotape.purge = 'on'`, only `store::retention` does), and the cascade from a
-- deleted tenant (whose row is gone by the time the cascade reaches these rows).
CREATE FUNCTION refuse_append_only_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'TRUNCATE')
       AND current_setting('ferrotape.purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM tenants WHERE id = OLD.tenant_id) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'old rows are removed by the retention purge only';
END
$$;

CREATE TRIGGER platform_events_append_only
    BEFORE UPDATE OR DELETE ON platform_events
    FOR EACH ROW EXECUTE FUNCTION refuse_append_only_change();
CREATE TRIGGER platform_events_no_truncate
    BEFORE TRUNCATE ON platform_events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_append_only_change();
CREATE TRIGGER compute_ledger_append_only
    BEFORE UPDATE OR DELETE ON compute_ledger
    FOR EACH ROW EXECUTE FUNCTION refuse_append_only_change();
CREATE TRIGGER compute_ledger_no_truncate
    BEFORE TRUNCATE ON compute_ledger
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_append_only_change();

-- Every new event is announced on `ferrotape_platform_events` (after commit, as NOTIFY is) for
-- the admins' event streams; the payload only names it, listeners read the row.
CREATE FUNCTION notify_platform_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ferrotape_platform_events', json_build_object(
        'tenant', NEW.tenant_id, 'id', NEW.id, 'kind', NEW.kind)::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER platform_events_announce
    AFTER INSERT ON platform_events
    FOR EACH ROW EXECUTE FUNCTION notify_platform_event();

-- A video's state changes are its upload's and transcode's outcomes (the state machine of
-- schema v1): uploading → processing is an accepted upload (API, import, demo clip),
-- uploading → failed one that was refused (not playable, an import that failed),
-- processing → ready a finished transcode, processing → failed one that ended unfinished.
-- A retry (failed → processing) and a re-transcode (ready → processing) are announced by the
-- transcode job starting.
CREATE FUNCTION videos_record_platform_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    event_kind text;
    facts jsonb;
BEGIN
    IF OLD.state = 'uploading' AND NEW.state = 'processing' THEN
        event_kind := 'VID_UPLOAD';
        facts := jsonb_build_object('name', NEW.original_name, 'size_bytes', NEW.size_bytes,
                                    'duration_ms', NEW.duration_ms, 'uploaded_by', NEW.uploaded_by);
    ELSIF OLD.state = 'uploading' AND NEW.state = 'failed' THEN
        event_kind := 'VID_UPLOAD_FAILED';
        facts := jsonb_build_object('name', NEW.original_name,
                                    'reason', left(NEW.failure_reason, 1000));
    ELSIF OLD.state = 'processing' AND NEW.state = 'ready' THEN
        event_kind := 'VID_READY';
        facts := jsonb_build_object('duration_ms', NEW.duration_ms, 'encoder', NEW.encoder);
    ELSIF OLD.state = 'processing' AND NEW.state = 'failed' THEN
        event_kind := 'VID_TRANSCODE_FAILED';
        facts := jsonb_build_object('reason', left(NEW.failure_reason, 1000));
    ELSE
        RETURN NULL;
    END IF;
    INSERT INTO platform_events (tenant_id, kind, video_id, talk_id, detail)
    VALUES (NEW.tenant_id, event_kind, NEW.id, NEW.talk_id, jsonb_strip_nulls(facts));
    RETURN NULL;
END
$$;

CREATE TRIGGER videos_platform_events
    AFTER UPDATE OF state ON videos
    FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION videos_record_platform_event();

-- Each transcode attempt a worker claims is a VID_TRANSCODE (a retried one again, with its
-- attempt number).
CREATE FUNCTION transcode_job_records_start() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    video uuid := (NEW.payload ->> 'video_id')::uuid;
BEGIN
    INSERT INTO platform_events (tenant_id, kind, video_id, talk_id, detail)
    VALUES (NEW.tenant_id, 'VID_TRANSCODE', video,
            (SELECT talk_id FROM videos WHERE tenant_id = NEW.tenant_id AND id = video),
            jsonb_build_object('job', NEW.id, 'attempt', NEW.attempt,
                               'resource_class', NEW.resource_class));
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_transcode_records_start
    AFTER UPDATE OF state ON jobs
    FOR EACH ROW
    WHEN (NEW.kind = 'transcode' AND NEW.state = 'running' AND OLD.state <> 'running'
          AND NEW.payload ->> 'video_id' ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$')
    EXECUTE FUNCTION transcode_job_records_start();

-- An attempt of a metered job ends when its job leaves `running` by any path (a worker's
-- completion or failure, a cancel, the rescuer, a release at shutdown): book its seconds from
-- the claim (`attempted_at`) to now. A rescued attempt's worker stopped some time before its
-- lease ran out, so it is booked to the lease's end at most.
CREATE FUNCTION jobs_book_compute() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ended timestamptz := greatest(OLD.attempted_at, least(now(), OLD.lease_until));
BEGIN
    INSERT INTO compute_ledger (tenant_id, day, job_id, kind, resource_class, attempt, worker,
                                started_at, ended_at, seconds, outcome, finished)
    VALUES (NEW.tenant_id, (ended AT TIME ZONE 'UTC')::date, NEW.id, NEW.kind,
            OLD.resource_class, OLD.attempt, OLD.attempted_by[cardinality(OLD.attempted_by)],
            OLD.attempted_at, ended, extract(epoch FROM ended - OLD.attempted_at),
            NEW.state::text, NEW.state IN ('completed', 'discarded', 'cancelled'));
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_book_compute
    AFTER UPDATE OF state ON jobs
    FOR EACH ROW
    WHEN (NEW.kind IN ('transcode', 'transcribe') AND OLD.state = 'running'
          AND NEW.state <> 'running' AND OLD.attempted_at IS NOT NULL)
    EXECUTE FUNCTION jobs_book_compute();
