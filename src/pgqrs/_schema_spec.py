"""What `verify` expects to find: the catalog facts the migrations create, at their latest version.

tests/integration check that a fresh install matches this exactly (nothing missing, nothing
extra), so the migrations and this description cannot drift apart.
"""

from __future__ import annotations

SCHEMA_VERSION = 8

_TIMESTAMP = "timestamp with time zone"

# table -> [(column, type, not null)]
COLUMNS: dict[str, list[tuple[str, str, bool]]] = {
    "pgqrs_schema_version": [("version", "integer", True), ("installed_at", _TIMESTAMP, True)],
    "pgqrs_queues": [("id", "bigint", True), ("queue_name", "text", True), ("created_at", _TIMESTAMP, True)],
    "pgqrs_workers": [
        ("id", "bigint", True),
        ("queue_id", "bigint", True),
        ("hostname", "text", True),
        ("pid", "integer", True),
        ("started_at", _TIMESTAMP, True),
        ("heartbeat_at", _TIMESTAMP, True),
        ("status", "text", True),
    ],
    "pgqrs_messages": [
        ("id", "bigint", True),
        ("queue_id", "bigint", True),
        ("payload", "jsonb", True),
        ("enqueued_at", _TIMESTAMP, True),
        ("vt", _TIMESTAMP, True),
        ("read_ct", "integer", True),
        ("dequeued_at", _TIMESTAMP, False),
        ("worker_id", "bigint", False),
        ("last_error", "text", False),
        ("trace_context", "text", False),
        ("priority", "integer", True),
        ("dedup_key", "text", False),
    ],
    "pgqrs_archive": [
        ("id", "bigint", True),
        ("original_msg_id", "bigint", True),
        ("queue_id", "bigint", True),
        ("payload", "jsonb", True),
        ("enqueued_at", _TIMESTAMP, True),
        ("dequeued_at", _TIMESTAMP, False),
        ("read_ct", "integer", True),
        ("archived_at", _TIMESTAMP, True),
        ("processing_duration", "bigint", False),
        ("worker_id", "bigint", False),
        ("dead_letter_reason", "text", False),
        ("last_error", "text", False),
    ],
    "pgqrs_archive_counts": [
        ("queue_id", "bigint", True),
        ("shard", "integer", True),
        ("archived", "bigint", True),
        ("dead_letters", "bigint", True),
    ],
    "pgqrs_schedules": [
        ("id", "bigint", True),
        ("name", "text", True),
        ("queue_id", "bigint", True),
        ("cron", "text", False),
        ("every_seconds", "double precision", False),
        ("timezone", "text", True),
        ("payload", "jsonb", True),
        ("priority", "integer", True),
        ("catch_up", "boolean", True),
        ("last_tick_at", _TIMESTAMP, True),
        ("created_at", _TIMESTAMP, True),
    ],
}

# index -> the part of pg_get_indexdef() from "USING" on (schema-independent)
INDEXES: dict[str, str] = {
    "pgqrs_schema_version_pkey": "USING btree (version)",
    "pgqrs_queues_pkey": "USING btree (id)",
    "pgqrs_queues_queue_name_key": "USING btree (queue_name)",
    "pgqrs_workers_pkey": "USING btree (id)",
    "pgqrs_workers_queue_id_idx": "USING btree (queue_id)",
    "pgqrs_messages_pkey": "USING btree (id)",
    "pgqrs_messages_dequeue_idx": "USING btree (queue_id, vt, id)",
    "pgqrs_messages_priority_idx": "USING btree (queue_id, priority DESC, vt, id) WHERE (priority > 0)",
    "pgqrs_messages_dedup_idx": "USING btree (queue_id, dedup_key) WHERE (dedup_key IS NOT NULL)",
    "pgqrs_messages_worker_id_idx": "USING btree (worker_id) WHERE (worker_id IS NOT NULL)",
    "pgqrs_messages_type_idx": (
        "USING btree (((((queue_id)::text || ':'::text) || (payload ->> 'type'::text))), vt, id) "
        "WHERE (payload ? 'type'::text)"
    ),
    "pgqrs_messages_type_priority_idx": (
        "USING btree (((((queue_id)::text || ':'::text) || (payload ->> 'type'::text))), "
        "priority DESC, vt, id) WHERE ((priority > 0) AND (payload ? 'type'::text))"
    ),
    "pgqrs_archive_pkey": "USING btree (id)",
    "pgqrs_archive_queue_id_idx": "USING btree (queue_id, id)",
    "pgqrs_archive_original_msg_id_idx": "USING btree (original_msg_id)",
    "pgqrs_archive_dead_letters_idx": "USING btree (queue_id, id) WHERE (dead_letter_reason IS NOT NULL)",
    "pgqrs_archive_archived_at_idx": "USING btree (queue_id, archived_at)",
    "pgqrs_archive_counts_pkey": "USING btree (queue_id, shard)",
    "pgqrs_schedules_pkey": "USING btree (id)",
    "pgqrs_schedules_name_key": "USING btree (name)",
    "pgqrs_schedules_queue_id_idx": "USING btree (queue_id)",
}

