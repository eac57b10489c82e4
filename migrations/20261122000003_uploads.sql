-- Resumable uploads and the VOD pipeline's bookkeeping on videos.

CREATE TYPE upload_state AS ENUM ('open', 'completed', 'aborted');

-- One upload session: the file is cut into `chunk_count` chunks of `chunk_size` bytes (the last
-- one shorter); each arrives with its SHA-256 and may be resent. A video row in `uploading` is
-- created with the session so the studio lists it from the first byte.
CREATE TABLE uploads (
    id            uuid NOT NULL DEFAULT gen_random_uuid(),
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id       uuid NOT NULL,
    video_id      uuid NOT NULL,
    file_name     text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 255),
    content_type  text NOT NULL CHECK (length(content_type) BETWEEN 1 AND 127),
    size_bytes    bigint NOT NULL CHECK (size_bytes > 0),
    chunk_size    integer NOT NULL CHECK (chunk_size > 0),
    chunk_count   integer NOT NULL CHECK (chunk_count > 0),
    state         upload_state NOT NULL DEFAULT 'open',
    -- The S3 multipart upload id when the parts go straight to S3.
    multipart_id  text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, video_id) REFERENCES videos (tenant_id, id) ON DELETE CASCADE,
    CHECK ((state = 'open') = (finished_at IS NULL)),
    -- The chunks cover the size exactly.
    CHECK (chunk_count = (size_bytes + chunk_size - 1) / chunk_size)
);

-- Abandoned sessions are found by age.
CREATE INDEX uploads_open_idx ON uploads (created_at) WHERE state = 'open';
CREATE INDEX uploads_user_idx ON uploads (tenant_id, user_id, created_at DESC);

CREATE TABLE upload_chunks (
    upload_id    uuid NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    n            integer NOT NULL CHECK (n >= 0),
    size_bytes   integer NOT NULL CHECK (size_bytes > 0),
    sha256       bytea NOT NULL CHECK (length(sha256) = 32),
    -- The S3 part's ETag (needed to complete a multipart upload).
    etag         text,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (upload_id, n)
);

ALTER TABLE videos
    ADD COLUMN original_name  text CHECK (length(original_name) BETWEEN 1 AND 255),
    ADD COLUMN size_bytes     bigint CHECK (size_bytes > 0),
    ADD COLUMN uploaded_by    uuid,
    -- What ffprobe found (streams, format), kept for support and re-transcodes.
    ADD COLUMN probe          jsonb,
    -- Transcode progress while processing: 0 to 1, and the expected end.
    ADD COLUMN progress       real NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    ADD COLUMN eta_at         timestamptz,
    -- The finished outputs: the rungs (name, size, bitrates), the encoder used, object keys.
    ADD COLUMN renditions     jsonb,
    ADD COLUMN encoder        text,
    ADD COLUMN master_key     text,
    ADD COLUMN poster_key     text,
    ADD COLUMN thumbnails_key text,
    ADD COLUMN processed_at   timestamptz,
    ADD CONSTRAINT videos_uploaded_by_fk FOREIGN KEY (tenant_id, uploaded_by)
        REFERENCES users (tenant_id, id) ON DELETE SET NULL (uploaded_by),
    -- A ready video has its playlist.
    ADD CONSTRAINT videos_ready_has_master CHECK (state <> 'ready' OR master_key IS NOT NULL);

CREATE INDEX videos_uploader_idx ON videos (tenant_id, uploaded_by, created_at DESC);

-- The largest upload a tenant accepts; NULL means the server's default.
ALTER TABLE tenants ADD COLUMN max_upload_bytes bigint CHECK (max_upload_bytes > 0);
