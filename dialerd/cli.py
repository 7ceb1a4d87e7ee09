"""The ``dialerd`` command line: administration on the store, and the daemon's commands.

Every listing takes ``--json``. Errors print one line (``dialerd: error: …``) naming what
and where, exit with status 1, and leave the store as it was.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import dataclasses
import datetime as dt
import json
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from dialerd import admin
from dialerd.adapters.sqlite_store import SqliteStore
from dialerd.config import Config, load_config
from dialerd.core.model import (
    Agent,
    CampaignSettings,
    ContactFilter,
    ContactStatus,
    DedupeKey,
    ScheduleException,
    campaign_warnings,
)
from dialerd.errors import DialerdError, UsageError
from dialerd.importing import ImportOptions, import_contacts, upload_dnc
from dialerd.ports import Store

Handler = Callable[[argparse.Namespace, "Context"], Awaitable[int]]


@dataclasses.dataclass
class Context:
    """What every command gets: the configuration, the store and where to print."""

    config: Config
    store: Store
    out: Console
    json: bool


def _settings_options(p: argparse.ArgumentParser) -> None:
    for f in dataclasses.fields(CampaignSettings):
        if f.name == "name":
            continue
        flag = "--" + f.name.replace("_", "-")
        p.add_argument(flag, dest=f"set_{f.name}", metavar="VALUE", help=f"set {f.name}")


def _filter_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("filter (every option narrows the set)")
    g.add_argument("--status", action="append", help="contact status (repeatable)")
    g.add_argument("--owner", help="owner agent id or email")
    g.add_argument("--unowned", action="store_true", help="contacts without an owner")
    g.add_argument("--account", help="contacts of this account")
    g.add_argument("--min-attempts", type=int)
    g.add_argument("--max-attempts", type=int)
    g.add_argument("--last-result", help="outcome or result of the last call")
    g.add_argument("--called-before", help="last call before this ISO date/time (UTC)")
    g.add_argument("--called-after", help="last call at or after this ISO date/time (UTC)")
    g.add_argument("--never-called", action="store_true")
    g.add_argument("--phone-prefix", help="E.164 prefix such as +8190")
    g.add_argument("--field", action="append", metavar="NAME=VALUE", help="custom field value")
    g.add_argument("--trashed", action="store_true", help="act on trashed contacts")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="dialerd", description=__doc__.splitlines()[0].replace("``", "")
    )
    parser.add_argument(
        "--config", metavar="FILE", help="configuration file (default: $DIALERD_CONFIG)"
    )
    parser.add_argument("--db", metavar="PATH", help="SQLite file (overrides store.path)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("check-config", help="validate a configuration file and exit")
    p.add_argument("file")
    p = sub.add_parser(
        "demo", help="dial a demo campaign against the simulated Asterisk (temporary store)"
    )
    p.add_argument("--seconds", type=float, default=20.0, help="how long to dial")
    p = sub.add_parser("run", help="run the dialer daemon (stops on SIGTERM)")

    # campaigns
    camp = sub.add_parser("campaign", help="create, show, edit and switch campaigns")
    cs = camp.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = cs.add_parser("create", help="create a campaign (inactive)")
    p.add_argument("name")
    _settings_options(p)
    cs.add_parser("list", help="list campaigns")
    p = cs.add_parser("show", help="show one campaign with its schedule")
    p.add_argument("campaign")
    p = cs.add_parser("edit", help="change settings of a campaign that is not running")
    p.add_argument("campaign")
    p.add_argument("--name", dest="set_name", metavar="VALUE")
    _settings_options(p)
    for name, text in (
        ("activate", "let agents join (state active)"),
        ("deactivate", "passivate: keep everything, dial nothing"),
        ("start", "start dialling"),
        ("pause", "stop dialling for now"),
        ("stop", "stop dialling (state active)"),
        ("delete", "delete a campaign that is not running"),
        ("recycle", "start the list again: skipped records return, ownership changes apply"),
    ):
        p = cs.add_parser(name, help=text)
        p.add_argument("campaign")
    p = cs.add_parser("hours", help="set or show the weekly business hours")
    p.add_argument("campaign")
    p.add_argument("spec", nargs="*", help="e.g. 'mon-fri 09:00-18:00' 'sat 10:00-14:00'")
    p.add_argument("--clear", action="store_true", help="remove every interval")
    p = cs.add_parser("exception", help="dated exceptions to the weekly hours")
    p.add_argument("campaign")
    p.add_argument("op", choices=["add", "remove", "list"])
    p.add_argument("date", nargs="?")
    p.add_argument("--open", metavar="HH:MM-HH:MM", help="open only these hours that day")
    p.add_argument("--note", default="")
    p = cs.add_parser("holidays", help="public holidays of the campaign's holiday country")
    p.add_argument("campaign")
    p.add_argument("--year", type=int)
    p = cs.add_parser("window", help="dated run windows (batches)")
    p.add_argument("campaign")
    p.add_argument("op", choices=["add", "remove", "list"])
    p.add_argument("args", nargs="*", help="add: START END (dates); remove: ID")
    p.add_argument("--note", default="")

    # contacts
    con = sub.add_parser("contacts", help="import, filter and act on a campaign's contacts")
    cons = con.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = cons.add_parser("import", help="import (or resume importing) a CSV file")
    p.add_argument("campaign")
    p.add_argument("file")
    p.add_argument("--encoding", choices=["auto", "utf-8", "cp932"], default="auto")
    p.add_argument("--map", action="append", default=[], metavar="FIELD=COLUMN")
    p.add_argument("--region", help="default region for numbers without +")
    p.add_argument("--dedupe", choices=[k.value for k in DedupeKey])
    p.add_argument("--errors", metavar="FILE", help="error CSV (default: FILE.errors.csv)")
    p.add_argument("--no-custom", action="store_true", help="drop unmapped columns")
    p.add_argument("--batch-rows", type=int, default=500)
    for name, text in (
        ("list", "list contacts"),
        ("count", "count contacts"),
        ("export", "export contacts as CSV"),
        ("remove", "remove contacts from the campaign (records are kept)"),
        ("keep", "keep only the contacts matching the filter"),
        ("copy", "add matching contacts to another campaign"),
        ("set-owner", "make an agent the owner"),
        ("reassign", "move every contact of --owner to --to"),
        ("unassign", "clear the owner"),
        ("set-status", "set the status"),
        ("trash", "move to trash (restorable)"),
        ("restore", "restore from trash"),
    ):
        p = cons.add_parser(name, help=text)
        p.add_argument("campaign")
        _filter_options(p)
        if name == "list":
            p.add_argument("--limit", type=int, default=100)
            p.add_argument("--offset", type=int, default=0)
        if name == "export":
            p.add_argument("--output", "-o", metavar="FILE", help="default: standard output")
        if name == "copy":
            p.add_argument("--to", dest="target", required=True, help="target campaign")
        if name in ("set-owner", "reassign"):
            p.add_argument("--to", dest="new_owner", required=True, help="agent id or email")
        if name == "set-status":
            p.add_argument("--to", dest="new_status", required=True)

    p = sub.add_parser("calls", help="a campaign's call history")
    p.add_argument("campaign")
    p.add_argument("--contact", type=int, help="only this contact's calls")

    # do-not-call
    dnc = sub.add_parser("dnc", help="do-not-call lists")
    ds = dnc.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = ds.add_parser("upload", help="upload a CSV (header tel) as a list")
    p.add_argument("file")
    p.add_argument("--name", required=True)
    p.add_argument("--campaign", help="the campaign's own list (default: the global list)")
    p.add_argument("--replace", action="store_true", help="replace the list of that name")
    p.add_argument("--encoding", choices=["auto", "utf-8", "cp932"], default="auto")
    p.add_argument("--errors", metavar="FILE", help="error CSV (default: FILE.errors.csv)")
    p = ds.add_parser("list", help="list do-not-call lists")
    p.add_argument("--campaign")
    p = ds.add_parser("delete", help="delete a list")
    p.add_argument("list_id", type=int)
    p = ds.add_parser("check", help="is a number on any list?")
    p.add_argument("number")
    p.add_argument("--campaign")
    p.add_argument("--region")

    # results
    res = sub.add_parser("result", help="a campaign's results (dispositions)")
    rs = res.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name in ("add", "edit"):
        p = rs.add_parser(name, help=f"{name} a result")
        p.add_argument("campaign")
        if name == "edit":
            p.add_argument("result_id", type=int)
            p.add_argument("--name")
        else:
            p.add_argument("name")
        for flag in ("contact", "complete", "success"):
            p.add_argument(f"--{flag}", action=argparse.BooleanOptionalAction, default=None)
        p.add_argument("--memo")
        p.add_argument("--order", type=int)
    p = rs.add_parser("list", help="list a campaign's results")
    p.add_argument("campaign")
    p = rs.add_parser("delete", help="delete a result")
    p.add_argument("campaign")
    p.add_argument("result_id", type=int)

    # agents
    ag = sub.add_parser("agent", help="agents and their campaigns")
    ags = ag.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = ags.add_parser("add", help="add an agent")
    p.add_argument("id")
    p.add_argument("--name", default="")
    p.add_argument("--endpoint", required=True, help="dial string, e.g. PJSIP/1001")
    p.add_argument("--email", default="")
    p = ags.add_parser("list", help="list agents")
    p.add_argument("--campaign")
    p = ags.add_parser("delete", help="delete an agent")
    p.add_argument("id")
    for name in ("assign", "unassign"):
        p = ags.add_parser(name, help=f"{name} agents to a campaign")
        p.add_argument("campaign")
        p.add_argument("ids", nargs="+")
    p = ags.add_parser("copy-assignments", help="give a campaign every agent of another")
    p.add_argument("source")
    p.add_argument("target")

    for register in _extensions():
        register(sub)
    return parser


def _extensions() -> list[Callable[[Any], None]]:
    """Subcommands contributed by other modules (simulators, daemon)."""
    found: list[Callable[[Any], None]] = []
    for module in ("dialerd.sim.cli", "dialerd.sim.simulate_cli", "dialerd.adapters.ami_cli"):
        try:
            mod = __import__(module, fromlist=["register"])
        except ImportError:
            continue
        found.append(mod.register)
    return found


def _filter(args: argparse.Namespace) -> ContactFilter:
    custom: dict[str, str] = {}
    for item in args.field or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--field {item!r}: write NAME=VALUE")
        custom[key] = value
    statuses = None
    if args.status:
        try:
            statuses = frozenset(ContactStatus(s) for s in args.status)
        except ValueError:
            choices = ", ".join(s.value for s in ContactStatus)
            raise UsageError(f"--status: one of {choices}") from None
    return ContactFilter(
        status=statuses,
        owner=args.owner,
        unowned=args.unowned,
        account=args.account,
        min_attempts=args.min_attempts,
        max_attempts=args.max_attempts,
        last_result=args.last_result,
        called_before=_when("--called-before", args.called_before),
        called_after=_when("--called-after", args.called_after),
        never_called=args.never_called,
        phone_prefix=args.phone_prefix,
        custom=custom,
        trashed=args.trashed,
    )


def _when(flag: str, text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{flag}: {text!r} is not an ISO date or date-time") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _settings_changes(args: argparse.Namespace) -> dict[str, Any]:
    return {
        k.removeprefix("set_"): v
        for k, v in vars(args).items()
        if k.startswith("set_") and v is not None
    }


def _print(ctx: Context, data: Any, columns: Sequence[str] | None = None) -> None:
    if ctx.json:
        ctx.out.print_json(json.dumps(data, ensure_ascii=False, default=str))
        return
    rows = data if isinstance(data, list) else [data]
    if not rows:
        ctx.out.print("(none)")
        return
    cols = list(columns or rows[0].keys())
    if isinstance(data, dict) and columns is None:
        table = Table("field", "value", show_header=False)
        for key, value in data.items():
            table.add_row(str(key), _cell(value))
    else:
        table = Table(*cols)
        for row in rows:
            table.add_row(*(_cell(row.get(c)) for c in cols))
    ctx.out.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _contact_dict(c: Any) -> dict[str, Any]:
    return {
        "id": c.id,
        "phone": c.phone,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "email": c.email,
        "company": c.company,
        "account": c.account,
        "owner": c.owner,
        "status": c.status.value,
        "attempts": c.attempts,
        "last_result": c.last_result,
        "last_call_at": c.last_call_at.isoformat() if c.last_call_at else None,
        "trashed": c.trashed,
        "custom": dict(c.custom),
    }


def _warn(warnings: Sequence[str]) -> None:
    # On stderr, so that a --json answer on stdout stays one document.
    for text in warnings:
        print(f"dialerd: warning: {text}", file=sys.stderr)


async def _campaign_cmd(args: argparse.Namespace, ctx: Context) -> int:
    store = ctx.store
    match args.action:
        case "create":
            c = await admin.create_campaign(
                store, args.name, _settings_changes(args), ctx.config.limits
            )
            _print(ctx, admin.campaign_summary(c))
            _warn(campaign_warnings(c.settings))
        case "list":
            rows = [admin.campaign_summary(c) for c in await store.list_campaigns()]
            _print(ctx, rows, ["id", "name", "state", "dial_mode", "max_attempts", "timezone"])
        case "show":
            c = await store.get_campaign(args.campaign)
            data = admin.campaign_summary(c)
            data["business_hours"] = _hours(await store.business_hours(c.id))
            data["exceptions"] = [_exception(e) for e in await store.exceptions(c.id)]
            data["run_windows"] = [
                {"id": w.id, "start": w.start.isoformat(), "end": w.end.isoformat()}
                for w in await store.run_windows(c.id)
            ]
            data["contacts"] = await store.count_contacts(c.id)
            data["agents"] = [a.id for a in await store.agents(c.id)]
            _print(ctx, data)
        case "edit":
            c = await admin.edit_campaign(store, args.campaign, _settings_changes(args))
            _print(ctx, admin.campaign_summary(c))
            _warn(campaign_warnings(c.settings))
        case "activate" | "deactivate" | "start" | "pause" | "stop":
            c = await admin.change_state(store, args.campaign, args.action)
            _print(ctx, {"id": c.id, "name": c.name, "state": c.state.value})
        case "delete":
            c = await admin.delete_campaign(store, args.campaign)
            _print(ctx, {"deleted": c.id, "name": c.name})
        case "recycle":
            c = await store.get_campaign(args.campaign)
            _print(ctx, {"campaign": c.id, "recycled": await store.recycle(c.id)})
        case "hours":
            return await _hours_cmd(args, ctx)
        case "exception":
            return await _exception_cmd(args, ctx)
        case "holidays":
            c = await store.get_campaign(args.campaign)
            year = args.year or dt.datetime.now(dt.UTC).year
            days = admin.public_holidays(c, year)
            _print(ctx, [{"date": d.isoformat(), "name": n} for d, n in days.items()])
        case "window":
            return await _window_cmd(args, ctx)
    return 0


def _hours(hours: Sequence[Any]) -> list[dict[str, str]]:
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    return [
        {
            "day": days[h.weekday],
            "start": h.start.isoformat("minutes"),
            "end": "24:00" if h.end == dt.time(0, 0) else h.end.isoformat("minutes"),
        }
        for h in hours
    ]


def _exception(e: ScheduleException) -> dict[str, Any]:
    return {
        "date": e.day.isoformat(),
        "closed": e.closed,
        "open": f"{e.start:%H:%M}-{e.end:%H:%M}" if e.start and e.end else None,
        "note": e.note,
    }


async def _hours_cmd(args: argparse.Namespace, ctx: Context) -> int:
    c = await ctx.store.get_campaign(args.campaign)
    if args.spec or args.clear:
        if args.spec and args.clear:
            raise UsageError("hours: give intervals or --clear, not both")
        hours = admin.parse_hours(args.spec)
        await ctx.store.set_business_hours(c.id, hours)
    _print(ctx, _hours(await ctx.store.business_hours(c.id)), ["day", "start", "end"])
    return 0


async def _exception_cmd(args: argparse.Namespace, ctx: Context) -> int:
    c = await ctx.store.get_campaign(args.campaign)
    if args.op != "list":
        if not args.date:
            raise UsageError(f"exception {args.op}: give the date (YYYY-MM-DD)")
        try:
            day = dt.date.fromisoformat(args.date)
        except ValueError:
            raise UsageError(f"exception: {args.date!r} is not a date (YYYY-MM-DD)") from None
        if args.op == "add":
            start = end = None
            if args.open:
                (interval,) = admin.parse_hours([f"mon {args.open}"])
                start, end = interval.start, interval.end
            exc = ScheduleException(day, args.open is None, start, end, args.note)
            await ctx.store.put_exception(c.id, exc)
        else:
            await ctx.store.delete_exception(c.id, day)
    _print(ctx, [_exception(e) for e in await ctx.store.exceptions(c.id)])
    return 0


async def _window_cmd(args: argparse.Namespace, ctx: Context) -> int:
    c = await ctx.store.get_campaign(args.campaign)
    if args.op == "add":
        if len(args.args) != 2:
            raise UsageError("window add: give START and END dates (YYYY-MM-DD)")
        try:
            start, end = (dt.date.fromisoformat(a) for a in args.args)
        except ValueError:
            raise UsageError("window add: dates are YYYY-MM-DD") from None
        if end < start:
            raise UsageError("window add: END is before START")
        await ctx.store.add_run_window(c.id, start, end, args.note)
    elif args.op == "remove":
        if len(args.args) != 1 or not args.args[0].isdigit():
            raise UsageError("window remove: give the window id")
        await ctx.store.delete_run_window(c.id, int(args.args[0]))
    windows = await ctx.store.run_windows(c.id)
    _print(
        ctx,
        [
            {"id": w.id, "start": w.start.isoformat(), "end": w.end.isoformat(), "note": w.note}
            for w in windows
        ],
    )
    return 0


def _progress(ctx: Context, label: str) -> Progress:
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=ctx.json or not sys.stderr.isatty(),
        transient=False,
    )


async def _contacts_cmd(args: argparse.Namespace, ctx: Context) -> int:
    store = ctx.store
    if args.action == "import":
        mapping: dict[str, str] = {}
        for item in args.map:
            key, sep, value = item.partition("=")
            if not sep:
                raise UsageError(f"--map {item!r}: write FIELD=COLUMN")
            mapping[key] = value
        options = ImportOptions(
            encoding=args.encoding,
            mapping=mapping,
            default_region=args.region,
            dedupe_key=DedupeKey(args.dedupe) if args.dedupe else None,
            batch_rows=max(1, args.batch_rows),
            max_rows=ctx.config.limits.import_max_rows,
            keep_custom=not args.no_custom,
        )
        path = Path(args.file)
        errors = Path(args.errors) if args.errors else path.with_suffix(".errors.csv")
        with _progress(ctx, "import") as bar:
            task = bar.add_task(f"importing {path.name}", total=None)
            report = await import_contacts(
                store,
                (await store.get_campaign(args.campaign)).id,
                path,
                options,
                error_csv=errors,
                progress=lambda n: bar.advance(task, n),
                on_total=lambda n: bar.update(task, total=n),
            )
        if not report.rejected:
            errors.unlink(missing_ok=True)
        _print(ctx, dataclasses.asdict(report))
        return 0
    campaign = await store.get_campaign(args.campaign)
    f = _filter(args)
    match args.action:
        case "list":
            rows = await store.contacts(campaign.id, f, limit=args.limit, offset=args.offset)
            _print(
                ctx,
                [_contact_dict(c) for c in rows],
                ["id", "phone", "first_name", "last_name", "owner", "status", "attempts"],
            )
        case "count":
            _print(
                ctx, {"campaign": campaign.id, "count": await store.count_contacts(campaign.id, f)}
            )
        case "export":
            await _export(ctx, campaign.id, f, args.output)
        case "copy":
            result = await admin.bulk_action(store, campaign.id, "copy", f, target=args.target)
            _print(ctx, dataclasses.asdict(result) if not isinstance(result, int) else result)
        case "set-owner" | "reassign":
            if args.action == "reassign" and not args.owner:
                raise UsageError("reassign: give --owner (from) and --to")
            n = await admin.bulk_action(store, campaign.id, args.action, f, owner=args.new_owner)
            _print(ctx, {"changed": n})
        case "set-status":
            n = await admin.bulk_action(store, campaign.id, "set-status", f, status=args.new_status)
            _print(ctx, {"changed": n})
        case _:
            n = await admin.bulk_action(store, campaign.id, args.action, f)
            _print(ctx, {"changed": n})
    return 0


async def _export(ctx: Context, campaign_id: int, f: ContactFilter, output: str | None) -> None:
    fh = Path(output).open("w", encoding="utf-8", newline="") if output else sys.stdout  # noqa: SIM115
    try:
        writer: Any = None
        custom_keys: list[str] = []
        base = ["id", "phone", "first_name", "last_name", "email", "company", "account", "owner"]
        extra = ["status", "attempts", "last_result", "last_call_at"]
        async for c in ctx.store.iter_contacts(campaign_id, f):
            if writer is None:
                custom_keys = sorted(c.custom)
                writer = csv.writer(fh)
                writer.writerow([*base, *extra, *custom_keys])
            d = _contact_dict(c)
            writer.writerow(
                [d[k] for k in base]
                + [d[k] if d[k] is not None else "" for k in extra]
                + [c.custom.get(k, "") for k in custom_keys]
            )
        if writer is None:
            csv.writer(fh).writerow([*base, *extra])
    finally:
        if output:
            fh.close()


async def _dnc_cmd(args: argparse.Namespace, ctx: Context) -> int:
    store = ctx.store
    match args.action:
        case "upload":
            campaign_id = (await store.get_campaign(args.campaign)).id if args.campaign else None
            path = Path(args.file)
            errors = Path(args.errors) if args.errors else path.with_suffix(".errors.csv")
            with _progress(ctx, "upload") as bar:
                task = bar.add_task(f"uploading {path.name}", total=None)
                report = await upload_dnc(
                    store,
                    path,
                    args.name,
                    campaign_id=campaign_id,
                    replace_existing=args.replace,
                    encoding=args.encoding,
                    max_rows=ctx.config.limits.dnc_upload_max_rows,
                    error_csv=errors,
                    progress=lambda n: bar.advance(task, n),
                )
            if not report.rejected:
                errors.unlink(missing_ok=True)
            data = dataclasses.asdict(report)
            data["list"] = _dnc_dict(report.list)
            _print(ctx, data)
        case "list":
            campaign_id = (await store.get_campaign(args.campaign)).id if args.campaign else None
            lists = await store.dnc_lists(campaign_id)
            _print(ctx, [_dnc_dict(x) for x in lists], ["id", "name", "campaign", "numbers"])
        case "delete":
            await store.delete_dnc_list(args.list_id)
            _print(ctx, {"deleted": args.list_id})
        case "check":
            e164, lists = await admin.check_number(
                store, args.number, campaign=args.campaign, region=args.region
            )
            _print(ctx, {"number": e164, "blocked": bool(lists), "lists": [x.id for x in lists]})
            return 3 if lists else 0
    return 0


def _dnc_dict(x: Any) -> dict[str, Any]:
    return {
        "id": x.id,
        "name": x.name,
        "campaign": x.campaign_id if x.campaign_id is not None else "(global)",
        "numbers": x.numbers,
        "uploaded_at": x.uploaded_at.isoformat(),
    }


async def _result_cmd(args: argparse.Namespace, ctx: Context) -> int:
    store = ctx.store
    match args.action:
        case "add":
            await admin.add_result(
                store,
                args.campaign,
                args.name,
                contact=bool(args.contact),
                complete=bool(args.complete),
                success=bool(args.success),
                memo=args.memo or "",
                order=args.order,
            )
        case "edit":
            changes = {
                k: v
                for k, v in {
                    "name": args.name,
                    "is_contact": args.contact,
                    "is_complete": args.complete,
                    "is_success": args.success,
                    "memo": args.memo,
                    "display_order": args.order,
                }.items()
                if v is not None
            }
            await admin.edit_result(store, args.campaign, args.result_id, changes)
        case "delete":
            c = await store.get_campaign(args.campaign)
            await store.delete_result(c.id, args.result_id)
    c = await store.get_campaign(args.campaign)
    _print(ctx, [dataclasses.asdict(r) for r in await store.results(c.id)])
    return 0


async def _agent_cmd(args: argparse.Namespace, ctx: Context) -> int:
    store = ctx.store
    match args.action:
        case "add":
            agent = await admin.add_agent(
                store, Agent(args.id, args.name or args.id, args.endpoint, args.email)
            )
            _print(ctx, dataclasses.asdict(agent))
            return 0
        case "list":
            campaign_id = (await store.get_campaign(args.campaign)).id if args.campaign else None
            _print(ctx, [dataclasses.asdict(a) for a in await store.agents(campaign_id)])
            return 0
        case "delete":
            await store.delete_agent(args.id)
            _print(ctx, {"deleted": args.id})
            return 0
        case "assign" | "unassign":
            c = await admin.assign_agents(
                store,
                args.campaign,
                args.ids,
                assigned=args.action == "assign",
                limits=ctx.config.limits,
            )
        case "copy-assignments":
            await admin.copy_assignments(store, args.source, args.target, ctx.config.limits)
            c = await store.get_campaign(args.target)
    _print(ctx, {"campaign": c.id, "agents": [a.id for a in await store.agents(c.id)]})
    return 0


async def _calls_cmd(args: argparse.Namespace, ctx: Context) -> int:
    c = await ctx.store.get_campaign(args.campaign)
    rows = [
        {
            "call": r.call_id,
            "contact": r.contact_id,
            "number": r.number,
            "attempt": r.attempt,
            "outcome": r.outcome or r.state,
            "agent": r.agent_id,
            "result": r.result_id,
            "started": r.created_at.isoformat(timespec="seconds"),
            "talk_s": round((r.ended_at - r.connected_at).total_seconds(), 1)
            if r.ended_at and r.connected_at
            else None,
        }
        for r in await ctx.store.calls_of(c.id)
        if args.contact is None or r.contact_id == args.contact
    ]
    _print(ctx, rows, ["started", "number", "attempt", "outcome", "agent", "talk_s"])
    return 0


_HANDLERS: dict[str, Handler] = {
    "calls": _calls_cmd,
    "campaign": _campaign_cmd,
    "contacts": _contacts_cmd,
    "dnc": _dnc_cmd,
    "result": _result_cmd,
    "agent": _agent_cmd,
}


def _load(args: argparse.Namespace) -> Config:
    path = args.config or os.environ.get("DIALERD_CONFIG")
    config = load_config(path) if path else Config()
    if args.db:
        config = dataclasses_replace_store(config, args.db)
    return config


def dataclasses_replace_store(config: Config, path: str) -> Config:
    """A copy of ``config`` whose store lives at ``path``."""
    import msgspec  # noqa: PLC0415 - only needed for --db

    return msgspec.structs.replace(config, store=msgspec.structs.replace(config.store, path=path))


async def _run_admin(args: argparse.Namespace, handler: Handler) -> int:
    config = _load(args)
    store = await SqliteStore.open(config.store.path, busy_timeout_ms=config.store.busy_timeout_ms)
    try:
        ctx = Context(config, store, Console(soft_wrap=True), args.json)
        return await handler(args, ctx)
    finally:
        await store.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        if args.command == "check-config":
            config = load_config(args.file)
            print(f"{args.file}: ok ({len(config.ami.servers)} AMI server(s))")
            return 0
        if args.command == "run":
            from dialerd import app, log  # noqa: PLC0415 - the daemon's imports stay out of the CLI

            config = _load(args)
            log.configure(config.log.level, config.log.format)
            return app.main(config)
        if args.command == "demo":
            from dialerd.demo import run_demo  # noqa: PLC0415 - the demo is optional

            return int(run_demo(args.seconds))
        handler = _HANDLERS.get(args.command)
        if handler is None:
            run: Callable[[argparse.Namespace], int] = args.run
            return run(args)
        return asyncio.run(_run_admin(args, handler))
    except DialerdError as exc:
        print(f"dialerd: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dialerd: interrupted", file=sys.stderr)
        return 130
