-- Version 5 (operations): dead letters read a page at a time, throughput per minute, and the
-- trace context a producer's span hands to the handler's. Both indexes are built under this
-- migration's lock (writes to the archive wait while they build: upgrade large archives
-- off-peak); the new column has no default, so adding it rewrites nothing.

-- A queue's dead letters by id (admin.dead_letters, requeue, the dashboard): only dead letters
-- are in it, so a page of them never walks the queue's acknowledged records.
CREATE INDEX pgqrs_archive_dead_letters_idx ON {schema}.pgqrs_archive (queue_id, id)
    WHERE dead_letter_reason IS NOT NULL;

-- Throughput: what a queue archived since a moment is a range of this index (the last hour's
-- records), never the whole archive.
CREATE INDEX pgqrs_archive_archived_at_idx ON {schema}.pgqrs_archive (queue_id, archived_at);

-- W3C traceparent of the enqueue's span (pgqrs.instrumentation; NULL without OpenTelemetry).
ALTER TABLE {schema}.pgqrs_messages ADD COLUMN trace_context text;
