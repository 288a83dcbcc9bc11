"""Where each setting comes from: --dsn/--schema > --config file > environment > default files.

The DSN's source shows in whether `queue list` reaches the test server (a DSN on port 1 cannot);
the schema's source shows in `install --print-sql`, which reports the schema it would use.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from pgqrs import sync
from tests.cli import runner
from tests.cli.conftest import UNREACHABLE_DSN


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_precedence(
    unconfigured: runner.Cli, admin: sync.PgqrsAdmin, dsn: str, schema: str, tmp_path: Path
) -> None:
    good = f'dsn: "{dsn}"\nschema: {schema}\n'
    default_dir = write(tmp_path / "default" / "pgqrs.yaml", good).parent
    yml_dir = write(tmp_path / "yml" / "pgqrs.yml", good).parent
    bad_default_dir = write(
        tmp_path / "bad" / "pgqrs.yaml", f'dsn: "{UNREACHABLE_DSN}"\nschema: file_schema\n'
    ).parent
    other = str(write(tmp_path / "other.yaml", good))
    bad = str(write(tmp_path / "bad.yaml", f'dsn: "{UNREACHABLE_DSN}"\n'))
    print_sql = ["--format", "json", "install", "--print-sql"]

    def run(arguments: list[str], cwd: Path = tmp_path, **environment: str) -> Callable[[], runner.Result]:
        return functools.partial(unconfigured.run, *arguments, environment=environment, cwd=cwd)

    results = runner.parallel(
        run(["queue", "list"], cwd=default_dir),  # 0: ./pgqrs.yaml
        run(["queue", "list"], cwd=yml_dir),  # 1: ./pgqrs.yml
        run(["queue", "list"], cwd=bad_default_dir, PGQRS_DSN=dsn, PGQRS_SCHEMA=schema),  # 2: env > file
        run(print_sql, cwd=bad_default_dir, PGQRS_DSN=dsn),  # 3: per setting: schema from the file
        run(["--config", other, "queue", "list"], PGQRS_DSN=UNREACHABLE_DSN, PGQRS_SCHEMA="env_schema"),  # 4
        run(["--dsn", dsn, "--config", bad, "queue", "list"], PGQRS_SCHEMA=schema),  # 5: --dsn > --config
        run(["--schema", "flag_schema", "--config", other, *print_sql], PGQRS_SCHEMA="env_schema"),  # 6
        run(["--config", other, *print_sql], PGQRS_SCHEMA="env_schema"),  # 7: --config > env
        run(print_sql, cwd=bad_default_dir, PGQRS_SCHEMA="env_schema"),  # 8: env > default file
        run(["queue", "list"], PGQRS_CONFIG_FILE=other),  # 9: PGQRS_CONFIG_FILE names the file
        run(["-d", UNREACHABLE_DSN, "queue", "list"], cwd=default_dir),  # 10: -d > default file
    )
    for index in (0, 1, 2, 4, 5, 9):
        assert results[index].expect(0).stdout == "no queues\n", index
    assert results[3].expect(0).json()["schema"] == "file_schema"
    assert results[6].expect(0).json()["schema"] == "flag_schema"
    assert results[7].expect(0).json()["schema"] == schema
    assert results[8].expect(0).json()["schema"] == "env_schema"
    assert "port 1 failed: Connection refused" in results[10].expect(1).error


def test_configuration_errors(unconfigured: runner.Cli, tmp_path: Path) -> None:
    broken = str(write(tmp_path / "broken.yaml", 'schema: jobs\ndsn: "postgresql://unclosed\n'))
    unknown = str(write(tmp_path / "unknown.yaml", "dns: postgresql://somewhere\n"))
    not_yaml, misspelt, missing = unconfigured.many(
        ["--config", broken, "queue", "list"],
        ["--config", unknown, "queue", "list"],
        ["--config", str(tmp_path / "absent.yaml"), "queue", "list"],
    )
    assert f"config file {broken!r} is not valid YAML at line" in not_yaml.expect(2).error
    assert "has unknown setting(s): dns" in misspelt.expect(2).error
    assert "absent.yaml' cannot be read" in missing.expect(2).error
    environment = unconfigured.with_environment(PGQRS_DSN=UNREACHABLE_DSN, PGQRS_MAX_CONNECTIONS="lots")
    invalid = environment.run("queue", "list").expect(2)
    assert (
        "max_connections: environment variable PGQRS_MAX_CONNECTIONS has an invalid value 'lots'"
        in invalid.error
    )
