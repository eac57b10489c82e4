-- The subtitle editor: a person's changes to a track are saved as drafts and published on
-- request. `edited` records that a person changed the cues (a publication then labels the
-- track `human`, and a new transcription leaves it alone); `published_revision` is the
-- revision `vtt_key`/`playlist_key` belong to, so the editor can tell unpublished changes.
-- A track imported from a file starts as a `draft` with no files.
ALTER TYPE subtitle_state ADD VALUE IF NOT EXISTS 'draft' BEFORE 'transcribing';

ALTER TABLE subtitle_tracks
    ADD COLUMN edited boolean NOT NULL DEFAULT false,
    ADD COLUMN published_revision integer;

UPDATE subtitle_tracks SET published_revision = revision WHERE vtt_key IS NOT NULL;

-- Revision changes are announced already (20261203000001); `edited` goes with them.
