"""CSV imports of contacts and do-not-call lists, against real SQLite files."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from dialerd import admin
from dialerd.adapters.sqlite_store import SqliteStore
from dialerd.config import LimitsConfig
from dialerd.core.model import DedupeKey
from dialerd.errors import ConflictError, UsageError
from dialerd.importing import ImportOptions, import_contacts, upload_dnc
from dialerd.numbers import dnc_keys
from tests.conftest import dump

LIMITS = LimitsConfig()

CONTACTS = (
    "phone,first_name,last_name,email,owner,segment\n"
    "+1 212 555 0101,Ada,Lovelace,ada@example.com,,gold\n"
    "(212) 555-0102,Alan,Turing,,1001,silver\n"
    "212-555-0101,,Byron,ada2@example.com,,\n"
    "not-a-number,Bad,Row,,,\n"
    "+1 415 555 0199,Grace,Hopper,grace@example.com,1002,gold\n"
)


async def campaign(store: SqliteStore, **changes: str) -> int:
    """A new campaign's id."""
    return (await admin.create_campaign(store, "c", changes, LIMITS)).id


def write(path: Path, text: str, encoding: str = "utf-8", newline: str = "\n") -> Path:
    """Write ``text`` with the given encoding and line ending."""
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    return path


def read_errors(path: Path) -> list[dict[str, str]]:
    """The rows of an error CSV."""
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


async def test_import_normalises_merges_and_reports(store: SqliteStore, tmp_path: Path) -> None:
    """Numbers become E.164, duplicates merge, custom fields stay, bad rows are reported."""
    cid = await campaign(store)
    errors = tmp_path / "errors.csv"
    report = await import_contacts(
        store, cid, write(tmp_path / "c.csv", CONTACTS), ImportOptions(), error_csv=errors
    )
    assert (report.rows, report.imported, report.merged, report.rejected) == (5, 3, 1, 1)
    contacts = await store.contacts(cid)
    assert [c.phone for c in contacts] == ["+12125550101", "+12125550102", "+14155550199"]
    ada = contacts[0]
    assert (ada.first_name, ada.last_name, ada.email) == ("Ada", "Byron", "ada2@example.com")
    assert ada.custom == {"segment": "gold"}
    assert contacts[1].owner == "1001"
    (bad,) = read_errors(errors)
    assert bad["row"] == "5"
    assert bad["reason"] == "phone: not a phone number (no digits)"
    assert bad["phone"] == "not-a-number"


@pytest.mark.parametrize(
    ("encoding", "newline"),
    [("utf-8", "\n"), ("utf-8", "\r\n"), ("cp932", "\r\n"), ("cp932", "\n")],
)
async def test_japanese_files_in_utf8_and_shift_jis(
    store: SqliteStore, tmp_path: Path, encoding: str, newline: str
) -> None:
    """UTF-8 and Shift_JIS, LF and CRLF, all import the same names."""
    cid = await campaign(store, default_region="JP")
    text = "電話番号,氏名,会社\n03-1234-5678,山田太郎,株式会社テスト\n090-1234-5678,佐藤花子,\n"
    path = write(tmp_path / "jp.csv", text, encoding, newline)
    report = await import_contacts(
        store, cid, path, ImportOptions(mapping={"phone": "電話番号", "first_name": "氏名"})
    )
    assert report.imported == 2
    contacts = await store.contacts(cid)
    assert [(c.phone, c.first_name) for c in contacts] == [
        ("+81312345678", "山田太郎"),
        ("+819012345678", "佐藤花子"),
    ]
    assert contacts[0].custom == {"会社": "株式会社テスト"}


async def test_a_utf8_bom_is_not_part_of_the_first_column(
    store: SqliteStore, tmp_path: Path
) -> None:
    """Spreadsheet exports start with a BOM; the phone column is still found."""
    cid = await campaign(store)
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfphone\n+12125550101\n")
    assert (await import_contacts(store, cid, path, ImportOptions())).imported == 1


async def test_wrong_encoding_is_refused_before_anything_is_written(
    store: SqliteStore, tmp_path: Path, db_path: Path
) -> None:
    """A Shift_JIS file read as UTF-8 stops with the row named, and the store is unchanged."""
    cid = await campaign(store)
    rows = "phone,name\n" + "".join(f"+1212555{i:04d},x\n" for i in range(2000))
    path = write(tmp_path / "sj.csv", rows + "+12125559999,山田\n", "cp932")
    before = dump(db_path)
    with pytest.raises(UsageError, match=r"row 2002: bytes that are not UTF-8"):
        await import_contacts(store, cid, path, ImportOptions(encoding="utf-8", batch_rows=100))
    assert dump(db_path) == before


