-- A plugin's size kept beside its record: `size` sits after `bytes` in plugin_blobs, so reading it
-- there walks the blob's overflow pages (megabytes for an interpreted plugin) on every resolve.
ALTER TABLE plugins ADD COLUMN size BIGINT NOT NULL DEFAULT 0;
UPDATE plugins SET size = (SELECT b.size FROM plugin_blobs b WHERE b.digest = plugins.digest);
