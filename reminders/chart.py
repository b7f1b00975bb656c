"""The weekly digest's chart: each level-1 category's score against its 75 % line, as a PNG.

Pure apart from reading a font file (and, for ``font_path="auto"``, looking for one): the same
input gives the same bytes, and the PNG carries no timestamp or other metadata.

Chinese text needs a CJK font. When none is found, or the chosen font has no Chinese glyphs,
the chart is drawn in ASCII mode (English category names, Pillow's default font) so that it
never shows tofu boxes.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from PIL import Image, ImageDraw, ImageFont

from reminders.scoring import format_points

log = logging.getLogger(__name__)

WIDTH, HEIGHT = 900, 500
PASS_RATIO = Decimal("0.75")

# Layout (pixels).
MARGIN_X = 40
TRACK_LEFT, TRACK_RIGHT = MARGIN_X, 790  # 0 % and 100 % of every bar
CHART_TOP, CHART_BOTTOM = 92, 410  # the band the bars share
MAX_BAR_HEIGHT = 44

# Colours (RGB).
BACKGROUND = (255, 255, 255)
TEXT = (17, 24, 39)
MUTED = (107, 114, 128)
GRID = (229, 231, 235)
TRACK = (236, 238, 241)
PASS_COLOUR = (102, 187, 106)
FAIL_COLOUR = (239, 83, 80)
MARKER = (55, 65, 81)
VERDICT_PASS = (27, 122, 52)
VERDICT_FAIL = (198, 40, 40)

ASCII_NAMES = {
    "促进发展": "Development",
    "规范监管": "Supervision",
    "优化服务": "Service",
    "探索创新": "Innovation",
    "综合保障": "Support",
}

# Fonts that can draw Chinese, most wanted first; matched against the file name with case,
# "-", "_" and spaces ignored. Linux (Debian, 麒麟, 统信), then Windows (微软雅黑 msyh.ttc, 黑体
# simhei.ttf, 等线, 宋体), then macOS (苹方, 冬青黑体, 华文黑体, 宋体).
CJK_FONT_NAMES = (
    "notosanscjk",
    "sourcehansans",
    "wqymicrohei",
    "wqyzenhei",
    "droidsansfallback",
    "notoserifcjk",
    "sourcehanserif",
    "uming",
    "ukai",
    "msyh",
    "simhei",
    "deng",
    "simsun",
    "pingfang",
    "hiraginosansgb",
    "stheiti",
    "songti",
)
LINUX_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts")
MACOS_FONT_DIRS = ("/System/Library/Fonts", "/Library/Fonts")
FONT_SUFFIXES = (".ttc", ".otf", ".ttf")
_OTHER_WEIGHTS = ("bold", "black", "heavy", "light", "thin", "medium", "semibold")
# Windows names its weights by a letter: msyhbd (bold), msyhl (light), dengb, dengl.
_OTHER_WEIGHT_FILES = ("msyhbd", "msyhl", "dengb", "dengl")


def font_dirs(platform: str | None = None, windows_dir: str | None = None) -> tuple[str, ...]:
    """Where this system keeps its fonts. Windows: the Fonts folder of the Windows directory
    (asked of the system, not of %WINDIR%: only the composition root reads the environment)."""
    platform = platform or sys.platform
    if platform == "win32":
        return (os.path.join(windows_dir or _windows_dir(), "Fonts"),)
    if platform == "darwin":
        return (*MACOS_FONT_DIRS, "/System/Library/Fonts/Supplemental")
    return LINUX_FONT_DIRS


def _windows_dir() -> str:
    try:
        import ctypes

        buffer = ctypes.create_unicode_buffer(260)
        if ctypes.windll.kernel32.GetWindowsDirectoryW(buffer, 260):  # type: ignore[attr-defined]
            return buffer.value
    except (AttributeError, OSError):
        pass
    return "C:\\Windows"


PROBE = "促"
UNASSIGNED = "\u0378"  # no character: a font draws its "missing glyph" box for it


@dataclass(frozen=True)
class Bar:
    name: str  # Chinese category name, e.g. "促进发展"
    points: Decimal  # scored so far
    max_points: Decimal  # e.g. 20
    line: Decimal  # the 75 % line, e.g. 15


# ---------------------------------------------------------------- fonts


def find_cjk_font() -> str | None:
    """A font file that can draw Chinese, or None.

    Candidates come from ``fc-list :lang=zh file`` when fc-list exists (well-known CJK fonts
    first, then any other font fontconfig says covers Chinese), then from a walk of the font
    directories (`font_dirs`: Linux, Windows or macOS) for the well-known file names. The
    first one that really has a glyph for "促" is returned.
    """
    seen: set[str] = set()
    for path in _fontconfig_candidates() + _walk_candidates():
        if path in seen:
            continue
        seen.add(path)
        if _file_draws_chinese(path):
            return path
    return None


def _fontconfig_candidates() -> list[str]:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    try:
        result = subprocess.run(
            [fc_list, ":lang=zh", "file"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    paths: list[str] = []
    for line in result.stdout.splitlines():
        path = line.strip().removesuffix(":").strip()
        if path.lower().endswith(FONT_SUFFIXES):
            paths.append(path)
    return _ranked(paths, keep_unknown=True)


def _walk_candidates(dirs: Iterable[str] | None = None) -> list[str]:
    paths: list[str] = []
    for root in font_dirs() if dirs is None else dirs:
        for folder, _dirs, files in os.walk(root):
            paths.extend(
                os.path.join(folder, f) for f in files if f.lower().endswith(FONT_SUFFIXES)
            )
    return _ranked(paths, keep_unknown=False)


def _ranked(paths: Iterable[str], *, keep_unknown: bool) -> list[str]:
    """Well-known CJK fonts first (regular weight before others), then the rest if kept."""
    keyed = []
    for path in paths:
        name = os.path.basename(path).lower()
        for char in "-_ ":
            name = name.replace(char, "")
        rank = next((i for i, key in enumerate(CJK_FONT_NAMES) if key in name), None)
        if rank is None:
            if not keep_unknown:
                continue
            rank = len(CJK_FONT_NAMES)
        other_weight = (
            any(w in name for w in _OTHER_WEIGHTS) or name.startswith(_OTHER_WEIGHT_FILES)
        ) and "regular" not in name
        keyed.append(((rank, other_weight, path), path))
    return [path for _key, path in sorted(keyed)]


def _file_draws_chinese(path: str) -> bool:
    try:
        font = _truetype(path, 32)
    except (OSError, ValueError):
        return False
    return draws_chinese(font)


def draws_chinese(font: ImageFont.ImageFont | ImageFont.FreeTypeFont) -> bool:
    """True if the font has a real glyph for "促" (not empty, not its missing-glyph box)."""
    try:
        glyph = _glyph_pixels(font, PROBE)
        missing = _glyph_pixels(font, UNASSIGNED)
    except (UnicodeError, OSError, ValueError):
        return False
    return glyph is not None and glyph != missing


def _glyph_pixels(font, char: str) -> tuple[tuple[int, int], bytes] | None:
    mask = font.getmask(char)
    if mask.getbbox() is None:  # nothing drawn
        return None
    image = Image.new("L", mask.size)
    image.im.paste(mask, (0, 0, *mask.size))
    return mask.size, image.tobytes()


def _truetype(path: str, size: int) -> ImageFont.FreeTypeFont:
    # The basic layout engine is enough for Chinese and gives the same pixels with or without
    # libraqm on the machine.
    return ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)


def _default_font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: a fixed-size bitmap font
        return ImageFont.load_default()


FontMaker = Callable[[int], "ImageFont.ImageFont | ImageFont.FreeTypeFont"]


def _cjk_font_maker(font_path: str | None) -> FontMaker | None:
    """A font factory for the CJK font at font_path, or None if it can't draw Chinese."""
    if font_path is None:
        return None
    try:
        probe = _truetype(font_path, 32)
    except (OSError, ValueError) as exc:
        log.warning("chart font %s cannot be loaded (%s); drawing in ASCII", font_path, exc)
        return None
    if not draws_chinese(probe):
        log.warning("chart font %s has no Chinese glyphs; drawing in ASCII", font_path)
        return None
    return lambda size: _truetype(font_path, size)


