"""Usage errors: exit code 2, one line on stderr naming the problem, found before connecting.

Every case runs with a DSN nothing listens on: had the command tried to connect, it would
have failed with exit code 1 instead.
"""

from __future__ import annotations

from tests.cli import runner

CASES: list[tuple[list[str], str]] = [
    (
        ["--format", "xml", "queue", "list"],
        "Invalid value for '--format': 'xml' is not one of 'table', 'json'",
    ),
    (["--log-level", "loud", "queue", "list"], "Invalid value for '--log-level'"),
    (["--log-dest", "syslog", "queue", "list"], "Invalid value for '--log-dest'"),
    (["--log-dest", "stderr", "--log-file", "x.log", "queue", "list"], "--log-file needs --log-dest file"),
    (
        ["--log-file", "/no/such/directory/pgqrs.log", "queue", "list"],
        "cannot open /no/such/directory/pgqrs.log",
    ),
    (
        ["--out", "/no/such/directory/out.json", "queue", "list"],
        "directory '/no/such/directory' does not exist",
    ),
    (
        ["--schema", "bad-schema", "queue", "list"],
        "schema (from arguments): invalid schema name 'bad-schema'",
    ),
    (["--dsn"], "Option '--dsn' requires an argument"),
    (["--yes", "uninstall"], "No such option: --yes"),
    (["frobnicate"], "No such command 'frobnicate'"),
    (["queue", "create", "bad name"], "invalid queue name 'bad name'"),
    (["message", "send", "jobs", "{bad"], "invalid JSON: Expecting property name enclosed in double quotes"),
    (["message", "send", "jobs", '{"a": NaN}'], "payload is not valid JSON: Out of range float values"),
    (
        ["message", "send", "jobs", "{}", "--delay", "-5"],
        "must be a finite, non-negative number of seconds, got -5",
    ),
    (["message", "send", "jobs", "{}", "--delay", "soon"], "Invalid value for '--delay'"),
    (["message", "read", "jobs", "--count", "0"], "Invalid value for '--count'"),
    (
        ["message", "read", "jobs", "--lock-time", "nan"],
        "must be a finite, non-negative number of seconds, got nan",
    ),
    (["message", "read", "jobs", "--archive", "--lock-time", "5"], "--lock-time does not apply to --archive"),
    (["message", "delete", "jobs", "0"], "Invalid value for 'ID'"),
    (["message", "show", "jobs", "abc"], "Invalid value for 'ID'"),
    (["archive", "list", "jobs", "--count", "0"], "Invalid value for '--count'"),
    (["worker", "remove-stale"], "Missing option '--older-than'"),
    (["worker", "remove-stale", "--older-than", "-1"], "must be a finite, non-negative number of seconds"),
    (["uninstall"], "uninstall drops every queue and message: pass --yes to confirm"),
]


def test_usage_errors_exit_2_before_connecting(offline: runner.Cli) -> None:
    results = offline.many(*(arguments for arguments, _expected in CASES))
    for (arguments, expected), result in zip(CASES, results, strict=True):
        assert result.code == 2, (arguments, result.stderr)
        assert expected in result.error, (arguments, result.error)
        assert result.stdout == ""


def test_payload_over_the_configured_limit(offline: runner.Cli) -> None:
    small = offline.with_environment(PGQRS_MAX_PAYLOAD_BYTES="16")
    result = small.run("message", "send", "jobs", '{"text": "longer than sixteen bytes"}').expect(2)
    assert result.error == "pgqrs: error: payload is 36 bytes, over max_payload_bytes=16"


def test_groups_without_a_command_show_their_help(offline: runner.Cli) -> None:
    bare, group = offline.many([], ["queue"], rules=False)
    for result, command in ((bare, "pgqrs"), (group, "pgqrs queue")):
        assert result.code == 2
        assert f"Usage: {command} [OPTIONS] COMMAND [ARGS]..." in result.stdout + result.stderr
