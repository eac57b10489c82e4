-- API keys: an editor's named secrets for scripts and integrations (`Authorization: Bearer
-- ft_…`). Only the SHA-256 of the 256-bit secret is kept, so a copy of the database holds no
-- usable key; a request is authenticated by one indexed lookup of that hash. `prefix` is the
-- start of the secret, shown in lists so a key can be recognised.
CREATE TABLE api_keys (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id     uuid NOT NULL,
    user_id       uuid NOT NULL,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix        text NOT NULL CHECK (length(prefix) BETWEEN 4 AND 16),
    key_hash      bytea NOT NULL CHECK (length(key_hash) = 32),
    -- A non-empty subset of {read, write}.
    scopes        text[] NOT NULL CHECK (cardinality(scopes) BETWEEN 1 AND 2
                                         AND scopes <@ ARRAY['read', 'write']),
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- Updated at most once a minute per key, so busy clients do not write on every request.
    last_used_at  timestamptz,
    revoked_at    timestamptz,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- The lookup of every bearer request.
CREATE UNIQUE INDEX api_keys_hash_idx ON api_keys (key_hash);
-- A user's keys, newest first (the studio's list).
CREATE INDEX api_keys_user_idx ON api_keys (tenant_id, user_id, created_at DESC);
