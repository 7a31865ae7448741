"""Renders the source contracts as the Markdown page ``docs/reference/sources.md``.

The page is generated, never hand-edited: a docs test fails when it differs from the contracts.
Regenerate with ``python -m joinedup.sources.reference_doc > docs/reference/sources.md``.
"""

from __future__ import annotations

from joinedup.sources import CONTRACTS
from joinedup.sources.contract import ColumnSpec, SourceContract, TableSpec

_MAX_CODES_SHOWN = 12


def _describe_checks(col: ColumnSpec) -> str:
    parts: list[str] = []
    if col.required:
        parts.append("required")
    if col.codes is not None:
        shown = sorted(col.codes)
        text = ", ".join(f"`{c}`" for c in shown[:_MAX_CODES_SHOWN])
        if len(shown) > _MAX_CODES_SHOWN:
            text += f", … ({len(shown)} codes)"
        parts.append(f"codes {text}")
    if col.minimum is not None and col.maximum is not None:
        parts.append(f"range {col.minimum:g}–{col.maximum:g}")
    elif col.minimum is not None:
        parts.append(f"at least {col.minimum:g}")
    elif col.maximum is not None:
        parts.append(f"at most {col.maximum:g}")
    if col.kind.value in {"date", "datetime"} and col.date_format != "%Y-%m-%d":
        parts.append(f"format `{col.date_format}`")
    if col.store_as_month:
        parts.append("stored as month (YYYY-MM)")
    if col.on_invalid.value == "flag":
        parts.append("invalid → flagged, row kept")
    return "; ".join(p for p in parts if p)


def _render_table(source: SourceContract, table: TableSpec) -> list[str]:
    where = (
        source.file_name if source.format.value != "csv_folder" else f"{source.name}/{table.file}"
    )
    lines = [f"### `{source.name}` / `{table.name}` — `{where}`", ""]
    if table.description:
        lines += [table.description, ""]
    if table.identity_records:
        lines += ["Each row is an **identity record** (it names a person).", ""]
    if table.subject is not None:
        lines += [
            f"Each row names its subject by `{table.subject.column}`"
            f" (namespace `{table.subject.namespace.value}`).",
            "",
        ]
    lines += [
        "| column | type | identifier role (vault only) | checks | description |",
        "|---|---|---|---|---|",
    ]
    for col in table.columns:
        role = col.identity.value if col.identity is not None else ""
        lines.append(
            f"| `{col.name}` | {col.kind.value} | {role} | {_describe_checks(col)} |"
            f" {col.description} |"
        )
    lines.append("")
    return lines


def render_sources_markdown() -> str:
    lines = [
        "# Source contracts",
        "",
        "Generated from `joinedup/sources/` by `python -m joinedup.sources.reference_doc`;"
        " do not edit by hand.",
        "",
        "Columns with an identifier role are direct identifiers or quasi-identifiers: ingest"
        " moves them to the identity vault, and the linked store keeps only coarsened forms"
        " (month of birth, sex, LSOA).",
        "",
        "| source | title | agency | format | standard |",
        "|---|---|---|---|---|",
    ]
    for c in CONTRACTS:
        lines.append(
            f"| `{c.name}` | {c.title} | {c.agency.value} | {c.format.value} | {c.standard} |"
        )
    lines.append("")
    for c in CONTRACTS:
        lines += [f"## {c.title} (`{c.name}`)", ""]
        if c.description:
            lines += [c.description, ""]
        for t in c.tables:
            lines += _render_table(c, t)
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_sources_markdown(), end="")
