"""CSV imports: contacts into a campaign, and do-not-call lists.

Contacts: the file is read twice, streaming both times so memory does not grow with its
size. The first pass decodes and parses every record; an undecodable byte or a broken
quote stops the import before anything is written, naming the row. The second pass
normalises numbers, merges duplicates and commits in batches. Each batch commits with the
import's checkpoint (rows read so far), so an import is **resumable**: if it is interrupted,
running the same command on the same file continues after the last committed batch, and a
row is never imported twice. Rows that fail validation go to an error CSV with their row
number (the header is row 1) and the reason.

Do-not-call lists are uploaded into a hidden list that is honoured only once complete; a
re-upload replaces the old list in the same transaction that names the new one, so the old
numbers keep being honoured until the new ones are all in.
"""

from __future__ import annotations

import asyncio
import collections
import csv
import datetime as dt
import hashlib
import json
import multiprocessing
import os
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from dialerd.core.model import DedupeKey, DncList
from dialerd.errors import UsageError
from dialerd.numbers import InvalidNumber, dnc_entry, normalize
from dialerd.ports import ContactRow, Store

Encoding = Literal["auto", "utf-8", "cp932"]
Progress = Callable[[int], None]
"""Called with the number of records just processed."""

CONTACT_FIELDS = (
    "phone",
    "first_name",
    "last_name",
    "email",
    "company",
    "account",
    "owner",
    "timezone",
)
_SYNONYMS: Mapping[str, str] = {
    "phone": "phone",
    "tel": "phone",
    "telephone": "phone",
    "phone_number": "phone",
    "number": "phone",
    "first_name": "first_name",
    "firstname": "first_name",
    "last_name": "last_name",
    "lastname": "last_name",
    "email": "email",
    "e-mail": "email",
    "company": "company",
    "account": "account",
    "owner": "owner",
    "agent": "owner",
    "timezone": "timezone",
}
_SNIFF_BYTES = 1 << 16
_POOL_MIN_ROWS = 20_000


def detect_encoding(path: Path, encoding: Encoding) -> str:
    """The codec to read ``path`` with: UTF-8 (BOM or not) or Shift_JIS (CP932)."""
    if encoding == "cp932":
        return "cp932"
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if encoding == "utf-8":
        return "utf-8"
    try:
        # A multi-byte character may be cut at the end of the sample.
        head.decode("utf-8") if len(head) < _SNIFF_BYTES else head[:-4].decode("utf-8")
    except UnicodeDecodeError:
        return "cp932"
    return "utf-8"


def fingerprint(path: Path) -> str:
    """A content hash, so that a resumed import is the same file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _Records:
    """CSV records with their spreadsheet row number (header = row 1)."""

    def __init__(self, path: Path, codec: str) -> None:
        self.path = path
        self.codec = codec

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        with self.path.open("rb") as raw:
            # Decode line by line (a newline byte never occurs inside a UTF-8 or CP932
            # character), so that an undecodable byte is reported at its own row rather
            # than at the start of a read-ahead buffer.
            lines = (line.decode(self.codec) for line in raw)
            reader = csv.reader(lines, strict=True)
            row = 0
            try:
                for row, record in enumerate(reader, start=1):
                    yield row, record
            except UnicodeDecodeError:
                raise UsageError(
                    f"{self.path}: row {row + 1}: bytes that are not {_codec_name(self.codec)};"
                    " pass --encoding if the file is in another encoding"
                ) from None
            except csv.Error as exc:
                raise UsageError(f"{self.path}: row {row + 1}: malformed CSV ({exc})") from None


def _codec_name(codec: str) -> str:
    return "Shift_JIS (CP932)" if codec == "cp932" else "UTF-8"


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """How to read a contacts CSV."""

    encoding: Encoding = "auto"
    mapping: Mapping[str, str] = field(default_factory=dict)
    """dialerd field -> CSV column; unmapped columns are matched by name, rest are custom."""
    default_region: str | None = None
    dedupe_key: DedupeKey | None = None
    batch_rows: int = 500
    max_rows: int = 5_000_000
    keep_custom: bool = True
    workers: int | None = None
    """Processes parsing numbers; ``None``: one per core (at most 4) for large files."""

    def as_json(self) -> str:
        """A canonical form, so that a resume must use the same options."""
        return json.dumps(
            {
                "encoding": self.encoding,
                "mapping": dict(sorted(self.mapping.items())),
                "region": self.default_region,
                "dedupe": self.dedupe_key.value if self.dedupe_key else None,
                "custom": self.keep_custom,
            },
            sort_keys=True,
        )


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did; ``resumed_from`` is the row count already done before this run."""

    import_id: int
    campaign_id: int
    rows: int
    imported: int
    merged: int
    rejected: int
    resumed_from: int
    error_csv: str | None


