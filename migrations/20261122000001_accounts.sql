-- Accounts: users with a role per tenant, refresh-token sessions, single-use email tokens,
-- the mail outbox, host names that select a tenant, and the token-signing key.

-- model::Role; ordered, so `role >= 'editor'` means "editor or more".
CREATE TYPE user_role AS ENUM ('viewer', 'editor', 'admin');

-- Which tenant a request belongs to, by the host name it was sent to (lower case, no port).
CREATE TABLE tenant_hosts (
    host       text PRIMARY KEY CHECK (host ~ '^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$' AND length(host) <= 253),
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE
);

CREATE INDEX tenant_hosts_tenant_idx ON tenant_hosts (tenant_id);

CREATE TABLE users (
    id                 uuid NOT NULL DEFAULT gen_random_uuid(),
    tenant_id          uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- Normalised by model::account::normalize_email (trimmed, lower case).
    email              text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254
                                            AND email LIKE '_%@_%'),
    display_name       text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
    -- PHC string of an argon2id hash (parameters inside, so they can be raised later).
    password_hash      text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    role               user_role NOT NULL DEFAULT 'viewer',
    email_verified_at  timestamptz,
    disabled_at        timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, email)
);

-- A login session: one rotating refresh token per step, all steps of a login share a family.
-- Only the SHA-256 of the token is stored.
CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL,
    user_id     uuid NOT NULL,
    family_id   uuid NOT NULL,
    token_hash  bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    -- Set when the token was exchanged for its successor.
    rotated_at  timestamptz,
    -- Set by logout, "log out everywhere", disabling the user, or reuse of a rotated token.
    revoked_at  timestamptz,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    CHECK (expires_at > created_at)
);

CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (tenant_id, user_id) WHERE revoked_at IS NULL;
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

CREATE TYPE email_token_purpose AS ENUM ('verify_email', 'reset_password');

-- Links sent by mail: single use (used_at), expiring, stored as SHA-256 only.
CREATE TABLE email_tokens (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL,
    user_id     uuid NOT NULL,
    purpose     email_token_purpose NOT NULL,
    token_hash  bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    CHECK (expires_at > created_at)
);

CREATE INDEX email_tokens_user_idx ON email_tokens (tenant_id, user_id, purpose) WHERE used_at IS NULL;

-- Every mail the platform sends is written here in the transaction that causes it, then
-- delivered. Without an SMTP server the mail stays here (held) for /admin/outbox.
CREATE TABLE mail_outbox (
    id          uuid NOT NULL DEFAULT gen_random_uuid(),
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    recipient   text NOT NULL CHECK (length(recipient) <= 254),
    subject     text NOT NULL CHECK (length(subject) <= 300),
    -- Emptied once delivered: links in it are secrets that only the recipient should keep.
    body        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    attempts    integer NOT NULL DEFAULT 0,
    last_error  text,
    sent_at     timestamptz,
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id)
);

CREATE INDEX mail_outbox_pending_idx ON mail_outbox (created_at) WHERE sent_at IS NULL;
CREATE INDEX mail_outbox_tenant_idx ON mail_outbox (tenant_id, created_at DESC);

-- The HMAC key that signs access tokens, created on first start and shared by every server
-- replica through the database (FERROTAPE_JWT_SECRET overrides it).
CREATE TABLE signing_keys (
    id          smallint PRIMARY KEY CHECK (id = 1),
    secret      bytea NOT NULL CHECK (length(secret) >= 32),
    created_at  timestamptz NOT NULL DEFAULT now()
);
