#!/usr/bin/env python3
"""Generates tune/src/storage/optuna-schema.ts: the PostgreSQL DDL of Optuna's RDB storage schema.

ferroptim-tune's PostgreSQL storage writes studies in the very tables Optuna's ``RDBStorage``
uses, so that ``optuna.load_study(storage="postgresql://...")``, optuna-dashboard and Python
workers share them. Rather than transcribing the schema by hand, this script asks the installed
Optuna for it:

* the tables and indexes of ``optuna.storages._rdb.models`` compiled for PostgreSQL by SQLAlchemy
  (``CreateTable`` / ``CreateIndex``; exactly what ``models.BaseModel.metadata.create_all`` runs on
  an empty PostgreSQL database), in dependency order;
* the enum types those tables use (``CREATE TYPE ... AS ENUM``; SQLAlchemy stores an enum member
  by its name) with the numbers Optuna's Python enums give the members;
* ``models.SCHEMA_VERSION`` and ``optuna.__version__``, the ``version_info`` row Optuna writes,
  and Alembic's ``alembic_version`` table with the head revision of Optuna's migration scripts
  (Optuna's ``_VersionManager`` refuses a storage whose revision is not the head) and the list of
  every known revision.

Usage (from the repository root; needs optuna, SQLAlchemy and alembic, e.g. in .venv-optuna):

    .venv-optuna/bin/python scripts/gen_optuna_schema.py            # writes the file
    .venv-optuna/bin/python scripts/gen_optuna_schema.py --check    # exits 1 if it is stale
"""

from __future__ import annotations

import argparse
import enum
import json
import os
import pathlib
import sys

import alembic
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
import optuna
from optuna.storages._rdb import models
from optuna.study._study_direction import StudyDirection
from optuna.trial import TrialState
import sqlalchemy
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex
from sqlalchemy.schema import CreateTable

try:  # SQLAlchemy 2.x
    from sqlalchemy.dialects.postgresql.named_types import CreateEnumType
except ImportError:  # pragma: no cover - SQLAlchemy 1.4
    from sqlalchemy.dialects.postgresql.base import CreateEnumType  # type: ignore[no-redef]

REPO = pathlib.Path(__file__).resolve().parent.parent
OUT = REPO / "tune" / "src" / "storage" / "optuna-schema.ts"
COMMAND = "python scripts/gen_optuna_schema.py"


def ts(value: object) -> str:
    """A TypeScript literal for a JSON-able value."""
    return json.dumps(value, ensure_ascii=False)


def normalize(sql: str) -> str:
    """SQLAlchemy's DDL with its trailing spaces and blank edges removed."""
    return "\n".join(line.rstrip() for line in sql.strip().splitlines())