def _column_plan(
    header: Sequence[str], mapping: Mapping[str, str], keep_custom: bool
) -> tuple[dict[str, int], dict[str, int]]:
    unknown = sorted(set(mapping) - set(CONTACT_FIELDS))
    if unknown:
        raise UsageError(
            f"--map: unknown field {unknown[0]!r}; fields: {', '.join(CONTACT_FIELDS)}"
        )
    names = [h.strip() for h in header]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise UsageError(f"row 1: the column {dup!r} appears twice")
    fields: dict[str, int] = {}
    for target, column in mapping.items():
        if column not in names:
            raise UsageError(f"--map {target}={column}: the file has no column {column!r}")
        fields[target] = names.index(column)
    for i, name in enumerate(names):
        synonym = _SYNONYMS.get(name.lower())
        if synonym and synonym not in fields and i not in fields.values():
            fields[synonym] = i
    if "phone" not in fields:
        raise UsageError("row 1: no phone column (name one with --map phone=COLUMN)")
    used = set(fields.values())
    custom = {n: i for i, n in enumerate(names) if i not in used and n} if keep_custom else {}
    return fields, custom


async def import_contacts(
    store: Store,
    campaign_id: int,
    path: Path,
    options: ImportOptions,
    *,
    error_csv: Path | None = None,
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> ImportReport:
    """Import (or resume importing) a contacts CSV into a campaign."""
    campaign = await store.get_campaign(campaign_id)
    region = options.default_region or campaign.settings.default_region
    dedupe = options.dedupe_key or campaign.settings.dedupe_key
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    codec = detect_encoding(path, options.encoding)
    records = _Records(path, codec)

    # Pass 1: the whole file must decode and parse before anything is written.
    header: list[str] | None = None
    total = 0
    for row, record in records:
        if header is None:
            header = record
            continue
        total = row - 1
        if total > options.max_rows:
            raise UsageError(f"{path}: more than {options.max_rows} rows (limits.import_max_rows)")
    if header is None:
        raise UsageError(f"{path}: the file is empty (it needs a header row)")
    fields, custom_cols = _column_plan(header, options.mapping, options.keep_custom)
    if on_total:
        on_total(total)

    job = await store.start_import(
        campaign.id, str(path), fingerprint(path), options.as_json(), now=now()
    )
    done = job.rows_read
    rejected = job.rows_rejected
    width = len(header)
    err_file: IO[str] | None = None
    err_writer: csv.DictWriter[str] | None = None
    if error_csv is not None:
        resuming = done > 0 and error_csv.exists()
        err_file = error_csv.open("a" if resuming else "w", encoding="utf-8", newline="")
        err_writer = csv.DictWriter(err_file, fieldnames=["row", "reason", *header])
        if not resuming:
            err_writer.writeheader()
    pending_errors: list[dict[str, str]] = []
    batch: list[ContactRow] = []
    read = done
    if progress and done:
        progress(done)
    phone_i = fields["phone"]
    getters = [(name, i) for name, i in fields.items() if name != "phone"]
    workers = _pool_size(total - done, options.workers)
    pool = (
        ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        if workers > 1
        else None
    )
    try:
        async for chunk, phones in _normalized_chunks(
            records,
            done=done,
            size=options.batch_rows,
            phone_i=phone_i,
            width=width,
            region=region,
            pool=pool,
            depth=2 * workers,
        ):
            for (row, record), (valid, value) in zip(chunk, phones, strict=True):
                read = row - 1
                reason = None
                if len(record) != width:
                    reason = f"{len(record)} fields; the header has {width}"
                elif not valid:
                    reason = f"phone: {value}"
                else:
                    phone = value
                if reason is None:
                    values = {name: record[i].strip() for name, i in getters}
                    key = _dedupe_value(dedupe, phone, values)
                    if key is None:
                        reason = f"{dedupe.value}: empty, and the campaign merges duplicates by it"
                if reason is not None:
                    rejected += 1
                    pending_errors.append(
                        {
                            "row": str(row),
                            "reason": reason,
                            **dict(zip(header, record, strict=False)),
                        }
                    )
                else:
                    assert key is not None
                    batch.append(
                        ContactRow(
                            phone=phone,
                            dedupe_key=key,
                            custom={n: record[i] for n, i in custom_cols.items() if record[i]},
                            **values,
                        )
                    )
            if len(batch) + len(pending_errors) >= options.batch_rows:
                await _flush(
                    store,
                    campaign_id=campaign.id,
                    import_id=job.id,
                    batch=batch,
                    read=read,
                    rejected=rejected,
                    now=now(),
                )
                _write_errors(err_writer, err_file, pending_errors)
                if progress:
                    progress(len(batch) + len(pending_errors))
                batch, pending_errors = [], []
        await _flush(
            store,
            campaign_id=campaign.id,
            import_id=job.id,
            batch=batch,
            read=read,
            rejected=rejected,
            now=now(),
        )
        _write_errors(err_writer, err_file, pending_errors)
        if progress:
            progress(len(batch) + len(pending_errors))
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if err_file is not None:
            err_file.close()
    final = await store.finish_import(job.id, now=now(), rows_read=read, rows_rejected=rejected)
    return ImportReport(
        import_id=final.id,
        campaign_id=campaign.id,
        rows=total,
        imported=final.rows_imported,
        merged=final.rows_merged,
        rejected=final.rows_rejected,
        resumed_from=done,
        error_csv=str(error_csv) if error_csv is not None and final.rows_rejected else None,
    )


def normalize_all(phones: Sequence[str | None], region: str) -> list[tuple[bool, str]]:
    """``(True, E.164)`` or ``(False, why)`` for each raw number (``None``: not checked)."""
    out: list[tuple[bool, str]] = []
    for raw in phones:
        if raw is None:
            out.append((False, ""))
            continue
        try:
            out.append((True, normalize(raw, region)))
        except InvalidNumber as exc:
            out.append((False, str(exc)))
    return out


def _pool_size(rows: int, workers: int | None) -> int:
    """How many processes parse numbers while this one reads the file and writes the store.

    Parsing and validating a number with ``phonenumbers`` costs tens of microseconds, most
    of a large import's time; a pool spreads it over the machine's cores. It is not worth
    its start-up for a small file. ``spawn``, because forking a process that runs threads
    (the store's connection) is unsafe.
    """
    if workers is not None:
        return workers
    return 1 if rows < _POOL_MIN_ROWS else min(4, os.cpu_count() or 1)


async def _normalized_chunks(
    records: Iterable[tuple[int, list[str]]],
    *,
    done: int,
    size: int,
    phone_i: int,
    width: int,
    region: str,
    pool: ProcessPoolExecutor | None,
    depth: int,
) -> AsyncIterator[tuple[list[tuple[int, list[str]]], list[tuple[bool, str]]]]:
    """Data rows after the first ``done``, ``size`` at a time, each with its numbers parsed.

    With a pool, a few chunks are in flight ahead of the one returned, so that parsing
    overlaps the writes; at most ``depth + 1`` chunks are held, whatever the file's size.
    """
    loop = asyncio.get_running_loop()
    ahead: collections.deque[
        tuple[list[tuple[int, list[str]]], asyncio.Future[list[tuple[bool, str]]]]
    ] = collections.deque()
    chunk: list[tuple[int, list[str]]] = []
    for row, record in records:
        if row == 1 or row - 1 <= done:
            continue
        chunk.append((row, record))
        if len(chunk) < size:
            continue
        phones = [r[phone_i] if len(r) == width else None for _, r in chunk]
        if pool is None:
            yield chunk, normalize_all(phones, region)
        else:
            ahead.append((chunk, loop.run_in_executor(pool, normalize_all, phones, region)))
            if len(ahead) > depth:
                first, future = ahead.popleft()
                yield first, await future
        chunk = []
    if chunk:
        phones = [r[phone_i] if len(r) == width else None for _, r in chunk]
        if pool is None:
            yield chunk, normalize_all(phones, region)
        else:
            ahead.append((chunk, loop.run_in_executor(pool, normalize_all, phones, region)))
    while ahead:
        first, future = ahead.popleft()
        yield first, await future


def _dedupe_value(key: DedupeKey, phone: str, values: Mapping[str, str]) -> str | None:
    if key is DedupeKey.NUMBER:
        return phone
    value = values.get(key.value, "")
    if key is DedupeKey.EMAIL:
        value = value.lower()
    return value or None


async def _flush(
    store: Store,
    *,
    campaign_id: int,
    import_id: int,
    batch: Sequence[ContactRow],
    read: int,
    rejected: int,
    now: dt.datetime,
) -> None:
    await store.add_contacts(
        campaign_id,
        batch,
        now=now,
        import_id=import_id,
        progress={"rows_read": read, "rows_rejected": rejected},
    )


def _write_errors(
    writer: csv.DictWriter[str] | None, fh: IO[str] | None, rows: list[dict[str, str]]
) -> None:
    if writer is None or fh is None or not rows:
        return
    writer.writerows(rows)
    fh.flush()


@dataclass(frozen=True, slots=True)
class DncReport:
    """What a do-not-call upload did."""

    list: DncList
    rows: int
    stored: int
    rejected: int
    replaced: bool
    error_csv: str | None


async def upload_dnc(
    store: Store,
    path: Path,
    name: str,
    *,
    campaign_id: int | None,
    replace_existing: bool = False,
    encoding: Encoding = "auto",
    max_rows: int = 20_000_000,
    batch_rows: int = 50_000,
    error_csv: Path | None = None,
    progress: Progress | None = None,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> DncReport:
    """Upload a do-not-call CSV (header ``tel``) as a new list or a replacement."""
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    records = iter(_Records(path, detect_encoding(path, encoding)))
    first = next(records, None)
    if first is None:
        raise UsageError(f"{path}: the file is empty (it needs the header tel)")
    if [h.strip().lower() for h in first[1]] != ["tel"]:
        raise UsageError(f"{path}: row 1: the header must be the single column tel")
    list_id, replaces = await store.create_dnc_list(
        name, campaign_id, now=now(), replace_existing=replace_existing
    )
    err_file = error_csv.open("w", encoding="utf-8", newline="") if error_csv else None
    err_writer = csv.writer(err_file) if err_file else None
    if err_writer:
        err_writer.writerow(["row", "reason", "tel"])
    rows = rejected = 0
    batch: list[str] = []
    # The store writes one batch in its thread while this loop reads the next; sorted, a
    # batch lands on neighbouring pages of the index.
    writing: asyncio.Future[None] | None = None
    try:
        for row, record in records:
            rows += 1
            if rows > max_rows:
                raise UsageError(f"{path}: more than {max_rows} rows (limits.dnc_upload_max_rows)")
            if rows % 1000 == 0:
                await asyncio.sleep(0)  # let the batch being written move on
            if len(record) != 1:
                reason = f"{len(record)} fields; only tel is expected" if record else "empty"
                rejected += 1
                if err_writer:
                    err_writer.writerow([row, reason, ",".join(record)])
                continue
            try:
                batch.append(dnc_entry(record[0]))
            except InvalidNumber as exc:
                rejected += 1
                if err_writer:
                    err_writer.writerow([row, str(exc), record[0]])
                continue
            if len(batch) >= batch_rows:
                if writing is not None:
                    await writing
                writing = asyncio.ensure_future(store.add_dnc_numbers(list_id, sorted(batch)))
                if progress:
                    progress(len(batch))
                batch = []
        if writing is not None:
            await writing
            writing = None
        await store.add_dnc_numbers(list_id, sorted(batch))
        if progress:
            progress(len(batch))
        committed = await store.commit_dnc_list(list_id, name, replaces, now=now())
    except BaseException:
        if writing is not None:
            # The batch in flight finishes (or fails) before the list is dropped.
            await asyncio.gather(writing, return_exceptions=True)
        await store.abort_dnc_list(list_id)
        raise
    finally:
        if err_file:
            err_file.close()
    return DncReport(
        list=committed,
        rows=rows,
        stored=committed.numbers,
        rejected=rejected,
        replaced=replaces is not None,
        error_csv=str(error_csv) if error_csv and rejected else None,
    )
