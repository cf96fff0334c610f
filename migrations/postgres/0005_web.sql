-- The web UI: server-side sessions and run ratings.

-- A browser session: only the SHA-256 of the cookie value is kept. The CSRF token travels in
-- every state-changing form; a session is dead once expired or revoked (sign-out).
CREATE TABLE web_sessions (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    csrf TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    -- For an OIDC sign-in: the verified identity (user, groups, team) the principal is rebuilt from.
    identity TEXT
);

-- An OIDC sign-in under way: the SHA-256 of its `state`, the PKCE verifier and nonce, where to
-- return; taken (deleted) once by the callback.
CREATE TABLE oidc_logins (
    state_hash TEXT PRIMARY KEY,
    verifier TEXT NOT NULL,
    nonce TEXT NOT NULL,
    next TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- A requester's rating of a finished run (1 to 5, with a comment); a second rating replaces it.
CREATE TABLE run_ratings (
    run_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    score BIGINT NOT NULL,
    comment TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (run_id, user_id)
);
