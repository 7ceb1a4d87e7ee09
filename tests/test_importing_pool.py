"""Contacts imports whose numbers are parsed by a pool of processes."""

from __future__ import annotations

import csv
from pathlib import Path

from dialerd import admin
from dialerd.adapters.sqlite_store import SqliteStore
from dialerd.config import LimitsConfig
from dialerd.importing import ImportOptions, import_contacts

ROWS = (
    "phone,first_name,segment\n"
    "+1 212 555 0101,Ada,gold\n"
    "(212) 555-0102,Alan,silver\n"
    "212-555-0101,,\n"
    "not-a-number,Bad,\n"
    "+1 415 555 0199,Grace,gold\n"
    "1-212-555-0103,Edsger,\n"
    "+1 212 55,Short,\n"
    "212-555-0104,Barbara,\n"
)


Outcome = tuple[tuple[int, int, int], list[tuple[str, str, dict[str, str]]], list[tuple[str, str]]]


async def _import(tmp_path: Path, name: str, options: ImportOptions) -> Outcome:
    """Import ROWS into a fresh database; return the report, contacts and error rows."""
    db = tmp_path / f"{name}.sqlite3"
    source = tmp_path / "c.csv"
    source.write_text(ROWS, encoding="utf-8")
    errors = tmp_path / f"{name}.errors.csv"
    async with await SqliteStore.open(db) as store:
        cid = (await admin.create_campaign(store, "c", {}, LimitsConfig())).id
        report = await import_contacts(store, cid, source, options, error_csv=errors)
        contacts = [(c.phone, c.first_name, dict(c.custom)) for c in await store.contacts(cid)]
    with errors.open(encoding="utf-8", newline="") as fh:
        rejected = [(r["row"], r["reason"]) for r in csv.DictReader(fh)]
    return (report.imported, report.merged, report.rejected), contacts, rejected


async def test_a_pool_imports_exactly_what_one_process_imports(tmp_path: Path) -> None:
    """Two parsing processes and small batches give the same contacts, merges and errors."""
    alone = await _import(tmp_path, "alone", ImportOptions(workers=1, batch_rows=3))
    pooled = await _import(tmp_path, "pooled", ImportOptions(workers=2, batch_rows=3))
    assert pooled == alone
    assert alone[0] == (5, 1, 2)
    assert [r for r, _ in alone[2]] == ["5", "8"]
