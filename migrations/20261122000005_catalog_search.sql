-- Catalog search: tags, and a full-text document per talk over its title, speakers, tags and
-- description, kept current by triggers whoever changes any of them.

CREATE TABLE tags (
    id          uuid NOT NULL DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    slug        text NOT NULL CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 64),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, slug)
);

CREATE TABLE talk_tags (
    tenant_id   uuid NOT NULL,
    talk_id     uuid NOT NULL,
    tag_id      uuid NOT NULL,
    PRIMARY KEY (talk_id, tag_id),
    FOREIGN KEY (tenant_id, talk_id) REFERENCES talks (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, tag_id) REFERENCES tags (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX talk_tags_tag_idx ON talk_tags (tenant_id, tag_id);

-- One text configuration for documents and queries alike, so stemming always agrees.
-- Weights: title and speakers A, tags B, description C (ts_rank_cd ranks by them).
CREATE FUNCTION talk_search_document(talk uuid, title text, description text)
RETURNS tsvector LANGUAGE sql STABLE AS $$
    SELECT setweight(to_tsvector('english', title), 'A')
        || setweight(to_tsvector('english', coalesce((
               SELECT string_agg(s.name, ' ') FROM talk_speakers ts
               JOIN speakers s ON s.tenant_id = ts.tenant_id AND s.id = ts.speaker_id
               WHERE ts.talk_id = talk), '')), 'A')
        || setweight(to_tsvector('english', coalesce((
               SELECT string_agg(g.name, ' ') FROM talk_tags tt
               JOIN tags g ON g.tenant_id = tt.tenant_id AND g.id = tt.tag_id
               WHERE tt.talk_id = talk), '')), 'B')
        || setweight(to_tsvector('english', description), 'C')
$$;

ALTER TABLE talks ADD COLUMN search tsvector NOT NULL DEFAULT ''::tsvector;
UPDATE talks SET search = talk_search_document(id, title, description);
CREATE INDEX talks_search_idx ON talks USING gin (search);

-- The talk's own text changed.
CREATE FUNCTION talks_search_own() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search := talk_search_document(NEW.id, NEW.title, NEW.description);
    RETURN NEW;
END;
$$;
CREATE TRIGGER talks_search_own BEFORE INSERT OR UPDATE OF title, description ON talks
    FOR EACH ROW EXECUTE FUNCTION talks_search_own();

-- Recomputes the documents of the given talks.
CREATE FUNCTION talks_search_refresh(talk_ids uuid[]) RETURNS void LANGUAGE sql AS $$
    UPDATE talks SET search = talk_search_document(id, title, description)
    WHERE id = ANY (talk_ids);
$$;

-- A speaker or tag was added to or removed from a talk.
CREATE FUNCTION talk_links_search() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM talks_search_refresh(ARRAY[OLD.talk_id]);
    ELSE
        PERFORM talks_search_refresh(ARRAY[NEW.talk_id]);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER talk_speakers_search AFTER INSERT OR DELETE ON talk_speakers
    FOR EACH ROW EXECUTE FUNCTION talk_links_search();
CREATE TRIGGER talk_tags_search AFTER INSERT OR DELETE ON talk_tags
    FOR EACH ROW EXECUTE FUNCTION talk_links_search();

-- A speaker or tag was renamed: every talk naming it.
CREATE FUNCTION speakers_search() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM talks_search_refresh(ARRAY(
        SELECT talk_id FROM talk_speakers WHERE tenant_id = NEW.tenant_id AND speaker_id = NEW.id));
    RETURN NULL;
END;
$$;
CREATE TRIGGER speakers_search AFTER UPDATE OF name ON speakers
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION speakers_search();

CREATE FUNCTION tags_search() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM talks_search_refresh(ARRAY(
        SELECT talk_id FROM talk_tags WHERE tenant_id = NEW.tenant_id AND tag_id = NEW.id));
    RETURN NULL;
END;
$$;
CREATE TRIGGER tags_search AFTER UPDATE OF name ON tags
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION tags_search();