# constraint -> its definition with the schema qualifier removed
CONSTRAINTS: dict[str, str] = {
    "pgqrs_schema_version_pkey": "PRIMARY KEY (version)",
    "pgqrs_queues_pkey": "PRIMARY KEY (id)",
    "pgqrs_queues_queue_name_key": "UNIQUE (queue_name)",
    "pgqrs_workers_pkey": "PRIMARY KEY (id)",
    "pgqrs_workers_queue_id_fkey": "FOREIGN KEY (queue_id) REFERENCES pgqrs_queues(id) ON DELETE CASCADE",
    "pgqrs_workers_status_check": "CHECK ((status = ANY (ARRAY['running'::text, 'stopped'::text])))",
    "pgqrs_messages_pkey": "PRIMARY KEY (id)",
    "pgqrs_messages_queue_id_fkey": "FOREIGN KEY (queue_id) REFERENCES pgqrs_queues(id) ON DELETE RESTRICT",
    "pgqrs_messages_worker_id_fkey": (
        "FOREIGN KEY (worker_id) REFERENCES pgqrs_workers(id) ON DELETE SET NULL"
    ),
    "pgqrs_archive_pkey": "PRIMARY KEY (id)",
    "pgqrs_archive_queue_id_fkey": "FOREIGN KEY (queue_id) REFERENCES pgqrs_queues(id) ON DELETE CASCADE",
    "pgqrs_archive_counts_pkey": "PRIMARY KEY (queue_id, shard)",
    "pgqrs_archive_counts_queue_id_fkey": (
        "FOREIGN KEY (queue_id) REFERENCES pgqrs_queues(id) ON DELETE CASCADE"
    ),
    "pgqrs_schedules_pkey": "PRIMARY KEY (id)",
    "pgqrs_schedules_name_key": "UNIQUE (name)",
    "pgqrs_schedules_queue_id_fkey": "FOREIGN KEY (queue_id) REFERENCES pgqrs_queues(id) ON DELETE CASCADE",
    "pgqrs_schedules_timing_check": "CHECK (((cron IS NULL) <> (every_seconds IS NULL)))",
}

# function -> its identity arguments (pg_get_function_identity_arguments)
FUNCTIONS: dict[str, str] = {
    "pgqrs_dequeue": (
        "p_queue_id bigint, p_worker_id bigint, p_limit integer, p_lock_time double precision, "
        "p_message_type text"
    ),
    "pgqrs_archive_partition": "p_days_ahead integer",
    "pgqrs_archive_drop_partition": "p_before timestamp with time zone, p_dead_letters boolean",
    "pgqrs_archive_partition_by_day": "p_days_ahead integer",
}

# A partitioned archive (archive_partitioning: daily): its primary key holds the partition key.
PARTITIONED_INDEXES = {"pgqrs_archive_pkey": "USING btree (id, archived_at)"}
PARTITIONED_CONSTRAINTS = {"pgqrs_archive_pkey": "PRIMARY KEY (id, archived_at)"}


def _unqualified(definition: str, schema: str) -> str:
    for prefix in (f'"{schema}".', f"{schema}."):
        definition = definition.replace(prefix, "")
    return definition


