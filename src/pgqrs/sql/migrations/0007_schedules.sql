-- Placeholder on branch f-retention only: version 7 belongs to the periodic jobs (f-schedules),
-- whose 0007_schedules.sql replaces this file when the branches merge (take theirs). It exists
-- so that this branch's migrations are numbered without a gap.
SELECT;
