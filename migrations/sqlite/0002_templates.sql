-- The template catalog: every applied version of a template is kept.
CREATE TABLE templates (
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    source TEXT NOT NULL,
    title TEXT,
    description TEXT,
    owner TEXT,
    tags TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);
