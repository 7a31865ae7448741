"""Scanners for free text, files, filenames and images leaving the node.

``scan_text`` finds NHS numbers (modulus 11 checked), UPNs (check letter checked), full dates (a
date of birth cannot be told from any other date, so every full date is flagged), postcodes,
pseudonym-like hex tokens and long digit runs. ``scan_csv`` adds ID-like column names, too many
rows (OpenSAFELY's 5,000) and row dumps (a column unique on every row of ten or more).
``clean_png`` re-encodes a PNG from its pixels alone, so no text chunk, EXIF or ICC metadata
survives; any other image type (SVG above all: it is text and can carry anything) is refused.

Invariants: a finding names the kind and the place (line, column), never the value found.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from PIL import Image

from joinedup.errors import DisclosureBlocked
from joinedup.identity.checks import is_valid_nhs_number, is_valid_upn

MAX_CSV_ROWS = 5000
ALLOWED_SUFFIXES = frozenset({".csv", ".txt", ".md", ".json", ".png"})
BLOCKED_SUFFIXES = frozenset({".svg", ".svgz", ".gph", ".pdf", ".xlsx", ".parquet", ".duckdb"})

_NHS = re.compile(r"(?<![0-9])[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4}(?![0-9])")
_UPN = re.compile(r"(?<![A-Z0-9])[A-Z][0-9]{11}[0-9A-Z](?![A-Z0-9])", re.IGNORECASE)
_DATE = re.compile(
    r"(?<![0-9])(?:(?:19|20)[0-9]{2}[-/.](?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12][0-9]|3[01])"
    r"|(?:0?[1-9]|[12][0-9]|3[01])[-/.](?:0?[1-9]|1[0-2])[-/.](?:19|20)?[0-9]{2})(?![0-9])"
)
_POSTCODE = re.compile(
    r"(?<![A-Z0-9])[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][ABD-HJLNP-UW-Z]{2}(?![A-Z0-9])", re.IGNORECASE
)
_HEX = re.compile(r"(?<![0-9a-f])[0-9a-f]{16,}(?![0-9a-f])", re.IGNORECASE)
_DIGITS = re.compile(r"(?<![0-9])[0-9]{8,}(?![0-9])")
_ID_COLUMN = re.compile(
    r"(^|_)(id|ids|patient|pupil|person|pseudonym|nhs|nhs_number|nhsno|upn|uln|uprn|postcode|"
    r"dob|date_of_birth|birth_date|name|surname|forename|address)($|_)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    kind: str  # nhs_number, upn, date, postcode, hex_token, digit_run, id_column, ...
    where: str  # "line 3", "column 2", "filename", ...

    def describe(self) -> str:
        return f"{self.kind} at {self.where}"


def scan_text(text: str, *, where: str = "line") -> list[Finding]:
    findings: list[Finding] = []
    for lineno, line in enumerate(text.splitlines() or [text], start=1):
        at = f"{where} {lineno}" if where == "line" else where
        for m in _NHS.finditer(line):
            if is_valid_nhs_number(m.group(0)):
                findings.append(Finding(kind="nhs_number", where=at))
        for m in _UPN.finditer(line):
            if is_valid_upn(m.group(0).upper()):
                findings.append(Finding(kind="upn", where=at))
        if _DATE.search(line):
            findings.append(Finding(kind="date", where=at))
        if _POSTCODE.search(line):
            findings.append(Finding(kind="postcode", where=at))
        if _HEX.search(line):
            findings.append(Finding(kind="hex_token", where=at))
        if _DIGITS.search(line) and not any(
            f.where == at and f.kind == "nhs_number" for f in findings
        ):
            findings.append(Finding(kind="digit_run", where=at))
    return findings


def scan_csv(text: str) -> list[Finding]:
    findings = scan_text(text)
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return findings
    header, body = rows[0], rows[1:]
    for k, name in enumerate(header):
        if _ID_COLUMN.search(name.strip()):
            findings.append(Finding(kind="id_column", where=f"column {k + 1}"))
    if len(body) > MAX_CSV_ROWS:
        findings.append(Finding(kind="too_many_rows", where=f"{len(body)} rows"))
    if len(body) >= 10:
        for k in range(len(header)):
            values = [r[k] for r in body if len(r) > k]
            non_numeric = [v for v in values if not _is_number(v)]
            if len(set(values)) == len(values) and len(non_numeric) == len(values):
                findings.append(
                    Finding(kind="row_dump", where=f"column {k + 1} unique on every row")
                )
    return findings


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def scan_filename(name: str) -> list[Finding]:
    stem = name.rsplit("/", 1)[-1]
    found = scan_text(stem.replace("_", " "), where="filename")
    return found


def check_suffix(name: str) -> str:
    suffix = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
    if suffix in BLOCKED_SUFFIXES or suffix not in ALLOWED_SUFFIXES:
        allowed = ", ".join(sorted(ALLOWED_SUFFIXES))
        raise DisclosureBlocked(
            f"file type {suffix or '(none)'} is not released; allowed: {allowed}"
        )
    return suffix


def clean_png(data: bytes) -> bytes:
    """The PNG's pixels re-encoded with no metadata; anything that is not a PNG is refused."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise DisclosureBlocked("only PNG images are released (SVG and other formats are refused)")
    with Image.open(io.BytesIO(data)) as img:
        rgba = img.convert("RGBA")
        pixels = Image.frombytes("RGBA", rgba.size, rgba.tobytes())
    out = io.BytesIO()
    pixels.save(out, format="PNG", optimize=False)
    return out.getvalue()


def png_text_chunks(data: bytes) -> list[bytes]:
    """The chunk types after the image header (tests use it to prove no metadata survives)."""
    chunks: list[bytes] = []
    pos = 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        chunks.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return chunks