async def test_malformed_csv_is_refused_with_its_row(store: SqliteStore, tmp_path: Path) -> None:
    """An unclosed quote is a malformed file, not a row error."""
    cid = await campaign(store)
    path = write(tmp_path / "m.csv", 'phone,name\n+12125550101,"open\n')
    with pytest.raises(UsageError, match=r"malformed CSV"):
        await import_contacts(store, cid, path, ImportOptions())
    assert await store.count_contacts(cid) == 0


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        ("", ImportOptions(), "the file is empty"),
        ("name\nx\n", ImportOptions(), "no phone column"),
        ("phone,phone\n1,2\n", ImportOptions(), "'phone' appears twice"),
        ("phone\n1\n", ImportOptions(mapping={"phone": "tel"}), "the file has no column 'tel'"),
        ("phone\n1\n", ImportOptions(mapping={"shoe": "phone"}), "unknown field 'shoe'"),
        ("phone\n1\n2\n3\n", ImportOptions(max_rows=2), "more than 2 rows"),
    ],
)
async def test_file_level_errors(
    store: SqliteStore, tmp_path: Path, text: str, options: ImportOptions, message: str
) -> None:
    """Problems with the whole file are one clear error, and nothing is imported."""
    cid = await campaign(store)
    with pytest.raises(UsageError, match=message):
        await import_contacts(store, cid, write(tmp_path / "f.csv", text), options)
    assert await store.count_contacts(cid) == 0


async def test_row_errors_cover_field_counts_and_dedupe_keys(
    store: SqliteStore, tmp_path: Path
) -> None:
    """A short row and a row without the dedupe field are rejected with reasons."""
    cid = await campaign(store, dedupe_key="email")
    text = "phone,email\n+12125550101,a@x\n+12125550102\n+12125550103,\n+12125550104,A@X\n"
    errors = tmp_path / "e.csv"
    report = await import_contacts(
        store, cid, write(tmp_path / "r.csv", text), ImportOptions(), error_csv=errors
    )
    assert (report.imported, report.merged, report.rejected) == (1, 1, 2)
    assert [(e["row"], e["reason"]) for e in read_errors(errors)] == [
        ("3", "1 fields; the header has 2"),
        ("4", "email: empty, and the campaign merges duplicates by it"),
    ]
    (only,) = await store.contacts(cid)
    assert only.phone == "+12125550104"  # the later duplicate's number wins


