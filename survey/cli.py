"""`civicgrid survey …`: import, check, publish, roll back, report on and export the component survey."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from civicgrid.clibase import Group
from civicgrid.settings import get_settings


def _actor() -> str:
    return get_settings().actor_name


def _component(issue: dict) -> str:
    """The component ID (GLBJBSM) beside the row number: surveyors know their components by it."""
    return f"GLBJBSM {issue['component_id'] or '（无标识码）'}"


def _echo_summary(s: dict) -> None:
    click.echo(f"batch {s['batch']}: {s['rows']} row(s) from {s['file_name']} ({s['file_format']}, {s['standard']}, "
               f"{s['source_crs']}) — {s['valid_rows']} valid, {s['error_rows']} with errors, status {s['status']}")
    if s.get("crs_note"):
        click.echo(f"  CRS: {s['crs_note']}")
    if s.get("actions"):
        click.echo("  against the live layer: " + ", ".join(f"{k} {v}" for k, v in sorted(s["actions"].items())))
    for c in s.get("checks", []):
        click.echo(f"  {c['severity']:<7} {c['code']:<20} {c['rows']:>7}  {c['title']}")


@click.group(cls=Group)
def survey():
    """Urban-component survey (部件普查): import → check → publish, reports, export."""


@survey.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--crs", help="EPSG:4490, 4326, 4548 or 4527 (default: from the file, else by coordinate size)")
@click.option("--standard", default="gbt47678", show_default=True, help="gbt47678 (GB/T 47678.5) or cjt214 (CJ/T 214)")
@click.option("--mapping", "mapping_path", type=click.Path(dir_okay=False, exists=True),
              help="YAML field mapping from the surveyor's columns to the 18 attributes")
@click.option("--batch", help="batch name (default: file name + sha256 prefix)")
@click.option("--issues", type=click.IntRange(0, 100000), default=20, show_default=True,
              help="print up to N error/warning rows")
@click.option("--quiet", is_flag=True, help="no progress bar")
def import_(file, crs, standard, mapping_path, batch, issues, quiet):
    """Read FILE, stage it as a batch and check every row. The live layer does not change."""
    from tqdm import tqdm

    from civicgrid.survey.service import import_file, list_issues

    bars: dict = {}

    def progress(stage: str, done: int, total: int) -> None:
        if quiet:
            return
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="row" if stage == "stage" else "step",
                                     file=sys.stderr, leave=False)
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        outcome = import_file(file, crs=crs, standard=standard, mapping=Path(mapping_path) if mapping_path else None, batch=batch,
                              actor=_actor(), progress=progress)
    finally:
        for bar in bars.values():
            bar.close()
    if not outcome.created:
        click.echo(f"same file as batch {outcome.batch} (sha256 {outcome.summary['file_sha256'][:12]}…): nothing imported")
    _echo_summary(outcome.summary)
    if issues and outcome.created:
        for i in [i for i in list_issues(outcome.batch, limit=issues * 3) if i["severity"] != "info"][:issues]:
            click.echo(f"  row {i['row_no']:>6} {_component(i)}: {i['message']}")


@survey.command()
@click.argument("batch")
@click.option("--valid-only", is_flag=True, help="publish the valid rows of a batch that has errors")
def publish(batch, valid_only):
    """Publish a checked batch into the live layer (atomically; history rows carry the batch name)."""
    from civicgrid.survey.service import publish as run

    r = run(batch, valid_only=valid_only, actor=_actor())
    click.echo(f"batch {r['batch']} {r['status']}: {r['inserted']} inserted, {r['updated']} updated, "
               f"{r['skipped_error_rows']} error row(s) left out" + (" (re-checked first)" if r["rechecked"] else ""))


@survey.command()
@click.argument("batch")
def rollback(batch):
    """Undo a published batch: delete what it inserted, restore what it changed."""
    from civicgrid.survey.service import rollback as run

    r = run(batch, actor=_actor())
    click.echo(f"batch {r['batch']} rolled back: {r['deleted']} deleted, {r['restored']} restored")


@survey.command()
@click.option("--json", "as_json", is_flag=True)
def batches(as_json):
    """List survey batches."""
    from civicgrid.survey.service import list_batches

    rows = list_batches()
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    for r in rows:
        click.echo(f"{r['name']:<40} {r['status']:<20} {r['row_count']:>7} rows {r['error_rows']:>6} errors  "
                   f"{r['standard']}  {r['file_name']}")


@survey.command()
@click.argument("batch")
@click.option("--check", help="only this check code (e.g. grid_mismatch)")
@click.option("--limit", type=click.IntRange(1, 1000000), default=200, show_default=True)
def issues(batch, check, limit):
    """Print the per-row check results of a batch."""
    from civicgrid.survey.service import list_issues

    for i in list_issues(batch, check=check, limit=limit):
        click.echo(f"row {i['row_no']:>6} {_component(i)} {i['severity']:<7} {i['check']:<20} {i['message']}")


@survey.command()
@click.argument("batch", required=False)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="survey-reports", show_default=True)
@click.option("--format", "formats", multiple=True, type=click.Choice(["html", "xlsx", "json"]),
              help="default: all three")
def report(batch, out_dir, formats):
    """Report a batch against the live layer (new, moved, changed, not resurveyed) and the coverage."""
    from civicgrid.survey.report import write_report

    written = write_report(out_dir, batch, formats=formats or ("html", "xlsx", "json"))
    for kind, path in written.items():
        click.echo(f"{kind}: {path}")


@survey.command()
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["gpkg", "shp", "geojson", "csv"]), default=None,
              help="default: from OUT's extension (.zip → shp)")
@click.option("--crs", default="EPSG:4490", show_default=True)
@click.option("--standard", default="gbt47678", show_default=True, help="codes of gbt47678 or cjt214")
@click.option("--class", "type_code", help="only this class code")
def export(out, fmt, crs, standard, type_code):
    """Export the live layer to a file in a chosen CRS and standard."""
    from civicgrid.errors import InvalidInput
    from civicgrid.survey.export import ExportParams, export_layer

    if fmt is None:
        ext = out.rsplit(".", 1)[-1].lower() if "." in out else ""
        fmt = {"zip": "shp", "json": "geojson"}.get(ext, ext)
        if fmt not in ("gpkg", "shp", "geojson", "csv"):
            raise InvalidInput("cannot tell the format from OUT's extension: give --format", field="format")
    from pydantic import ValidationError
    try:
        params = ExportParams(format=fmt, crs=crs, standard=standard, type_code=type_code)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InvalidInput(f"{err['loc'][0]}: {err['msg']}", field=str(err["loc"][0])) from exc
    r = export_layer(out, params)
    click.echo(f"{r['exported']} component(s) → {r['path']} ({r['format']}, {r['crs']}, {r['standard']})")
    for u in r["unmapped"]:
        click.echo(f"  left out: {u['components']} component(s) of {u['standard']} class {u['type_code']} "
                   "(no one-to-one class in the target standard)")


@survey.command("unmapped")
@click.option("--standard", help="gbt47678 or cjt214 (default: both)")
def unmapped(standard):
    """List component classes that do not map between CJ/T 214 and GB/T 47678.5."""
    from civicgrid.survey.service import unmapped_codes

    for r in unmapped_codes(standard):
        click.echo(f"{r['standard']:<18} {r['code']:<6} {r['name']:<12} {r['reason']}")
