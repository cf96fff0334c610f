-- A run's template secrets (Backstage's `secrets` of a task): one sealed value in `secrets`,
-- named by `runs.secrets_ref`, inserted with the run and deleted in the transaction that
-- finishes it, whichever way it finishes: they are kept at rest only while the run may use them.
ALTER TABLE runs ADD COLUMN secrets_ref TEXT;

CREATE TRIGGER runs_drop_secrets AFTER UPDATE OF status ON runs
WHEN NEW.secrets_ref IS NOT NULL
 AND NEW.status IN ('succeeded', 'failed', 'cancelled', 'rejected', 'rolled-back', 'rollback-failed')
BEGIN
    DELETE FROM secrets WHERE name = NEW.secrets_ref;
END;
