-- The viewer's library: where each viewer is in each talk (continue watching, history) and
-- the talks they saved to watch later.
--
-- An owner is a signed-in user ('user') or a browser's anonymous id kept in localStorage
-- ('viewer'). The two kinds never mix: an anonymous id that happens to equal a user's id
-- reaches nothing of theirs. The analytics writer keeps progress current as it folds beacons
-- into views (store::analytics), so a heartbeat is the only write a resume position costs; an
-- anonymous viewer's rows move to their account the first time they use the library signed in
-- (store::library::merge_viewer).
CREATE TABLE library_progress (
    owner_kind text NOT NULL CHECK (owner_kind IN ('user', 'viewer')),
    owner      uuid NOT NULL,
    talk_id    uuid NOT NULL,
    tenant_id  uuid NOT NULL,
    -- Where the latest view was (seconds), and whether that is at its end (95 % or more).
    position   real NOT NULL DEFAULT 0,
    at_end     boolean NOT NULL DEFAULT false,
    furthest   real NOT NULL DEFAULT 0,
    -- Once watched (95 % reached, or played to the end), always watched.
    watched    boolean NOT NULL DEFAULT false,
    -- The latest view's last event: only a newer view moves the position.
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (owner_kind, owner, talk_id)
);

CREATE INDEX library_progress_recent
    ON library_progress (owner_kind, owner, tenant_id, updated_at DESC);
CREATE INDEX library_progress_talk ON library_progress (talk_id);

CREATE TABLE library_watch_later (
    owner_kind text NOT NULL CHECK (owner_kind IN ('user', 'viewer')),
    owner      uuid NOT NULL,
    talk_id    uuid NOT NULL,
    tenant_id  uuid NOT NULL,
    added_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner_kind, owner, talk_id)
);

CREATE INDEX library_watch_later_recent
    ON library_watch_later (owner_kind, owner, tenant_id, added_at DESC);
CREATE INDEX library_watch_later_talk ON library_watch_later (talk_id);

-- No foreign key to talks: the analytics writer must never fail a batch of events because a
-- talk was purged meanwhile. Reads join talks (so rows of unreachable talks never show), and a
-- purged talk takes its rows with it here.
CREATE FUNCTION library_forget_talk() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM library_progress WHERE talk_id = OLD.id;
    DELETE FROM library_watch_later WHERE talk_id = OLD.id;
    RETURN OLD;
END $$;

CREATE TRIGGER talks_forget_library AFTER DELETE ON talks
    FOR EACH ROW EXECUTE FUNCTION library_forget_talk();
