-- Version 7: periodic jobs. One row per schedule, shared by every worker runtime on the schema.
-- A schedule has a cron expression (read in `timezone`) or an interval, never both.
-- last_tick_at is the latest tick recorded (at first the creation time): a runtime enqueues a
-- later tick with one statement that moves it forward (compare-and-set on this row) and inserts
-- the message, so a tick is enqueued once however many runtimes see it due: a concurrent
-- runtime's update waits for the row, then finds last_tick_at moved and changes nothing. Nothing
-- grows with the ticks: no table of past ticks to prune. The message's dedup key names the
-- schedule and the tick (pgqrs.schedules.tick_key); a live message with that key already there
-- counts as the tick's.

CREATE TABLE {schema}.pgqrs_schedules (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    queue_id bigint NOT NULL,
    cron text,
    every_seconds double precision,
    timezone text NOT NULL DEFAULT 'UTC',
    payload jsonb NOT NULL DEFAULT jsonb_build_object(),
    priority integer NOT NULL DEFAULT 0,
    catch_up boolean NOT NULL DEFAULT true,
    last_tick_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pgqrs_schedules_name_key UNIQUE (name),
    CONSTRAINT pgqrs_schedules_queue_id_fkey FOREIGN KEY (queue_id)
        REFERENCES {schema}.pgqrs_queues (id) ON DELETE CASCADE,
    CONSTRAINT pgqrs_schedules_timing_check CHECK ((cron IS NULL) <> (every_seconds IS NULL))
);

CREATE INDEX pgqrs_schedules_queue_id_idx ON {schema}.pgqrs_schedules (queue_id);
