-- Access tokens are checked against their login on every request (issue 14.3): a revoked
-- family, a disabled user or a changed role ends them at once. A rotated refresh token may be
-- honoured once more within the race grace; this records that it was.
ALTER TABLE refresh_tokens ADD COLUMN grace_used_at timestamptz;

-- The per-request check looks up the live (unrevoked) steps of one login.
CREATE INDEX refresh_tokens_live_family_idx ON refresh_tokens (family_id) WHERE revoked_at IS NULL;
