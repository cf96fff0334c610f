-- A single-action run is a one-step template run (docs/architecture.md): its one step, `main`,
-- has a row like any template step. Action runs recorded before that get theirs here, so a run
-- left unfinished by the previous version resumes on the one path (attempt 1 again: the same
-- idempotency key), and a finished one shows and replays its step like any other.
INSERT INTO run_steps (run_id, step_id, position, status, attempts, input, output, error, updated_at)
SELECT id, 'main', 0,
       CASE status
           WHEN 'succeeded' THEN 'succeeded'
           WHEN 'failed' THEN 'failed'
           WHEN 'running' THEN 'running'
           ELSE 'pending'
       END,
       CASE WHEN status IN ('succeeded', 'failed', 'running') THEN 1 ELSE 0 END,
       CASE WHEN status IN ('succeeded', 'failed', 'running') THEN input END,
       output, error, updated_at
FROM runs
WHERE template IS NULL
  AND NOT EXISTS (SELECT 1 FROM run_steps s WHERE s.run_id = runs.id);