# ---------------------------------------------------------------- text


@dataclass(frozen=True)
class _Texts:
    title: str
    labels: tuple[str, ...]
    marker: str
    verdict: str


def _total_max(bars: list[Bar]) -> Decimal:
    return sum((b.max_points for b in bars), Decimal(0))


def _failing(bars: list[Bar]) -> list[int]:
    return [i for i, b in enumerate(bars) if b.points < b.line]


def _passed(bars: list[Bar], total: Decimal, pass_total: Decimal) -> bool:
    return total >= pass_total and not _failing(bars)


def _score(bar: Bar) -> str:
    return f" {format_points(bar.points)}/{format_points(bar.max_points)}"


def _label(name: str, bar: Bar) -> str:
    return name + _score(bar)


def _chinese_texts(bars: list[Bar], total: Decimal, pass_total: Decimal, title: str) -> _Texts:
    if _passed(bars, total, pass_total):
        verdict = "结论：合格"
    else:
        reasons = []
        if total < pass_total:
            reasons.append(f"总分低于 {format_points(pass_total)} 分")
        failing = _failing(bars)
        if failing:
            reasons.append("未达 75% 线：" + "、".join(bars[i].name for i in failing))
        verdict = "结论：不合格（" + "；".join(reasons) + "）"
    return _Texts(
        title=title,
        labels=tuple(_label(b.name, b) for b in bars),
        marker="75% 线",
        verdict=verdict,
    )