def problems(
    schema: str,
    columns: list[tuple[str, str, str, bool]],
    relations: list[tuple[str, str, str | None]],
    version: int | None,
) -> list[str]:
    """Return every difference between the catalog rows found and what the migrations create:
    what is missing or different, then what is there but should not be (drift)."""
    found_columns: dict[str, dict[str, tuple[str, bool]]] = {}
    for table, column, type_name, not_null in columns:
        found_columns.setdefault(table, {})[column] = (type_name, not_null)
    found = {(kind, name): definition for kind, name, definition in relations if kind != "default partition"}
    with_default = {name for kind, name, _definition in relations if kind == "default partition"}
    issues: list[str] = []
    for table, expected in COLUMNS.items():
        if ("table", table) not in found:
            issues.append(f"table {schema}.{table} is missing")
            continue
        issues.extend(_column_problems(schema, table, expected, found_columns.get(table, {})))
    partitioned = found.get(("table", "pgqrs_archive")) == "partitioned"
    if partitioned and "pgqrs_archive" not in with_default:
        # Without it, archiving on a day that has no partition yet would fail.
        issues.append(f"table {schema}.pgqrs_archive has no default partition (pgqrs_archive_default)")
    issues.extend(_definition_problems(schema, found, partitioned))
    issues.extend(_extras(schema, found, found_columns))
    if ("table", "pgqrs_schema_version") in found:
        issues.extend(_version_problems(version))
    return issues


def _definition_problems(
    schema: str, found: dict[tuple[str, str], str | None], partitioned: bool
) -> list[str]:
    issues = []
    indexes = {**INDEXES, **PARTITIONED_INDEXES} if partitioned else INDEXES
    constraints = {**CONSTRAINTS, **PARTITIONED_CONSTRAINTS} if partitioned else CONSTRAINTS
    for index, using in indexes.items():
        definition = found.get(("index", index))
        if definition is None:
            issues.append(f"index {index} is missing")
        elif not definition.endswith(using):
            issues.append(f"index {index} differs: expected {using!r}, found {definition!r}")
    for constraint, expected_definition in constraints.items():
        definition = found.get(("constraint", constraint))
        if definition is None:
            issues.append(f"constraint {constraint} is missing")
        elif _unqualified(definition, schema) != expected_definition:
            issues.append(f"constraint {constraint} differs: found {definition!r}")
    for function, arguments in FUNCTIONS.items():
        definition = found.get(("function", function))
        if definition is None:
            issues.append(f"function {schema}.{function} is missing")
        elif definition != arguments:
            issues.append(
                f"function {schema}.{function} differs: takes ({definition}), expected ({arguments})"
            )
    return issues


def _extras(
    schema: str, found: dict[tuple[str, str], str | None], columns: dict[str, dict[str, tuple[str, bool]]]
) -> list[str]:
    """Return the pgqrs-named objects (and the columns of pgqrs tables) nothing creates."""
    expected: dict[str, set[str]] = {
        "table": set(COLUMNS),
        "index": set(INDEXES),
        "constraint": set(CONSTRAINTS),
        "function": set(FUNCTIONS),
    }
    issues = []
    for kind, name in sorted(found):
        if name not in expected[kind]:
            shown = f"{schema}.{name}" if kind in ("table", "function") else name
            issues.append(f"{kind} {shown} is not part of pgqrs (extra)")
    for table, table_columns in columns.items():
        wanted = {column for column, _type, _null in COLUMNS.get(table, [])}
        if table in COLUMNS:
            issues.extend(
                f"column {schema}.{table}.{column} is not part of pgqrs (extra)"
                for column in table_columns
                if column not in wanted
            )
    return issues


def _version_problems(version: int | None) -> list[str]:
    if version == SCHEMA_VERSION:
        return []
    if version is not None and version > SCHEMA_VERSION:
        return [f"schema version is {version}, newer than this pgqrs ({SCHEMA_VERSION}): upgrade pgqrs"]
    return [f"schema version is {version}, this pgqrs expects {SCHEMA_VERSION} (install upgrades it)"]


def _column_problems(
    schema: str, table: str, expected: list[tuple[str, str, bool]], found: dict[str, tuple[str, bool]]
) -> list[str]:
    issues = []
    for column, type_name, not_null in expected:
        actual = found.get(column)
        if actual is None:
            issues.append(f"column {schema}.{table}.{column} is missing")
        elif actual != (type_name, not_null):
            want = f"{type_name}{' NOT NULL' if not_null else ''}"
            got = f"{actual[0]}{' NOT NULL' if actual[1] else ''}"
            issues.append(f"column {schema}.{table}.{column} is {got}, expected {want}")
    return issues
