-- Version 2: pgqrs_archive.worker_id is history, not a foreign key. Removing a stale worker no
-- longer erases who processed what, and archiving does no per-row worker check.

ALTER TABLE {schema}.pgqrs_archive DROP CONSTRAINT pgqrs_archive_worker_id_fkey;
DROP INDEX {schema}.pgqrs_archive_worker_id_idx;