def ascii_name(name: str, position: int) -> str:
    """The English name of a level-1 category; position counts from 1."""
    return ASCII_NAMES.get(name.strip(), f"Category {position}")


def _ascii_texts(bars: list[Bar], total: Decimal, pass_total: Decimal) -> _Texts:
    names = [ascii_name(b.name, i) for i, b in enumerate(bars, start=1)]
    score = format_points(total)
    if bars:
        score += f"/{format_points(_total_max(bars))}"
    title = f"Score {score} (pass {format_points(pass_total)})"
    if _passed(bars, total, pass_total):
        verdict = "Verdict: PASS"
    else:
        reasons = []
        if total < pass_total:
            reasons.append(f"total below {format_points(pass_total)}")
        failing = _failing(bars)
        if failing:
            reasons.append("below 75% line: " + ", ".join(names[i] for i in failing))
        verdict = "Verdict: FAIL (" + "; ".join(reasons) + ")"
    return _Texts(
        title=title,
        labels=tuple(_label(n, b) for n, b in zip(names, bars, strict=True)),
        marker="75% line",
        verdict=verdict,
    )


# ---------------------------------------------------------------- drawing


def bar_fraction(bar: Bar) -> Decimal:
    """How full the bar is drawn, 0..1; a category worth 0 points is an empty bar."""
    points, max_points = Decimal(bar.points), Decimal(bar.max_points)
    if max_points <= 0:
        return Decimal(0)
    return min(max(points / max_points, Decimal(0)), Decimal(1))


def _x_at(fraction: Decimal) -> int:
    return TRACK_LEFT + int(
        (fraction * (TRACK_RIGHT - TRACK_LEFT)).to_integral_value(rounding=ROUND_HALF_UP)
    )


def track_boxes(count: int) -> list[tuple[int, int, int, int]]:
    """The (left, top, right, bottom) box of each bar's 0-100 % track, top to bottom."""
    if count <= 0:
        return []
    row = (CHART_BOTTOM - CHART_TOP) / count
    height = max(4, min(MAX_BAR_HEIGHT, round(row * 0.62)))
    boxes = []
    for i in range(count):
        middle = CHART_TOP + row * (i + 0.5)
        top = round(middle - height / 2)
        boxes.append((TRACK_LEFT, top, TRACK_RIGHT, top + height))
    return boxes


def _text_width(draw: ImageDraw.ImageDraw, text: str, font) -> int:
    left, _top, right, _bottom = draw.textbbox((0, 0), text, font=font)
    return int(right - left)


