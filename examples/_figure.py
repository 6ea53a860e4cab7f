"""Labelled multi-panel PNG figures with Pillow only (no plotting library needed for the examples).

Each panel is an image with a title, its physical axis ranges and a colour bar, drawn with a
perceptually ordered colour map so that intensities can be compared by eye.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# anchor colours of an inferno-like map (black -> purple -> orange -> pale yellow)
_ANCHORS = np.array([
    [0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66],
    [245, 125, 21], [250, 193, 39], [252, 255, 164],
], dtype=float)


def colorize(img: np.ndarray, vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
    """Map a 2-D array to RGB uint8 with the inferno-like map (``vmin``/``vmax`` default to its range)."""
    a = np.asarray(img, dtype=float)
    lo = np.nanmin(a) if vmin is None else vmin
    hi = np.nanmax(a) if vmax is None else vmax
    t = np.clip((a - lo) / (hi - lo if hi > lo else 1.0), 0, 1) * (len(_ANCHORS) - 1)
    i = np.minimum(t.astype(int), len(_ANCHORS) - 2)
    frac = (t - i)[..., None]
    rgb = _ANCHORS[i] * (1 - frac) + _ANCHORS[i + 1] * frac
    return rgb.astype(np.uint8)


@dataclass
class Panel:
    """One image panel: ``data`` indexed (rows, cols); extents are (min, max) in physical units."""

    title: str
    data: np.ndarray
    x_label: str = "x (µm)"
    y_label: str = "y (µm)"
    x_range: tuple[float, float] = (0.0, 1.0)
    y_range: tuple[float, float] = (0.0, 1.0)
    vmin: float | None = None
    vmax: float | None = None
    note: str = ""


_ASCII = {"µ": "u", "λ": "lambda", "²": "^2", "√": "sqrt", "≈": "~", "−": "-", "π": "pi", "Σ": "sum"}
_UNICODE = True


def _font(size: int):
    """DejaVu Sans (has µ, λ, ...) where installed, else Pillow's default font (ASCII labels)."""
    global _UNICODE
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        _UNICODE = False
        try:
            return ImageFont.load_default(size=size)
        except TypeError:  # Pillow < 10.1
            return ImageFont.load_default()


def _t(text: str) -> str:
    if _UNICODE:
        return text
    for a, b in _ASCII.items():
        text = text.replace(a, b)
    return text


def save_figure(panels: list[Panel], path: Path, *, title: str, cols: int = 3, panel_px: int = 300,
                footer: str = "") -> Path:
    """Draw ``panels`` on a grid with labels and colour bars and save a PNG at ``path``.

    The panel's pixel aspect follows its physical ranges, so xz sections are drawn to scale.
    """
    f_title, f_lab = _font(17), _font(12)
    left, bar_w, right, gap_y = 80, 12, 60, 80
    cell = left + panel_px + 6 + bar_w + right
    rows = (len(panels) + cols - 1) // cols

    def size(p: Panel) -> tuple[int, int]:
        dx = abs(p.x_range[1] - p.x_range[0]) or 1.0
        dy = abs(p.y_range[1] - p.y_range[0]) or 1.0
        scale = panel_px / max(dx, dy)
        return max(2, int(round(dx * scale))), max(2, int(round(dy * scale)))

    row_h = [max(size(p)[1] for p in panels[r * cols:(r + 1) * cols]) for r in range(rows)]
    row_y = np.concatenate([[0], np.cumsum([h + gap_y for h in row_h])])
    width = 10 + cols * cell
    height = 50 + int(row_y[-1]) + (30 if footer else 10)
    fig = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(fig)
    draw.text((10, 12), _t(title), fill="black", font=f_title)
    for k, p in enumerate(panels):
        r, c = divmod(k, cols)
        x0 = 10 + c * cell + left
        y0 = 50 + int(row_y[r]) + 20
        w, h = size(p)
        rgb = colorize(p.data, p.vmin, p.vmax)
        im = Image.fromarray(rgb).resize((w, h), Image.Resampling.BILINEAR)
        fig.paste(im, (x0, y0))
        draw.rectangle([x0 - 1, y0 - 1, x0 + w, y0 + h], outline="black")
        draw.text((x0, y0 - 18), _t(p.title), fill="black", font=f_lab)
        lo_x, hi_x = f"{p.x_range[0]:.3g}", f"{p.x_range[1]:.3g}"
        draw.text((x0, y0 + h + 3), lo_x, fill="black", font=f_lab)
        draw.text((x0 + w - draw.textlength(hi_x, font=f_lab), y0 + h + 3), hi_x, fill="black", font=f_lab)
        xl = _t(p.x_label)
        draw.text((x0 + (w - draw.textlength(xl, font=f_lab)) / 2, y0 + h + 3), xl, fill="black", font=f_lab)
        for txt, yy in ((f"{p.y_range[0]:.3g}", y0), (f"{p.y_range[1]:.3g}", y0 + h - 13),
                        (_t(p.y_label), y0 + h // 2 - 7)):
            draw.text((x0 - 6 - draw.textlength(txt, font=f_lab), yy), txt, fill="black", font=f_lab)
        if p.note:
            draw.text((x0, y0 + h + 18), _t(p.note), fill="black", font=f_lab)
        # colour bar with its limits
        lo = float(np.nanmin(p.data)) if p.vmin is None else p.vmin
        hi = float(np.nanmax(p.data)) if p.vmax is None else p.vmax
        bar = colorize(np.linspace(1, 0, h)[:, None] * np.ones((1, bar_w)), 0, 1)
        fig.paste(Image.fromarray(bar), (x0 + w + 6, y0))
        draw.text((x0 + w + 8 + bar_w, y0), f"{hi:.3g}", fill="black", font=f_lab)
        draw.text((x0 + w + 8 + bar_w, y0 + h - 13), f"{lo:.3g}", fill="black", font=f_lab)
    if footer:
        draw.text((10, height - 25), _t(footer), fill="black", font=f_lab)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.save(path)
    return path
