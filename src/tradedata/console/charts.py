"""Small inline SVG charts (sparklines, horizontal bars) drawn server-side.

Markup is built from numbers and html.escape()d labels only, so marking it safe cannot inject markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup


def sparkline(values: Sequence[float], width: int = 240, height: int = 40, label: str = "") -> Markup:
    """A polyline of `values` scaled to the box (flat at the bottom when all are zero)."""
    title = f"<title>{escape(label)}</title>" if label else ""
    if len(values) < 2:
        return Markup(  # noqa: S704  # nosec B704
            f'<svg class="spark" role="img" width="{width}" height="{height}">{title}'
            f'<text x="4" y="{height // 2 + 4}" font-size="11">collecting…</text></svg>'
        )
    top = max(values) or 1.0
    step = width / (len(values) - 1)
    points = " ".join(
        f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in enumerate(values)
    )
    return Markup(  # noqa: S704  # nosec B704
        f'<svg class="spark" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        f'{title}<polyline fill="none" stroke="#2563eb" stroke-width="1.5" points="{points}"/></svg>'
    )


def bars(items: Sequence[tuple[str, float]], width: int = 320, bar_height: int = 16) -> Markup:
    """Horizontal bars, one per (label, value), longest = the largest value; labels and values drawn."""
    if not items:
        return Markup('<p class="muted">none</p>')
    top = max(v for _, v in items) or 1.0
    label_w, gap = 130, 4
    height = len(items) * (bar_height + gap)
    rows = []
    for i, (name, value) in enumerate(items):
        y = i * (bar_height + gap)
        length = (width - label_w - 50) * (value / top)
        rows.append(
            f'<text x="0" y="{y + bar_height - 4}" font-size="12">{escape(name)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{length:.1f}" height="{bar_height}" fill="#2563eb"/>'
            f'<text x="{label_w + length + 4:.1f}" y="{y + bar_height - 4}" font-size="12">{value:g}</text>'
        )
    return Markup(  # noqa: S704  # nosec B704
        f'<svg class="bars" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        + "".join(rows)
        + "</svg>"
    )