def enum_members(py_enum: type[enum.Enum]) -> dict[str, int]:
    return {m.name: int(m.value) for m in py_enum}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs")
    parser.add_argument("--out", type=pathlib.Path, default=OUT)
    args = parser.parse_args()

    dialect = postgresql.dialect()
    metadata = models.BaseModel.metadata

    # Enum types, in the order the tables first use them.
    enum_types: dict[str, list[str]] = {}
    enum_ddl: dict[str, str] = {}
    enum_table: dict[str, str] = {}
    tables = []
    for table in metadata.sorted_tables:
        uses = []
        for column in table.columns:
            if isinstance(column.type, sqlalchemy.Enum):
                name = column.type.name
                assert name is not None
                if name not in enum_types:
                    enum_types[name] = list(column.type.enums)
                    pg_enum = postgresql.ENUM(*column.type.enums, name=name)
                    enum_ddl[name] = normalize(str(CreateEnumType(pg_enum).compile(dialect=dialect)))
                    enum_table[name] = table.name
                uses.append(name)
        indexes = sorted(table.indexes, key=lambda i: i.name or "")
        tables.append(
            {
                "name": table.name,
                "types": uses,
                "columns": [c.name for c in table.columns],
                "ddl": normalize(str(CreateTable(table).compile(dialect=dialect))),
                "indexes": [
                    {"name": i.name, "ddl": normalize(str(CreateIndex(i).compile(dialect=dialect)))}
                    for i in indexes
                ],
            }
        )

    version_table = MigrationContext.configure(dialect_name="postgresql")._version
    alembic_ddl = normalize(str(CreateTable(version_table).compile(dialect=dialect)))

    alembic_dir = os.path.join(os.path.dirname(models.__file__), "alembic")
    script = ScriptDirectory(alembic_dir)
    head = script.get_current_head()
    assert head is not None
    revisions = [r.revision for r in script.walk_revisions()]  # head first
    revisions.reverse()

    numbers = {
        "trialstate": enum_members(TrialState),
        "studydirection": enum_members(StudyDirection),
        "trialvaluetype": enum_members(models.TrialValueModel.TrialValueType),
        "trialintermediatevaluetype": enum_members(
            models.TrialIntermediateValueModel.TrialIntermediateValueType
        ),
    }
    assert set(numbers) == set(enum_types), (set(numbers), set(enum_types))
    for name, labels in enum_types.items():
        assert labels == list(numbers[name]), (name, labels, numbers[name])

    out: list[str] = []
    w = out.append
    w("// GENERATED FILE - do not edit. Regenerate with:")
    w(f"//   {COMMAND}")
    w(
        f"// from Optuna {optuna.__version__} (storages/_rdb/models.py and its alembic scripts), "
        f"SQLAlchemy {sqlalchemy.__version__}, alembic {alembic.__version__}."
    )
    w("/**")
    w(" * Optuna's RDB storage schema for PostgreSQL, as the installed Optuna creates it: the")
    w(" * statements `RDBStorage` runs on an empty database (`metadata.create_all`, then the")
    w(" * `version_info` row and Alembic's `alembic_version` stamp its `_VersionManager` checks).")
    w(f" * Generated by `{COMMAND}` from Optuna {optuna.__version__}.")
    w(" * @module")
    w(" */")
    w("")
    w("/** The Optuna version whose models produced this schema (written as `version_info.library_version`). */")
    w(f"export const OPTUNA_VERSION = {ts(optuna.__version__)};")
    w("")
    w("/** Optuna's `models.SCHEMA_VERSION`, the `version_info.schema_version` of every schema Alembic manages. */")
    w(f"export const SCHEMA_VERSION = {models.SCHEMA_VERSION};")
    w("")
    w("/** The head revision of Optuna's Alembic scripts: the `alembic_version` of an up-to-date schema. */")
    w(f"export const ALEMBIC_HEAD = {ts(head)};")
    w("")
    w("/** Every revision of Optuna's Alembic scripts, oldest first (older ones need `optuna storage upgrade`). */")
    w(f"export const ALEMBIC_REVISIONS: readonly string[] = Object.freeze({ts(revisions)});")
    w("")
    w("/** A PostgreSQL enum type of the schema. */")
    w("export interface OptunaEnumType {")
    w("  /** Its name (SQLAlchemy's lower-cased class name). */")
    w("  readonly name: string;")
    w("  /** Its labels (the Python enum's member names), in declaration order. */")
    w("  readonly labels: readonly string[];")
    w("  /** The Python enum's number of each label. */")
    w("  readonly numbers: Readonly<Record<string, number>>;")
    w("  /** The statement creating it. */")
    w("  readonly ddl: string;")
    w("}")
    w("")
    w("/** An index of a table. */")
    w("export interface OptunaIndex {")
    w("  /** Its name. */")
    w("  readonly name: string;")
    w("  /** The statement creating it. */")
    w("  readonly ddl: string;")
    w("}")
    w("")
    w("/** A table of the schema. */")
    w("export interface OptunaTable {")
    w("  /** Its name. */")
    w("  readonly name: string;")
    w("  /** The enum types its columns use. */")
    w("  readonly types: readonly string[];")
    w("  /** Its columns' names, in order. */")
    w("  readonly columns: readonly string[];")
    w("  /** The statement creating it. */")
    w("  readonly ddl: string;")
    w("  /** Its indexes (beyond primary keys and unique constraints). */")
    w("  readonly indexes: readonly OptunaIndex[];")
    w("}")
    w("")
    w("/** The enum types, before the tables that use them. */")
    w("export const ENUM_TYPES: readonly OptunaEnumType[] = Object.freeze<OptunaEnumType[]>([")
    for name, labels in enum_types.items():
        w("  {")
        w(f"    name: {ts(name)},")
        w(f"    labels: {ts(labels)},")
        w(f"    numbers: {ts(numbers[name])},")
        w(f"    ddl: {ts(enum_ddl[name])},")
        w("  },")
    w("]);")
    w("")
    w("/** The tables in dependency order (each after the tables it references). */")
    w("export const TABLES: readonly OptunaTable[] = Object.freeze<OptunaTable[]>([")
    for t in tables:
        w("  {")
        w(f"    name: {ts(t['name'])},")
        w(f"    types: {ts(t['types'])},")
        w(f"    columns: {ts(t['columns'])},")
        w(f"    ddl: {ts(t['ddl'])},")
        w(f"    indexes: {ts(t['indexes'])},")
        w("  },")
    w("]);")
    w("")
    w("/** Alembic's version table, as Alembic creates it. */")
    w("export const ALEMBIC_VERSION_TABLE: OptunaTable = Object.freeze({")
    w(f"  name: {ts(version_table.name)},")
    w("  types: [],")
    w(f"  columns: {ts([c.name for c in version_table.columns])},")
    w(f"  ddl: {ts(alembic_ddl)},")
    w("  indexes: [],")
    w("});")
    w("")
    text = "\n".join(out)

    if args.check:
        current = args.out.read_text() if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale; run `{COMMAND}`", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date")
        return 0
    args.out.write_text(text)
    print(f"wrote {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
