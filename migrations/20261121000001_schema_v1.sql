-- Schema v1: tenants, talks, speakers, talk_speakers, videos.
--
-- Every tenant-owned table carries tenant_id, and every reference between tenant-owned rows is a
-- composite foreign key (tenant_id, id) so a row can never point at another tenant's row.

CREATE TABLE tenants (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 63),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The default tenant used in single-tenant mode (model::TenantId::DEFAULT).
INSERT INTO tenants (id, slug, name)
VALUES ('00000000-0000-0000-0000-000000000001', 'default', 'Ferrotape');

CREATE TABLE speakers (
    id          uuid NOT NULL DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    slug        text NOT NULL CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 96),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    bio         text NOT NULL DEFAULT '' CHECK (length(bio) <= 10000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, slug)
);

CREATE TABLE talks (
    id           uuid NOT NULL DEFAULT gen_random_uuid(),
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    slug         text NOT NULL CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 96),
    title        text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    description  text NOT NULL DEFAULT '' CHECK (length(description) <= 50000),
    recorded_on  date,
    -- NULL while a draft; the catalog lists only published talks.
    published_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, slug)
);

-- The catalog reads newest published first, per tenant.
CREATE INDEX talks_catalog_idx ON talks (tenant_id, published_at DESC, id)
    WHERE published_at IS NOT NULL;

CREATE TABLE talk_speakers (
    tenant_id   uuid NOT NULL,
    talk_id     uuid NOT NULL,
    speaker_id  uuid NOT NULL,
    -- Order of appearance on the talk page.
    position    smallint NOT NULL DEFAULT 0 CHECK (position >= 0),
    PRIMARY KEY (talk_id, speaker_id),
    FOREIGN KEY (tenant_id, talk_id) REFERENCES talks (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, speaker_id) REFERENCES speakers (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX talk_speakers_speaker_idx ON talk_speakers (tenant_id, speaker_id);

CREATE TYPE video_state AS ENUM ('uploading', 'processing', 'ready', 'failed');

CREATE TABLE videos (
    id              uuid NOT NULL DEFAULT gen_random_uuid(),
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    talk_id         uuid,
    state           video_state NOT NULL DEFAULT 'uploading',
    failure_reason  text CHECK (length(failure_reason) <= 4000),
    duration_ms     bigint CHECK (duration_ms >= 0),
    width           integer CHECK (width > 0),
    height          integer CHECK (height > 0),
    -- Object key of the uploaded source, `{tenant}/{video}/source/original.{ext}`.
    source_key      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, talk_id) REFERENCES talks (tenant_id, id) ON DELETE SET NULL (talk_id),
    -- A failed video always says why; any other state carries no stale reason.
    CHECK ((state = 'failed') = (failure_reason IS NOT NULL)),
    -- A ready video has been probed.
    CHECK (state <> 'ready' OR duration_ms IS NOT NULL)
);

CREATE INDEX videos_talk_idx ON videos (tenant_id, talk_id, created_at DESC);

-- The state machine of model::VideoState, enforced here too so no code path can skip it.
CREATE FUNCTION videos_check_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state IS DISTINCT FROM OLD.state AND NOT (
        (OLD.state = 'uploading'  AND NEW.state IN ('processing', 'failed')) OR
        (OLD.state = 'processing' AND NEW.state IN ('ready', 'failed')) OR
        (OLD.state = 'failed'     AND NEW.state = 'processing') OR
        (OLD.state = 'ready'      AND NEW.state = 'processing')
    ) THEN
        RAISE EXCEPTION 'a video cannot go from % to %', OLD.state, NEW.state
            USING ERRCODE = 'check_violation', CONSTRAINT = 'videos_state_transition';
    END IF;
    IF NEW.tenant_id IS DISTINCT FROM OLD.tenant_id THEN
        RAISE EXCEPTION 'a video cannot change tenant' USING ERRCODE = 'check_violation';
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE TRIGGER videos_state_transition
    BEFORE UPDATE ON videos
    FOR EACH ROW EXECUTE FUNCTION videos_check_transition();
