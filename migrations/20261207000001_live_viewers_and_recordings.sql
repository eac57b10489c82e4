-- Live viewer counts (written every 10 s by the server that counts them, `server::live::viewers`)
-- and the draft talk a stream's last recording became (part 6 of the live issue).
ALTER TABLE live_streams
    ADD COLUMN viewers           integer NOT NULL DEFAULT 0 CHECK (viewers >= 0),
    -- The highest count of the current (or last) session.
    ADD COLUMN peak_viewers      integer NOT NULL DEFAULT 0 CHECK (peak_viewers >= 0),
    ADD COLUMN viewers_at        timestamptz,
    ADD COLUMN recording_talk_id uuid;

-- A purged talk leaves the stream without a recording link, never a dangling one.
ALTER TABLE live_streams
    ADD CONSTRAINT live_streams_recording_talk_fk
    FOREIGN KEY (tenant_id, recording_talk_id) REFERENCES talks (tenant_id, id)
    ON DELETE SET NULL (recording_talk_id);
