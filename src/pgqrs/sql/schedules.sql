-- Queries on pgqrs_schedules. Columns in ScheduleInfo order: id, name, queue_name, cron,
-- every_seconds, timezone, payload, priority, catch_up, last_tick_at, created_at.

-- name: schedule_add :one
-- A new schedule, or (replace) a new definition for an existing name, which keeps its
-- last_tick_at: the ticks already enqueued stay enqueued. No row back: the name is taken.
WITH written AS (
    INSERT INTO {schema}.pgqrs_schedules AS s
        (name, queue_id, cron, every_seconds, timezone, payload, priority, catch_up)
    VALUES (%(name)s, %(queue_id)s, %(cron)s, %(every_seconds)s, %(timezone)s, %(payload)s::jsonb,
            %(priority)s, %(catch_up)s)
    ON CONFLICT (name) DO UPDATE
    SET queue_id = excluded.queue_id, cron = excluded.cron, every_seconds = excluded.every_seconds,
        timezone = excluded.timezone, payload = excluded.payload, priority = excluded.priority,
        catch_up = excluded.catch_up
    WHERE %(replace)s
    RETURNING s.*
)
SELECT w.id, w.name, q.queue_name, w.cron, w.every_seconds, w.timezone, w.payload, w.priority,
       w.catch_up, w.last_tick_at, w.created_at
FROM written w JOIN {schema}.pgqrs_queues q ON q.id = w.queue_id;

-- name: schedule_get :one
SELECT s.id, s.name, q.queue_name, s.cron, s.every_seconds, s.timezone, s.payload, s.priority,
       s.catch_up, s.last_tick_at, s.created_at
FROM {schema}.pgqrs_schedules s JOIN {schema}.pgqrs_queues q ON q.id = s.queue_id
WHERE s.id = %(id)s;

-- name: schedule_get_by_name :one
SELECT s.id, s.name, q.queue_name, s.cron, s.every_seconds, s.timezone, s.payload, s.priority,
       s.catch_up, s.last_tick_at, s.created_at
FROM {schema}.pgqrs_schedules s JOIN {schema}.pgqrs_queues q ON q.id = s.queue_id
WHERE s.name = %(name)s;

-- name: schedule_list :many
SELECT s.id, s.name, q.queue_name, s.cron, s.every_seconds, s.timezone, s.payload, s.priority,
       s.catch_up, s.last_tick_at, s.created_at
FROM {schema}.pgqrs_schedules s JOIN {schema}.pgqrs_queues q ON q.id = s.queue_id
ORDER BY s.name;

-- name: schedule_filter_by_queue :many
SELECT s.id, s.name, q.queue_name, s.cron, s.every_seconds, s.timezone, s.payload, s.priority,
       s.catch_up, s.last_tick_at, s.created_at
FROM {schema}.pgqrs_schedules s JOIN {schema}.pgqrs_queues q ON q.id = s.queue_id
WHERE s.queue_id = %(queue_id)s ORDER BY s.name;

-- name: schedule_due :many
-- What a runtime's scheduler reads on each pass: the database clock's time (ticks are computed
-- against it, never against the worker's clock), then each schedule's queue id and ScheduleInfo.
SELECT now(), s.queue_id, s.id, s.name, q.queue_name, s.cron, s.every_seconds, s.timezone, s.payload,
       s.priority, s.catch_up, s.last_tick_at, s.created_at
FROM (SELECT) AS clock
LEFT JOIN ({schema}.pgqrs_schedules s JOIN {schema}.pgqrs_queues q ON q.id = s.queue_id) ON true
ORDER BY s.id;

-- name: schedule_tick :one
-- Record a tick and (enqueue) insert its message: the compare-and-set on last_tick_at lets one
-- runtime per tick through (see migration 0007). Wakes idle workers. No row: another had it.
WITH claimed AS (
    UPDATE {schema}.pgqrs_schedules SET last_tick_at = %(tick_at)s
    WHERE id = %(id)s AND last_tick_at < %(tick_at)s
    RETURNING queue_id, payload, priority
), inserted AS (
    INSERT INTO {schema}.pgqrs_messages (queue_id, payload, priority, dedup_key)
    SELECT queue_id, payload, priority, %(dedup_key)s FROM claimed WHERE %(enqueue)s
    ON CONFLICT (queue_id, dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING
    RETURNING id, queue_id
), woken AS MATERIALIZED (
    SELECT pg_notify(%(channel)s, %(wake)s) FROM inserted
)
SELECT (SELECT id FROM inserted), (SELECT count(*) FROM woken) FROM claimed;

-- name: schedule_count :one
SELECT count(*) FROM {schema}.pgqrs_schedules;

-- name: schedule_count_by_queue :one
SELECT count(*) FROM {schema}.pgqrs_schedules WHERE queue_id = %(queue_id)s;

-- name: schedule_delete :one
WITH deleted AS (DELETE FROM {schema}.pgqrs_schedules WHERE id = %(id)s RETURNING id)
SELECT count(*) FROM deleted;

-- name: schedule_delete_by_name :one
WITH deleted AS (DELETE FROM {schema}.pgqrs_schedules WHERE name = %(name)s RETURNING id)
SELECT count(*) FROM deleted;
