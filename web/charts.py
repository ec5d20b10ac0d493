"""Small server-rendered SVG charts: bars (and histograms) and lines, with axes and tooltips.

No JavaScript and nothing fetched from elsewhere: each chart is one <svg> with a viewBox, so it
scales to a phone's width, and every bar or point carries a <title> that browsers show as a
tooltip and screen readers read out. Callers pass plain labels and numbers; all text is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDE = (640, 260)  # a chart across the page
SMALL = (360, 220)  # one of several side by side: fewer units per pixel, so text stays legible
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 44, 40  # room for the axis labels
COLOURS = ("#0b5cad", "#bf8700", "#1a7f37", "#a40e26", "#8250df")


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    tooltip: str


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]  # None: no data that week (the line breaks)
    tooltips: Sequence[str]


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Whole tick values from 0 to at least ``top``, 1, 2 or 5 times a power of ten apart."""
    if top <= 0:
        return [0.0, 1.0]
    raw = max(1.0, top / count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return [i * step for i in range(math.ceil(top / step - 1e-9) + 1)]


def _number(value: float) -> str:
    return f"{value:,.0f}".replace(",", ".")


def _frame(size: tuple[int, int], title: str, y_label: str, x_label: str, ticks: list[float],
           fmt: str) -> list[str]:
    width, height = size
    plot_h = height - TOP - BOTTOM
    top = ticks[-1]
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT}" y="16" font-size="13" font-weight="600">{escape(title)}</text>',
    ]
    for tick in ticks:
        y = TOP + plot_h - plot_h * tick / top
        text = f"{tick * 100:.0f} %" if fmt == "percent" else _number(tick)
        parts.append(f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                     'stroke="#d0d7de" stroke-width="1"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" '
                     f'text-anchor="end">{escape(text)}</text>')
    parts.append(f'<text x="12" y="{TOP + plot_h / 2:.0f}" font-size="11" text-anchor="middle" '
                 f'transform="rotate(-90 12 {TOP + plot_h / 2:.0f})">{escape(y_label)}</text>')
    parts.append(f'<text x="{LEFT + (width - LEFT - RIGHT) / 2:.0f}" y="{height - 6}" '
                 f'font-size="11" text-anchor="middle">{escape(x_label)}</text>')
    return parts


def _x_labels(size: tuple[int, int], labels: Sequence[str],
              centres: Sequence[float]) -> list[str]:
    # Every label when they fit (about 7 units a character), else every n-th.
    width, height = size
    longest = max((len(label) for label in labels), default=1) + 1
    every = max(1, math.ceil(len(labels) * 7 * longest / (width - LEFT - RIGHT)))
    y = height - BOTTOM + 16
    return [
        f'<text x="{x:.1f}" y="{y}" font-size="11" text-anchor="middle">{escape(label)}</text>'
        for i, (label, x) in enumerate(zip(labels, centres, strict=True)) if i % every == 0
    ]


def bar_chart(bars: Sequence[Bar], *, title: str, y_label: str, x_label: str,
              colour: str = COLOURS[0], size: tuple[int, int] = WIDE) -> Markup:
    """Vertical bars of counts, one per label (a histogram when the labels are bins)."""
    ticks = nice_ticks(max((b.value for b in bars), default=0))
    parts = _frame(size, title, y_label, x_label, ticks, "count")
    plot_w, plot_h = size[0] - LEFT - RIGHT, size[1] - TOP - BOTTOM
    slot = plot_w / max(1, len(bars))
    centres = []
    for i, bar in enumerate(bars):
        height = plot_h * bar.value / ticks[-1]
        x = LEFT + i * slot + slot * 0.1
        centres.append(LEFT + i * slot + slot / 2)
        parts.append(f'<rect x="{x:.1f}" y="{TOP + plot_h - height:.1f}" '
                     f'width="{slot * 0.8:.1f}" height="{height:.1f}" fill="{colour}">'
                     f"<title>{escape(bar.tooltip)}</title></rect>")
    parts += _x_labels(size, [b.label for b in bars], centres)
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(labels: Sequence[str], series: Sequence[Series], *, title: str, y_label: str,
               x_label: str, size: tuple[int, int] = WIDE) -> Markup:
    """Shares (0 to 1) over time, one line per series, with a legend."""
    ticks = [0.0, 0.25, 0.5, 0.75, 1.0]
    parts = _frame(size, title, y_label, x_label, ticks, "percent")
    plot_w, plot_h = size[0] - LEFT - RIGHT, size[1] - TOP - BOTTOM
    slot = plot_w / max(1, len(labels))
    centres = [LEFT + i * slot + slot / 2 for i in range(len(labels))]
    for n, s in enumerate(series):
        colour = COLOURS[n % len(COLOURS)]
        runs: list[list[str]] = [[]]
        for x, value, tooltip in zip(centres, s.values, s.tooltips, strict=True):
            if value is None:
                runs.append([])
                continue
            y = TOP + plot_h - plot_h * value
            runs[-1].append(f"{x:.1f},{y:.1f}")
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}">'
                         f"<title>{escape(tooltip)}</title></circle>")
        parts += [f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" '
                  'stroke-width="2"/>' for run in runs if len(run) > 1]
        legend_x = LEFT + 8 + n * 190
        parts.append(f'<rect x="{legend_x}" y="{TOP - 16}" width="12" height="3" '
                     f'fill="{colour}"/><text x="{legend_x + 16}" y="{TOP - 12}" '
                     f'font-size="11">{escape(s.name)}</text>')
    parts += _x_labels(size, labels, centres)
    parts.append("</svg>")
    return Markup("".join(parts))


def hbar_chart(bars: Sequence[Bar], *, title: str, fmt: str = "count",
               colour: str = COLOURS[0], width: int = 440) -> Markup:
    """Horizontal bars, one row per label (long names read on the left): counts, or shares
    (0 to 1) when ``fmt`` is "percent". Each bar's value is written at its end."""
    row, label_w, top = 22, int(width * 0.45), 28
    height = top + row * max(1, len(bars)) + 8
    peak = 1.0 if fmt == "percent" else max((b.value for b in bars), default=0) or 1.0
    plot_w = width - label_w - 44
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<text x="4" y="16" font-size="13" font-weight="600">{escape(title)}</text>',
    ]
    for i, bar in enumerate(bars):
        y = top + i * row
        length = plot_w * bar.value / peak
        text = f"{bar.value * 100:.0f} %" if fmt == "percent" else _number(bar.value)
        most = label_w // 6  # characters of about 6 units at this size
        name = bar.label if len(bar.label) <= most else bar.label[:most - 1] + "…"
        parts.append(f'<text x="{label_w - 6}" y="{y + 14}" font-size="11" '
                     f'text-anchor="end">{escape(name)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{length:.1f}" height="{row - 6}" '
                     f'fill="{colour}"><title>{escape(bar.tooltip)}</title></rect>')
        parts.append(f'<text x="{label_w + length + 4:.1f}" y="{y + 14}" '
                     f'font-size="11">{escape(text)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
