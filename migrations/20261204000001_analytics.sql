-- Playback analytics. The player's beacons (model::analytics::event) land in
-- `analytics_events`, one row per event, partitioned by day so that retention drops whole
-- partitions instead of deleting rows; each write also folds its new events into the view they
-- belong to (`analytics_views`, one row per play attempt), which is what rollups and the
-- viewer's library read.

-- The salt of each day's viewer hashes: uniques are counted from SHA-256(salt, tenant, client
-- network, user agent), and a day's salt is deleted soon after the day ends, so nobody (us
-- included) can link a hash back to an address or across days.
CREATE TABLE analytics_salts (
    day  date PRIMARY KEY,
    salt bytea NOT NULL CHECK (length(salt) = 32)
);

CREATE TABLE analytics_events (
    -- The UTC day of the browser's own timestamp: a batch sent again carries the same one, so
    -- (day, id) finds a repeated event whichever partition it went to. Rollups use `at`.
    day         date NOT NULL,
    id          uuid NOT NULL,
    tenant_id   uuid NOT NULL,
    talk_id     uuid NOT NULL,
    view_id     uuid NOT NULL,
    -- The browser's time corrected by its batch's clock offset.
    at          timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('view_start', 'play', 'first_frame', 'stall',
                    'quality', 'error', 'seek', 'pause', 'heartbeat', 'end', 'exit')),
    position    real,
    -- startup_ms (first_frame), duration_ms (stall), bitrate (quality, heartbeat, exit).
    value       bigint,
    height      integer,
    watched     nummultirange,
    watched_ms  bigint NOT NULL DEFAULT 0,
    fatal       boolean,
    -- An error's code and detail, or a seek's start ("from 12.5").
    detail      text CHECK (length(detail) <= 600),
    PRIMARY KEY (day, id)
) PARTITION BY RANGE (day);

CREATE INDEX analytics_events_view ON analytics_events (view_id);