async def test_an_interrupted_import_resumes_without_duplicates(
    store: SqliteStore, tmp_path: Path
) -> None:
    """After a stop mid-file, the same command continues after the last committed batch."""
    cid = await campaign(store)
    text = "phone\n" + "".join(f"+1212555{i:04d}\n" for i in range(1000)) + "bad\n"
    path = write(tmp_path / "big.csv", text)
    errors = tmp_path / "big.errors.csv"
    calls = 0

    def stop_after_three(_: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await import_contacts(
            store,
            cid,
            path,
            ImportOptions(batch_rows=100),
            error_csv=errors,
            progress=stop_after_three,
        )
    assert await store.count_contacts(cid) == 300
    report = await import_contacts(
        store, cid, path, ImportOptions(batch_rows=100), error_csv=errors
    )
    assert report.resumed_from == 300
    assert (report.imported, report.merged, report.rejected) == (1000, 0, 1)
    assert await store.count_contacts(cid) == 1000
    assert [e["row"] for e in read_errors(errors)] == ["1002"]
    again = await import_contacts(store, cid, path, ImportOptions(batch_rows=100))
    assert (again.imported, again.merged) == (0, 1000)


async def test_import_into_an_unknown_campaign(store: SqliteStore, tmp_path: Path) -> None:
    """An unknown campaign is named in the error."""
    with pytest.raises(UsageError, match="no campaign 42"):
        await import_contacts(store, 42, write(tmp_path / "x.csv", "phone\n"), ImportOptions())


async def test_dedupe_by_account(store: SqliteStore, tmp_path: Path) -> None:
    """With dedupe by account, two numbers of one account are one contact."""
    cid = await campaign(store)
    text = "phone,account\n+12125550101,A1\n+12125550102,A1\n"
    report = await import_contacts(
        store, cid, write(tmp_path / "a.csv", text), ImportOptions(dedupe_key=DedupeKey.ACCOUNT)
    )
    assert (report.imported, report.merged) == (1, 1)


DNC = "tel\n0312345678\n+81312345679\n0312345678\n12345\n03-1234-5670\n\n" + "9" * 31 + "\n"


async def test_dnc_upload_validates_each_row(store: SqliteStore, tmp_path: Path) -> None:
    """Digits (9-30) and + E.164 are stored once each; every other row is reported."""
    errors = tmp_path / "dnc.errors.csv"
    report = await upload_dnc(
        store,
        write(tmp_path / "d.csv", DNC, "cp932", "\r\n"),
        "national",
        campaign_id=None,
        error_csv=errors,
    )
    assert (report.rows, report.stored, report.rejected) == (7, 2, 4)
    with errors.open(encoding="utf-8", newline="") as fh:
        got = [(r[0], r[1]) for r in list(csv.reader(fh))[1:]]
    assert got == [
        ("5", "5 digits; a number must have 9 to 30"),
        ("6", "only digits are allowed (optionally one leading +)"),
        ("7", "empty"),
        ("8", "31 digits; a number must have 9 to 30"),
    ]


async def test_dnc_checks_every_form_of_a_number(store: SqliteStore, tmp_path: Path) -> None:
    """A national-form entry blocks the E.164 contact, for the global list and a campaign's."""
    cid = await campaign(store, default_region="JP")
    await upload_dnc(store, write(tmp_path / "g.csv", "tel\n0312345678\n"), "g", campaign_id=None)
    own = await upload_dnc(
        store, write(tmp_path / "c.csv", "tel\n+819012345678\n"), "own", campaign_id=cid
    )
    other = await admin.create_campaign(store, "other", {"default_region": "JP"}, LIMITS)
    e164, hits = await admin.check_number(store, "03-1234-5678", campaign=cid, region=None)
    assert e164 == "+81312345678" and [h.name for h in hits] == ["g"]
    _, hits = await admin.check_number(store, "090-1234-5678", campaign=cid, region=None)
    assert [h.id for h in hits] == [own.list.id]
    _, hits = await admin.check_number(store, "090-1234-5678", campaign=other.id, region=None)
    assert hits == []


async def test_a_number_on_several_lists_counts_once(store: SqliteStore, tmp_path: Path) -> None:
    """The same number twice in one list is stored once; in two lists, each list holds it."""
    path = write(tmp_path / "d.csv", "tel\n0312345678\n0312345678\n")
    one = await upload_dnc(store, path, "a", campaign_id=None)
    await upload_dnc(store, path, "b", campaign_id=None)
    assert one.stored == 1
    assert len(await store.dnc_matches(dnc_keys("+81312345678"), None)) == 2


async def test_replace_swaps_the_list_and_delete_removes_it(
    store: SqliteStore, tmp_path: Path
) -> None:
    """A re-upload replaces the list whole; deleting it frees the numbers."""
    first = await upload_dnc(
        store, write(tmp_path / "1.csv", "tel\n0312345678\n"), "l", campaign_id=None
    )
    with pytest.raises(ConflictError, match="use --replace"):
        await upload_dnc(
            store, write(tmp_path / "2.csv", "tel\n0312345679\n"), "l", campaign_id=None
        )
    second = await upload_dnc(
        store, tmp_path / "2.csv", "l", campaign_id=None, replace_existing=True
    )
    assert second.replaced
    assert [x.name for x in await store.dnc_lists()] == ["l"]
    assert await store.dnc_matches(["0312345678"], None) == []
    assert [x.id for x in await store.dnc_matches(["0312345679"], None)] == [second.list.id]
    assert first.list.id != second.list.id
    await store.delete_dnc_list(second.list.id)
    assert await store.dnc_lists() == []


async def test_a_failed_upload_keeps_the_old_list(
    store: SqliteStore, tmp_path: Path, db_path: Path
) -> None:
    """An upload that fails midway (too many rows) leaves every list and number as it was.

    Only the id the failed upload took is gone: list ids are never reused.
    """
    await upload_dnc(store, write(tmp_path / "1.csv", "tel\n0312345678\n"), "l", campaign_id=None)
    before = dump(db_path)
    big = write(tmp_path / "big.csv", "tel\n" + "".join(f"03{i:08d}\n" for i in range(50)))
    with pytest.raises(UsageError, match="more than 10 rows"):
        await upload_dnc(
            store, big, "l", campaign_id=None, replace_existing=True, max_rows=10, batch_rows=5
        )
    after = dump(db_path)
    assert [x for x in after if "sqlite_sequence" not in x] == [
        x for x in before if "sqlite_sequence" not in x
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "the file is empty"), ("phone\n0312345678\n", "header must be the single column tel")],
)
async def test_dnc_file_errors(store: SqliteStore, tmp_path: Path, text: str, message: str) -> None:
    """A DNC file without the tel header is refused whole."""
    with pytest.raises(UsageError, match=message):
        await upload_dnc(store, write(tmp_path / "x.csv", text), "x", campaign_id=None)
    assert await store.dnc_lists() == []


async def test_a_number_added_while_running_is_seen_by_the_next_check(
    store: SqliteStore, tmp_path: Path
) -> None:
    """The check reads committed lists at call time, so a new entry blocks at once."""
    cid = await campaign(store)
    assert (await admin.check_number(store, "2125550101", campaign=cid, region=None))[1] == []
    await upload_dnc(store, write(tmp_path / "n.csv", "tel\n2125550101\n"), "n", campaign_id=cid)
    assert (await admin.check_number(store, "2125550101", campaign=cid, region=None))[1] != []


def test_now_is_utc() -> None:
    """Service timestamps are timezone-aware UTC."""
    assert admin.utcnow().tzinfo is dt.UTC
