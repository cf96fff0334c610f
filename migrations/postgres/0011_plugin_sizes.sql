-- A plugin's size kept beside its record, as on SQLite (where reading it from plugin_blobs walks
-- the blob's pages); the records are then read without joining the blobs.
ALTER TABLE plugins ADD COLUMN size BIGINT NOT NULL DEFAULT 0;
UPDATE plugins SET size = (SELECT b.size FROM plugin_blobs b WHERE b.digest = plugins.digest);
