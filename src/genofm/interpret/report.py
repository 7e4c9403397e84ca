"""Self-contained HTML reports: one file a biologist can open, e-mail or archive.

Figures are embedded as base64 PNG, styles are inline, there is no JavaScript and nothing is
fetched from the network. Every string from models, datasets or explainers is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from genofm import __version__

STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:2em auto;max-width:70em;color:#222;line-height:1.45}
h1{font-size:1.6em;border-bottom:2px solid #4393c3;padding-bottom:.2em}h2{font-size:1.25em;margin-top:1.8em;color:#2166ac}
table{border-collapse:collapse;margin:.6em 0;font-size:.86em}th,td{border:1px solid #ccc;padding:.25em .55em;text-align:left}
th{background:#eef3f8}td.num{text-align:right;font-variant-numeric:tabular-nums}.note{color:#555;font-size:.9em}
figure{display:inline-block;margin:.5em 1em .5em 0}figure img{max-width:100%;border:1px solid #ddd}
code{background:#f4f4f4;padding:0 .2em}
"""


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def image(path: Path, caption: str = "") -> str:
    """A <figure> with the PNG inlined as a data URI (empty string when the file is absent)."""
    path = Path(path)
    if not path.is_file():
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    alt = esc(caption or path.stem)
    cap = f"<figcaption class='note'>{esc(caption)}</figcaption>" if caption else ""
    return f"<figure><img src='data:image/png;base64,{data}' alt='{alt}'>{cap}</figure>"


def _cell(value: object, digits: int) -> str:
    if isinstance(value, bool) or value is None:
        return f"<td>{esc('' if value is None else value)}</td>"
    if isinstance(value, float):
        if math.isnan(value):
            return "<td class='num'></td>"
        text = f"{value:.{digits}g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"
        return f"<td class='num'>{esc(text)}</td>"
    if isinstance(value, int):
        return f"<td class='num'>{value}</td>"
    return f"<td>{esc(value)}</td>"


def link(href: str, text: str) -> str:
    """An HTML link (for table columns named in ``raw_columns``)."""
    return f"<a href='{esc(href)}'>{esc(text)}</a>"


def table(frame: pd.DataFrame, max_rows: int = 40, digits: int = 4, note: str = "", raw_columns: Sequence[str] = ()) -> str:
    """An HTML table of the first ``max_rows`` rows, with a note saying where the rest is.

    Cells of ``raw_columns`` are inserted as they are (HTML built with ``link``); all others are escaped.
    """
    if frame is None or frame.empty:
        return "<p class='note'>(empty table)</p>"
    head = "".join(f"<th>{esc(c)}</th>" for c in frame.columns)
    raw = [c in raw_columns for c in frame.columns]
    rows = []
    for record in frame.head(max_rows).itertuples(index=False):
        values = [v.item() if hasattr(v, "item") else v for v in record]
        rows.append("<tr>" + "".join(f"<td>{v}</td>" if is_raw else _cell(v, digits) for v, is_raw in zip(values, raw)) + "</tr>")
    more = f"<p class='note'>Showing {max_rows} of {len(frame)} rows. {esc(note)}</p>" if len(frame) > max_rows else (
        f"<p class='note'>{esc(note)}</p>" if note else "")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"


def metrics_frame(metrics: dict) -> pd.DataFrame:
    """metric | value | 95% CI rows from a metrics.json document."""
    rows = []
    for name, entry in metrics.get("metrics", {}).items():
        low, high = entry.get("ci_low"), entry.get("ci_high")
        ci = f"{low:.3f} - {high:.3f}" if low is not None and high is not None else "n/a"
        rows.append({"metric": name.upper(), "value": entry.get("value"), "95% CI": ci})
    return pd.DataFrame(rows)


def per_class_frame(metrics: dict) -> pd.DataFrame:
    rows = []
    for name, entry in metrics.get("per_class", {}).items():
        row = {"class": name, "n": entry.get("n")}
        for metric in ("auroc", "auprc", "f1"):
            value = entry.get(metric, {})
            row[metric.upper()] = value.get("value")
            if value.get("ci_low") is not None:
                row[f"{metric.upper()} 95% CI"] = f"{value['ci_low']:.3f} - {value['ci_high']:.3f}"
        rows.append(row)
    return pd.DataFrame(rows)


def section(title: str, *parts: str) -> str:
    return f"<section><h2>{esc(title)}</h2>{''.join(parts)}</section>"


def paragraph(text: str, css: str = "") -> str:
    return f"<p{f' class={chr(39)}{css}{chr(39)}' if css else ''}>{esc(text)}</p>" if text else ""


def definition_list(items: Iterable[tuple[str, object]]) -> str:
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in items if v not in (None, "", {}))
    return f"<table>{rows}</table>"


def page(title: str, blocks: Sequence[str]) -> str:
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{esc(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{esc(title)}</h1>{''.join(blocks)}"
        f"<hr><p class='note'>Generated by genofm {esc(__version__)}.</p></body></html>\n"
    )
