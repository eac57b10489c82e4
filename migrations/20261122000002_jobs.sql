-- The job queue (modelled on River and Oban): one table, claimed with FOR UPDATE SKIP LOCKED.

CREATE TYPE job_state AS ENUM (
    'available',   -- may be claimed now
    'scheduled',   -- waits for run_at
    'running',     -- claimed; lease_until says until when the claim holds
    'retryable',   -- failed, waits for run_at to be tried again
    'completed',
    'discarded',   -- failed max_attempts times (or its worker vanished that often)
    'cancelled'
);

CREATE TABLE jobs (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id           uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind                text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_.]*$' AND length(kind) <= 64),
    payload             jsonb NOT NULL DEFAULT '{}',
    state               job_state NOT NULL DEFAULT 'available',
    -- 0 runs first.
    priority            smallint NOT NULL DEFAULT 2 CHECK (priority BETWEEN 0 AND 4),
    -- Set at claim time from the handler: `gpu` jobs take a slot of the worker's GPU semaphore
    -- and count against the fleet-wide cap.
    resource_class      text NOT NULL DEFAULT 'cpu' CHECK (resource_class IN ('cpu', 'gpu')),
    attempt             integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts        integer NOT NULL DEFAULT 5 CHECK (max_attempts BETWEEN 1 AND 100),
    run_at              timestamptz NOT NULL DEFAULT now(),
    attempted_at        timestamptz,
    -- `host:pid:worker` of every attempt, in order.
    attempted_by        text[] NOT NULL DEFAULT '{}',
    lease_until         timestamptz,
    -- One object per failed attempt: {"attempt", "at", "error"}; never overwritten.
    errors              jsonb[] NOT NULL DEFAULT '{}',
    unique_key          text CHECK (length(unique_key) <= 512),
    cancel_requested_at timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    finalized_at        timestamptz,
    CHECK ((state IN ('completed', 'discarded', 'cancelled')) = (finalized_at IS NOT NULL)),
    CHECK ((state = 'running') = (lease_until IS NOT NULL))
);

-- The claim reads exactly this index, in this order (a single equality on state keeps it usable).
CREATE INDEX jobs_claim_idx ON jobs (priority, run_at, id) WHERE state = 'available';
-- The scheduler moves due scheduled/retryable jobs to available.
CREATE INDEX jobs_due_idx ON jobs (run_at) WHERE state IN ('scheduled', 'retryable');
-- The rescuer finds expired leases.
CREATE INDEX jobs_lease_idx ON jobs (lease_until) WHERE state = 'running';
-- At most one unfinished job per (kind, unique_key): enqueue uses ON CONFLICT DO NOTHING.
CREATE UNIQUE INDEX jobs_unique_idx ON jobs (kind, unique_key)
    WHERE unique_key IS NOT NULL AND state NOT IN ('completed', 'discarded', 'cancelled');
-- The admin page filters by tenant, state and kind, newest first.
CREATE INDEX jobs_admin_idx ON jobs (tenant_id, state, kind, id DESC);
