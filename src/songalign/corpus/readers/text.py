"""Text helpers shared by the corpus readers: decoding, CSV rows and cells, language filters."""

from __future__ import annotations

import codecs
import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from songalign.errors import BadInputError


def read_text(path: Path) -> str:
    """The text of ``path``: UTF-8 (a BOM is dropped) or UTF-16/32 with a BOM; BadInputError otherwise."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise BadInputError(path, f"cannot be read ({error.strerror}); check that it exists and is readable") from error
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                break
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BadInputError(
            path,
            f"is not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}); "
            "save it as UTF-8 in a text editor and run again",
        ) from None


def csv_records(text: str, path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The normalised (lower-case) header and ``(line number, row)`` pairs of a CSV text.

    The delimiter is a comma, or a tab or semicolon when the header holds no comma.
    """
    header_line = text.lstrip().split("\n", 1)[0]
    delimiter = "," if "," in header_line else "\t" if "\t" in header_line else ";" if ";" in header_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, dict[str, str]]] = []
    header: list[str] | None = None
    try:
        first_line = 1
        for values in reader:
            line_number, first_line = first_line, reader.line_num + 1
            if not any(value.strip() for value in values):
                continue
            if header is None:
                header = [name.strip().lower() for name in values]
                continue
            rows.append((line_number, {name: value for name, value in zip(header, values, strict=False) if name}))
    except csv.Error as error:
        raise BadInputError(
            path, f"is not a readable CSV file ({error}); save it as plain comma-separated text"
        ) from None
    return header or [], rows


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV file with a header (names lower-cased), as dictionaries of stripped strings."""
    _, rows = csv_records(read_text(path), path)
    return [{k: (v or "").strip() for k, v in row.items()} for _, row in rows]


def require_columns(header: list[str], path: Path, *columns: tuple[str, ...], expected: str) -> None:
    """Raise :class:`BadInputError` unless ``header`` has one name of each of ``columns``; ``expected`` says which."""
    missing = [names for names in columns if not any(name in header for name in names)]
    if missing:
        shown = ",".join(header) if header else "nothing"
        raise BadInputError(path, f"has the header '{shown}' but it needs {expected}; fix its first line")


def first_field(record: Mapping[str, Any], names: Iterable[str]) -> Any:
    """The value of the first of ``names`` that ``record`` has (None if none)."""
    for name in names:
        if name in record:
            return record[name]
    return None


def is_blank(value: Any) -> bool:
    """Whether a CSV cell or JSON value is missing: None, or a string of whitespace only."""
    return value is None or (isinstance(value, str) and not value.strip())


def parse_seconds(value: str) -> float:
    """A number (a time in seconds) from a CSV cell; anything unreadable becomes NaN (dropped later, and reported)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def wanted_languages(languages: Sequence[str] | str | None) -> frozenset[str] | None:
    """The lower-cased languages to keep (a string may list several, comma-separated); None keeps all."""
    if languages is None:
        return None
    names = languages.split(",") if isinstance(languages, str) else languages
    wanted = frozenset(name.strip().lower() for name in names if name.strip())
    return wanted or None