def _fitted(draw, text: str, make_font: FontMaker, size: int, max_width: int, *, keep: str = ""):
    """(text, font): the largest size down to 12 px (or size, if smaller) that fits, else the
    text cut with an ellipsis, keeping its ending `keep` (a label's score) whole."""
    min_size = min(12, size)
    for s in range(size, min_size - 1, -1):
        font = make_font(s)
        if _text_width(draw, text, font) <= max_width:
            return text, font
    font = make_font(min_size)
    head, tail = (text[: -len(keep)], keep) if keep and text.endswith(keep) else (text, "")
    while head and _text_width(draw, head + "..." + tail, font) > max_width:
        head = head[:-1]
    return head + "..." + tail, font


def _draw_text(draw, xy: tuple[int, int], text: str, font, fill, anchor: str = "lm") -> None:
    """Text placed by its ink box: anchor is horizontal l/m/r then vertical t/m/b.

    Done by hand rather than with Pillow's own anchors so that a bitmap default font works too.
    """
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    x, y = xy
    x -= {"l": left, "m": (left + right) // 2, "r": right}[anchor[0]]
    y -= {"t": top, "m": (top + bottom) // 2, "b": bottom}[anchor[1]]
    draw.text((x, y), text, font=font, fill=fill)


def render_chart(
    bars: list[Bar],
    total: Decimal,
    pass_total: Decimal,
    title: str,
    *,
    font_path: str | None = "auto",
) -> bytes:
    """The chart as PNG bytes (900×500).

    font_path: "auto" finds a CJK font with find_cjk_font(); a path uses that font; None, or a
    font that can't draw Chinese, draws in ASCII mode with Pillow's default font.
    """
    bars = list(bars)
    total, pass_total = Decimal(total), Decimal(pass_total)
    make_font = _cjk_font_maker(find_cjk_font() if font_path == "auto" else font_path)
    if make_font is None:
        make_font = _default_font
        texts = _ascii_texts(bars, total, pass_total)
    else:
        texts = _chinese_texts(bars, total, pass_total, title)
    passed = _passed(bars, total, pass_total)

    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    usable = WIDTH - 2 * MARGIN_X

    # Title.
    text, font = _fitted(draw, texts.title, make_font, 26, usable)
    _draw_text(draw, (WIDTH // 2, 34), text, font, TEXT, "mm")

    # Grid and scale: 0, 25, 50, 75, 100 %.
    boxes = track_boxes(len(bars))
    grid_top, grid_bottom = CHART_TOP - 6, CHART_BOTTOM + 6
    scale_font = make_font(14)
    for percent in (0, 25, 50, 75, 100):
        x = _x_at(Decimal(percent) / 100)
        draw.line([(x, grid_top), (x, grid_bottom)], fill=GRID, width=1)
        _draw_text(draw, (x, grid_bottom + 6), f"{percent}%", scale_font, MUTED, "mt")

    # Bars.
    if boxes:
        label_size = max(11, min(20, boxes[0][3] - boxes[0][1] - 8))
        percent_font = make_font(min(16, label_size))
    for bar, label, (left, top, right, bottom) in zip(bars, texts.labels, boxes, strict=True):
        draw.rectangle([left, top, right - 1, bottom - 1], fill=TRACK)
        fill_right = _x_at(bar_fraction(bar))
        if fill_right > left:
            colour = PASS_COLOUR if bar.points >= bar.line else FAIL_COLOUR
            draw.rectangle([left, top, fill_right - 1, bottom - 1], fill=colour)
        middle = (top + bottom) // 2
        label_width = _x_at(PASS_RATIO) - left - 16
        text, font = _fitted(draw, label, make_font, label_size, label_width, keep=_score(bar))
        _draw_text(draw, (left + 10, middle), text, font, TEXT)
        percent = int((bar_fraction(bar) * 100).to_integral_value(rounding=ROUND_HALF_UP))
        _draw_text(draw, (right + 8, middle), f"{percent}%", percent_font, MUTED)

    # The 75 % marker across all bars.
    x = _x_at(PASS_RATIO)
    draw.line([(x, grid_top - 4), (x, grid_bottom)], fill=MARKER, width=3)
    _draw_text(draw, (x, grid_top - 8), texts.marker, make_font(15), MARKER, "mb")

    # Verdict.
    text, font = _fitted(draw, texts.verdict, make_font, 20, usable)
    colour = VERDICT_PASS if passed else VERDICT_FAIL
    _draw_text(draw, (WIDTH // 2, HEIGHT - 36), text, font, colour, "mm")

    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
