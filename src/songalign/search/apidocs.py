"""The service's ``/docs`` page: its OpenAPI spec as plain HTML, written on the server, with no script at all.

FastAPI's own ``/docs`` loads Swagger UI from a CDN, and no pip package ships a Swagger UI that reads
OpenAPI 3.1 (``swagger-ui-bundle`` 1.1.0 carries Swagger UI 4.15, which cannot render FastAPI's 3.1
specs), so this page lists every operation (method, path, parameters, body, responses) and links the
spec itself (``/openapi.json``) for any OpenAPI tool. It loads nothing: its one stylesheet is inline.
"""

from __future__ import annotations

from html import escape
from typing import Any

DOCS_HEADERS = {  # nothing to load, nothing to run
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
METHODS = ("get", "post", "put", "patch", "delete")

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
h2 { font-size: 1.05rem; margin: 2rem 0 0.3rem; } code { background: #f3f3f3; padding: 0 0.25rem; }
.method { font-weight: bold; text-transform: uppercase; } table { border-collapse: collapse; margin: 0.3rem 0; }
td, th { border: 1px solid #ddd; padding: 0.2rem 0.5rem; text-align: left; vertical-align: top; }
"""


def _schema_name(schema: dict[str, Any]) -> str:
    """A short name of a JSON schema: its ``$ref`` target, its type, or the alternatives of ``anyOf``."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(_schema_name(option) for option in schema["anyOf"])
    if schema.get("type") == "array":
        return f"array of {_schema_name(schema.get('items', {}))}"
    if "enum" in schema:
        return " | ".join(repr(value) for value in schema["enum"])
    return str(schema.get("type", "any"))


def _parameters(operation: dict[str, Any]) -> str:
    rows = [
        f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td>"
        f"<td>{escape(_schema_name(p.get('schema', {})))}</td><td>{'yes' if p.get('required') else 'no'}</td>"
        f"<td>{escape(p.get('description') or p.get('schema', {}).get('description', ''))}</td></tr>"
        for p in operation.get("parameters", [])
    ]
    if not rows:
        return ""
    head = "<tr><th>parameter</th><th>in</th><th>type</th><th>required</th><th>what</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _body(operation: dict[str, Any]) -> str:
    content = operation.get("requestBody", {}).get("content", {})
    kinds = [f"<code>{escape(kind)}</code>: {escape(_schema_name(c.get('schema', {})))}" for kind, c in content.items()]
    return f"<p>Body: {'; '.join(kinds)}</p>" if kinds else ""


def _responses(operation: dict[str, Any]) -> str:
    items = [
        f"<li><code>{escape(str(code))}</code> {escape(answer.get('description', ''))}</li>"
        for code, answer in operation.get("responses", {}).items()
    ]
    return f"<ul>{''.join(items)}</ul>"


def docs_html(spec: dict[str, Any], key_required: bool) -> str:
    """The ``/docs`` page of ``spec`` (an OpenAPI document as a dictionary); ``key_required``: the API needs
    ``X-API-Key``, which the page then says."""
    info = spec.get("info", {})
    title = escape(f"{info.get('title', 'API')} {info.get('version', '')}".strip())
    key = " Every <code>/api/</code> route but health needs the API key in the <code>X-API-Key</code> header."
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>",
        f"<style>{STYLE}</style></head><body><h1>{title}</h1><p>{escape(info.get('description', ''))}</p>",
        f"<p>The spec itself: <a href='/openapi.json'>/openapi.json</a> (OpenAPI {escape(spec.get('openapi', ''))}),"
        f" for any OpenAPI tool.{key if key_required else ''}</p>",
    ]
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            if method not in item:
                continue
            operation = item[method]
            parts.append(
                f"<h2><span class='method'>{method}</span> <code>{escape(path)}</code></h2>"
                f"<p>{escape(operation.get('description') or operation.get('summary', ''))}</p>"
                f"{_parameters(operation)}{_body(operation)}{_responses(operation)}"
            )
    parts.append("</body></html>")
    return "\n".join(parts)