-- Creates the daily partitions from `first` to `last` (inclusive) that do not exist yet.
CREATE FUNCTION analytics_ensure_partitions(first date, last date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    d date := first;
    made integer := 0;
    name text;
BEGIN
    WHILE d <= last LOOP
        name := 'analytics_events_' || to_char(d, 'YYYYMMDD');
        IF to_regclass(name) IS NULL THEN
            EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF analytics_events
                            FOR VALUES FROM (%L) TO (%L)', name, d, d + 1);
            made := made + 1;
        END IF;
        d := d + 1;
    END LOOP;
    RETURN made;
END $$;

-- Drops the daily partitions of days before `before`; returns how many.
CREATE FUNCTION analytics_drop_partitions(before date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    part record;
    dropped integer := 0;
BEGIN
    FOR part IN
        SELECT c.relname
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'analytics_events'::regclass
          AND c.relname ~ '^analytics_events_[0-9]{8}$'
          AND to_date(substr(c.relname, 18), 'YYYYMMDD') < before
    LOOP
        EXECUTE format('DROP TABLE %I', part.relname);
        dropped := dropped + 1;
    END LOOP;
    RETURN dropped;
END $$;

-- Browsers may hold events for a day and clocks may be a day off: the writer needs yesterday's
-- and the day before's partitions as much as tomorrow's.
SELECT analytics_ensure_partitions(current_date - 2, current_date + 2);

-- One row per view (play attempt), kept up to date as its events arrive.
CREATE TABLE analytics_views (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    talk_id         uuid NOT NULL,
    started_at      timestamptz NOT NULL,
    last_at         timestamptz NOT NULL,
    -- The day's salted hash of the client (NULL under Global Privacy Control / Do Not Track).
    viewer_hash     bytea,
    -- The browser's anonymous id and the signed-in user: the viewer's library (NULL under
    -- GPC / DNT).
    viewer_id       uuid,
    user_id         uuid,
    browser         text,
    os              text,
    device          text,
    country         text,
    referrer_domain text,
    embed_origin    text,
    startup_ms      integer,
    playing_ms      bigint NOT NULL DEFAULT 0,
    rebuffer_count  integer NOT NULL DEFAULT 0,
    rebuffer_ms     bigint NOT NULL DEFAULT 0,
    -- Σ bitrate × ms played at it, and the ms with a known bitrate: the average bitrate.
    bitrate_ms      bigint NOT NULL DEFAULT 0,
    bitrate_time_ms bigint NOT NULL DEFAULT 0,
    quality_switches integer NOT NULL DEFAULT 0,
    seeks           integer NOT NULL DEFAULT 0,
    errors          integer NOT NULL DEFAULT 0,
    failed          boolean NOT NULL DEFAULT false,
    ended           boolean NOT NULL DEFAULT false,
    exited          boolean NOT NULL DEFAULT false,
    last_position   real,
    furthest        real NOT NULL DEFAULT 0,
    watched         nummultirange NOT NULL DEFAULT '{}'
);

CREATE INDEX analytics_views_tenant_time ON analytics_views (tenant_id, started_at);
CREATE INDEX analytics_views_talk_time ON analytics_views (talk_id, started_at);
CREATE INDEX analytics_views_live ON analytics_views (tenant_id, last_at);

-- Rollups. Every write marks the talk-days whose views it changed (`analytics_dirty`); the
-- rollup step recomputes those days from their views, so a late event updates the bucket of
-- the hour its view started in. Figures that add up (counts, sums, histograms) are stored;
-- rates and percentiles are derived when read.
CREATE TABLE analytics_dirty (
    talk_id   uuid NOT NULL,
    day       date NOT NULL,
    tenant_id uuid NOT NULL,
    PRIMARY KEY (talk_id, day)
);

CREATE TABLE analytics_hourly (
    tenant_id          uuid NOT NULL,
    talk_id            uuid NOT NULL,
    hour               timestamptz NOT NULL,
    views              integer NOT NULL,
    -- Distinct daily hashes, plus views without one (GPC / DNT), each counted once.
    viewers            integer NOT NULL,
    -- Views whose first frame showed.
    started_views      integer NOT NULL,
    watch_ms           bigint NOT NULL,
    playing_ms         bigint NOT NULL,
    rebuffer_count     bigint NOT NULL,
    rebuffer_ms        bigint NOT NULL,
    bitrate_ms         bigint NOT NULL,
    bitrate_time_ms    bigint NOT NULL,
    completed          integer NOT NULL,
    failed             integer NOT NULL,
    exits_before_start integer NOT NULL,
    -- Sums over started views of each view's Startup Time Score and Smoothness Score.
    startup_score_sum  double precision NOT NULL,
    smoothness_sum     double precision NOT NULL,
    -- model::analytics::qoe::STARTUP_EDGES_MS buckets.
    startup_histogram  bigint[] NOT NULL,
    PRIMARY KEY (talk_id, hour)
);

CREATE INDEX analytics_hourly_tenant ON analytics_hourly (tenant_id, hour);

-- The same per day (viewers are the day's distinct hashes).
CREATE TABLE analytics_daily (LIKE analytics_hourly);
ALTER TABLE analytics_daily RENAME COLUMN hour TO day;
ALTER TABLE analytics_daily ALTER COLUMN day TYPE date;
ALTER TABLE analytics_daily ADD PRIMARY KEY (talk_id, day);
CREATE INDEX analytics_daily_tenant ON analytics_daily (tenant_id, day);

-- Views and watch time per day by browser, os, device, country, referrer and embed origin.
CREATE TABLE analytics_daily_dimensions (
    tenant_id uuid NOT NULL,
    talk_id   uuid NOT NULL,
    day       date NOT NULL,
    dimension text NOT NULL CHECK (dimension IN ('browser', 'os', 'device', 'country',
                  'referrer', 'embed')),
    value     text NOT NULL,
    views     integer NOT NULL,
    watch_ms  bigint NOT NULL,
    PRIMARY KEY (talk_id, day, dimension, value)
);

CREATE INDEX analytics_daily_dimensions_tenant ON analytics_daily_dimensions (tenant_id, day);

-- The retention curve of a talk's views of one day: curve[s] is the share of those views that
-- played second s. Days merge by weighting each curve with its views.
CREATE TABLE analytics_daily_retention (
    tenant_id     uuid NOT NULL,
    talk_id       uuid NOT NULL,
    day           date NOT NULL,
    views         integer NOT NULL,
    duration_secs integer NOT NULL,
    curve         real[] NOT NULL,
    PRIMARY KEY (talk_id, day)
);
