-- Retention and cheap metrics.
--
-- The retention job (worker `retention`) deletes finished jobs, spent tokens and sent mail
-- older than its settings; these indexes let it find them without scanning the tables.
CREATE INDEX jobs_finalized_idx ON jobs (finalized_at) WHERE finalized_at IS NOT NULL;
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);
CREATE INDEX refresh_tokens_revoked_idx ON refresh_tokens (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX email_tokens_expires_idx ON email_tokens (expires_at);
CREATE INDEX email_tokens_used_idx ON email_tokens (used_at) WHERE used_at IS NOT NULL;
CREATE INDEX mail_outbox_sent_idx ON mail_outbox (sent_at) WHERE sent_at IS NOT NULL;

-- /metrics counts unfinished jobs through the claim, due and lease indexes; discarded jobs
-- (what an operator alerts on) get one of their own.
CREATE INDEX jobs_discarded_idx ON jobs (kind) WHERE state = 'discarded';
