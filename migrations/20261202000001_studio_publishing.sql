-- Studio and publishing: talk states, owners, revisions (ETags), slug history (old slugs
-- redirect forever), chapters, the trash, talk fields (language, event, poster) and speakers'
-- photos and links.

-- What an editor chose. "Scheduled" is not a state of its own: a `public` talk whose
-- `published_at` lies ahead is scheduled, and becomes listed when that time passes, with no job
-- and no restart (every listing compares `published_at` with now()).
CREATE TYPE talk_state AS ENUM ('draft', 'unlisted', 'public', 'unpublished');

ALTER TABLE talks
    ADD COLUMN state       talk_state NOT NULL DEFAULT 'draft',
    ADD COLUMN created_by  uuid,
    -- BCP 47 language tag of the spoken language (`en`, `pt-BR`), if known.
    ADD COLUMN language    text CHECK (language ~ '^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$'
                                       AND length(language) <= 35),
    -- The event or series the talk belongs to ("RustConf 2026").
    ADD COLUMN event       text NOT NULL DEFAULT '' CHECK (length(event) <= 200),
    -- An editor's poster (an uploaded image or a chosen frame); NULL: the video's own poster.
    ADD COLUMN poster_key  text CHECK (length(poster_key) <= 1024),
    -- In the trash since; purged with its media 30 days later.
    ADD COLUMN deleted_at  timestamptz,
    -- Bumped by every change (the ETag of the API and the studio's optimistic concurrency).
    ADD COLUMN revision    bigint NOT NULL DEFAULT 1,
    ADD CONSTRAINT talks_created_by_fk FOREIGN KEY (tenant_id, created_by)
        REFERENCES users (tenant_id, id) ON DELETE SET NULL (created_by);

-- Talks published before states existed are public.
UPDATE talks SET state = 'public' WHERE published_at IS NOT NULL;

ALTER TABLE talks
    -- `published_at` is the time a public talk is (or will be) listed, and only that.
    ADD CONSTRAINT talks_public_has_time CHECK ((state = 'public') = (published_at IS NOT NULL)),
    -- A talk in the trash is reachable by nobody.
    ADD CONSTRAINT talks_trash_hidden CHECK (deleted_at IS NULL OR state IN ('draft', 'unpublished'));

CREATE INDEX talks_owner_idx ON talks (tenant_id, created_by, updated_at DESC);
CREATE INDEX talks_trash_idx ON talks (deleted_at) WHERE deleted_at IS NOT NULL;

-- Revisions and update times, for every table the API updates with If-Match.
CREATE FUNCTION bump_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.revision := OLD.revision + 1;
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE TRIGGER talks_revision BEFORE UPDATE ON talks
    FOR EACH ROW EXECUTE FUNCTION bump_revision();

-- Slugs a talk had before. The old address answers 301 to the current one forever, so no other
-- talk may take it (a talk may take its own old slug back).
CREATE TABLE talk_slug_history (
    tenant_id   uuid NOT NULL,
    slug        text NOT NULL,
    talk_id     uuid NOT NULL,
    retired_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, slug),
    FOREIGN KEY (tenant_id, talk_id) REFERENCES talks (tenant_id, id) ON DELETE CASCADE
);

CREATE FUNCTION talks_keep_slug_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM talk_slug_history h
               WHERE h.tenant_id = NEW.tenant_id AND h.slug = NEW.slug AND h.talk_id <> NEW.id) THEN
        RAISE EXCEPTION 'the slug % was another talk''s and still redirects there', NEW.slug
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'talk_slug_history_pkey';
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.slug IS DISTINCT FROM OLD.slug THEN
        DELETE FROM talk_slug_history WHERE tenant_id = NEW.tenant_id AND slug = NEW.slug;
        INSERT INTO talk_slug_history (tenant_id, slug, talk_id)
        VALUES (OLD.tenant_id, OLD.slug, OLD.id)
        ON CONFLICT (tenant_id, slug) DO UPDATE SET talk_id = EXCLUDED.talk_id, retired_at = now();
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER talks_slug_history BEFORE INSERT OR UPDATE OF slug ON talks
    FOR EACH ROW EXECUTE FUNCTION talks_keep_slug_history();

-- Chapters: a title from a time on, in the talk's order of time.
CREATE TABLE talk_chapters (
    tenant_id   uuid NOT NULL,
    talk_id     uuid NOT NULL,
    start_ms    bigint NOT NULL CHECK (start_ms >= 0),
    title       text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    PRIMARY KEY (talk_id, start_ms),
    FOREIGN KEY (tenant_id, talk_id) REFERENCES talks (tenant_id, id) ON DELETE CASCADE
);

-- Speakers: a photo (resized by the server), links, a revision.
ALTER TABLE speakers
    ADD COLUMN photo_key   text CHECK (length(photo_key) <= 1024),
    ADD COLUMN links       text[] NOT NULL DEFAULT '{}' CHECK (cardinality(links) <= 10),
    ADD COLUMN updated_at  timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN revision    bigint NOT NULL DEFAULT 1;

CREATE TRIGGER speakers_revision BEFORE UPDATE ON speakers
    FOR EACH ROW EXECUTE FUNCTION bump_revision();

-- Tags: a revision too.
ALTER TABLE tags
    ADD COLUMN updated_at  timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN revision    bigint NOT NULL DEFAULT 1;

CREATE TRIGGER tags_revision BEFORE UPDATE ON tags
    FOR EACH ROW EXECUTE FUNCTION bump_revision();
