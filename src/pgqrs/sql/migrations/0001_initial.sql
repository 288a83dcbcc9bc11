-- Version 1: the tables of the first release. The schema placeholder is filled with
-- psycopg.sql.Identifier. Hot queue tables get a lower fillfactor (room for a lease's new row
-- version on the same page; leases change vt, which is indexed, so they are not HOT updates) and
-- eager autovacuum: dead tuples from leases and acks are what slows Postgres queues down.

CREATE TABLE {schema}.pgqrs_schema_version (
    version integer PRIMARY KEY,
    installed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE {schema}.pgqrs_queues (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue_name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pgqrs_queues_queue_name_key UNIQUE (queue_name)
);

CREATE TABLE {schema}.pgqrs_workers (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue_id bigint NOT NULL,
    hostname text NOT NULL,
    pid integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    status text NOT NULL DEFAULT 'running',
    CONSTRAINT pgqrs_workers_queue_id_fkey FOREIGN KEY (queue_id)
        REFERENCES {schema}.pgqrs_queues (id) ON DELETE CASCADE,
    CONSTRAINT pgqrs_workers_status_check CHECK (status IN ('running', 'stopped'))
);

CREATE INDEX pgqrs_workers_queue_id_idx ON {schema}.pgqrs_workers (queue_id);

CREATE TABLE {schema}.pgqrs_messages (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue_id bigint NOT NULL,
    payload jsonb NOT NULL,
    enqueued_at timestamptz NOT NULL DEFAULT now(),
    vt timestamptz NOT NULL DEFAULT now(),
    read_ct integer NOT NULL DEFAULT 0,
    dequeued_at timestamptz,
    worker_id bigint,
    -- A queue with messages cannot be deleted by accident: purge first.
    CONSTRAINT pgqrs_messages_queue_id_fkey FOREIGN KEY (queue_id)
        REFERENCES {schema}.pgqrs_queues (id) ON DELETE RESTRICT,
    -- Removing a worker releases its leases to nobody rather than deleting messages.
    CONSTRAINT pgqrs_messages_worker_id_fkey FOREIGN KEY (worker_id)
        REFERENCES {schema}.pgqrs_workers (id) ON DELETE SET NULL
) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.02);

-- Dequeue is an index range scan: equality on queue_id, then visible rows in (vt, id) order.
CREATE INDEX pgqrs_messages_dequeue_idx ON {schema}.pgqrs_messages (queue_id, vt, id);
CREATE INDEX pgqrs_messages_worker_id_idx ON {schema}.pgqrs_messages (worker_id)
    WHERE worker_id IS NOT NULL;

CREATE TABLE {schema}.pgqrs_archive (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    original_msg_id bigint NOT NULL,
    queue_id bigint NOT NULL,
    payload jsonb NOT NULL,
    enqueued_at timestamptz NOT NULL,
    dequeued_at timestamptz,
    read_ct integer NOT NULL,
    archived_at timestamptz NOT NULL DEFAULT now(),
    processing_duration bigint,
    worker_id bigint,
    dead_letter_reason text,
    CONSTRAINT pgqrs_archive_queue_id_fkey FOREIGN KEY (queue_id)
        REFERENCES {schema}.pgqrs_queues (id) ON DELETE CASCADE,
    CONSTRAINT pgqrs_archive_worker_id_fkey FOREIGN KEY (worker_id)
        REFERENCES {schema}.pgqrs_workers (id) ON DELETE SET NULL
) WITH (autovacuum_vacuum_scale_factor = 0.02);

CREATE INDEX pgqrs_archive_queue_id_idx ON {schema}.pgqrs_archive (queue_id, id);
CREATE INDEX pgqrs_archive_original_msg_id_idx ON {schema}.pgqrs_archive (original_msg_id);
CREATE INDEX pgqrs_archive_worker_id_idx ON {schema}.pgqrs_archive (worker_id)
    WHERE worker_id IS NOT NULL;
