-- Template bundles: the files applied with a template (its skeletons), stored content-addressed
-- so that a file shared by several templates or versions is kept once, and every node reads
-- them from the database. `templates.bundle_path` is where the template file is in its bundle
-- (relative `url`s resolve from its folder); `bundle_digest` tells two bundles apart.
CREATE TABLE template_blobs (
    digest TEXT PRIMARY KEY,
    bytes BLOB NOT NULL,
    size BIGINT NOT NULL
);

CREATE TABLE template_files (
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    path TEXT NOT NULL,
    mode BIGINT NOT NULL,
    digest TEXT NOT NULL REFERENCES template_blobs (digest),
    PRIMARY KEY (name, version, path)
);

ALTER TABLE templates ADD COLUMN bundle_path TEXT;
ALTER TABLE templates ADD COLUMN bundle_digest TEXT;
-- The bundle's paths (a JSON list), so that a preview checks a `url` without reading files.
ALTER TABLE templates ADD COLUMN bundle_paths TEXT;
