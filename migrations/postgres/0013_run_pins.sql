-- What a template run was previewed and routed with, pinned at submit (docs/architecture.md):
-- each plugin step's action as `name@version` with the component's digest (JSON), so every
-- execution of the run — the first, a retry, a resume after a crash or an approval days later,
-- on any node — runs those versions and not whatever was published since.
ALTER TABLE runs ADD COLUMN pins TEXT;
