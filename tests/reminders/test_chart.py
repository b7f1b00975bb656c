"""The weekly digest's chart: PNG output, colours, fonts (CJK and ASCII mode), edge cases."""

from __future__ import annotations

import io
import itertools
import os
import shutil
from decimal import Decimal as D

import pytest
from PIL import Image, ImageDraw, ImageFont

from reminders import chart
from reminders.chart import Bar, find_cjk_font, render_chart
from reminders.scoring import format_points

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
CJK_FONT = find_cjk_font()
# CI sets REQUIRE_CJK_FONT=1 so that a missing font fails instead of skipping.
needs_cjk = pytest.mark.skipif(
    CJK_FONT is None and not os.environ.get("REQUIRE_CJK_FONT"),
    reason="no CJK font (apt fonts-wqy-microhei)",
)


def bar(name: str, points: str, max_points: str, line: str | None = None) -> Bar:
    line_value = D(line) if line is not None else D(max_points) * D("0.75")
    return Bar(name, D(points), D(max_points), line_value)


BARS = [
    bar("促进发展", "12", "20"),  # 60 %: fails
    bar("规范监管", "18.5", "20"),  # 92.5 %: passes
    bar("优化服务", "20", "25"),  # 80 %
    bar("探索创新", "13", "20"),  # 65 %: fails
    bar("综合保障", "15", "15"),  # 100 %
]
TOTAL = sum((b.points for b in BARS), D(0))  # 78.5
TITLE = "2026年第48周 评估得分 78.5/100（合格线 85）"

MODES = [
    pytest.param(None, id="ascii"),
    pytest.param(CJK_FONT, id="cjk", marks=needs_cjk),
]


def open_png(data: bytes) -> Image.Image:
    assert data.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image.convert("RGB")


def x_at(fraction: float) -> int:
    return chart.TRACK_LEFT + round(fraction * (chart.TRACK_RIGHT - chart.TRACK_LEFT))


def below_text(box: tuple[int, int, int, int]) -> int:
    """A y inside the bar but under its label."""
    return box[3] - 3


# ---------------------------------------------------------------- the PNG


@pytest.mark.parametrize("font_path", MODES)
def test_png_opens_with_expected_size_and_is_small(font_path):
    data = render_chart(BARS, TOTAL, D(85), TITLE, font_path=font_path)
    image = open_png(data)
    assert image.size == (900, 500)
    assert len(data) < 200_000


@pytest.mark.parametrize("font_path", MODES)
def test_same_input_gives_same_bytes(font_path):
    first = render_chart(BARS, TOTAL, D(85), TITLE, font_path=font_path)
    second = render_chart(list(BARS), D("78.50"), D(85), TITLE, font_path=font_path)
    assert first == second


def test_png_has_no_metadata_chunks():
    data = render_chart(BARS, TOTAL, D(85), TITLE, font_path=None)
    for chunk in (b"tIME", b"tEXt", b"iTXt", b"zTXt"):
        assert chunk not in data


@pytest.mark.parametrize("font_path", MODES)
def test_bar_colours_follow_the_line(font_path):
    image = open_png(render_chart(BARS, TOTAL, D(85), TITLE, font_path=font_path))
    boxes = chart.track_boxes(len(BARS))
    failing, passing = boxes[0], boxes[1]
    # Inside the filled part, just before its end (60 % and 92.5 %), below the label.
    assert image.getpixel((x_at(0.60) - 5, below_text(failing))) == chart.FAIL_COLOUR
    assert image.getpixel((x_at(0.925) - 5, below_text(passing))) == chart.PASS_COLOUR
    # Past the filled part the empty track shows.
    assert image.getpixel((x_at(0.70), below_text(failing))) == chart.TRACK
    assert image.getpixel((x_at(0.97), below_text(passing))) == chart.TRACK
    # The full bar is green to its end.
    assert image.getpixel((chart.TRACK_RIGHT - 2, below_text(boxes[4]))) == chart.PASS_COLOUR


@pytest.mark.parametrize("font_path", MODES)
def test_marker_at_75_percent(font_path):
    image = open_png(render_chart(BARS, TOTAL, D(85), TITLE, font_path=font_path))
    boxes = chart.track_boxes(len(BARS))
    gap = (boxes[0][3] + boxes[1][1]) // 2  # between two bars
    assert image.getpixel((x_at(0.75), gap)) == chart.MARKER
    assert image.getpixel((x_at(0.75), below_text(boxes[2]))) == chart.MARKER
    assert image.getpixel((x_at(0.60), gap)) == chart.BACKGROUND


def test_colour_uses_the_line_not_the_ratio():
    # A custom line: 12/20 is green when the line is 12.
    image = open_png(
        render_chart([bar("促进发展", "12", "20", "12")], D(12), D(85), "t", font_path=None)
    )
    (box,) = chart.track_boxes(1)
    assert image.getpixel((x_at(0.60) - 5, below_text(box))) == chart.PASS_COLOUR


# ---------------------------------------------------------------- edge cases


@pytest.mark.parametrize("font_path", MODES)
def test_zero_full_and_zero_max(font_path):
    bars = [
        bar("促进发展", "0", "20"),
        bar("规范监管", "20", "20"),
        Bar("优化服务", D(0), D(0), D(0)),  # worth nothing: empty bar, no division by zero
        Bar("探索创新", D(5), D(0), D(0)),
    ]
    data = render_chart(bars, D(25), D(85), TITLE, font_path=font_path)
    image = open_png(data)
    assert len(data) < 200_000
    zero, full, no_max, no_max_points = chart.track_boxes(len(bars))
    assert image.getpixel((chart.TRACK_LEFT + 1, below_text(zero))) == chart.TRACK
    assert image.getpixel((chart.TRACK_LEFT + 1, below_text(full))) == chart.PASS_COLOUR
    assert image.getpixel((chart.TRACK_RIGHT - 2, below_text(full))) == chart.PASS_COLOUR
    for box in (no_max, no_max_points):
        assert image.getpixel((chart.TRACK_LEFT + 1, below_text(box))) == chart.TRACK
        assert image.getpixel((chart.TRACK_RIGHT - 2, below_text(box))) == chart.TRACK


def test_bar_fraction_is_clamped():
    assert chart.bar_fraction(bar("x", "12", "20")) == D("0.6")
    assert chart.bar_fraction(bar("x", "25", "20")) == 1
    assert chart.bar_fraction(bar("x", "-3", "20")) == 0
    assert chart.bar_fraction(Bar("x", D(3), D(0), D(0))) == 0
    assert chart.bar_fraction(Bar("x", D(0), D(-1), D(0))) == 0


def test_over_full_bar_stays_inside_the_track():
    image = open_png(render_chart([bar("促进发展", "30", "20")], D(30), D(85), "t", font_path=None))
    (box,) = chart.track_boxes(1)
    assert image.getpixel((chart.TRACK_RIGHT - 1, below_text(box))) == chart.PASS_COLOUR
    assert image.getpixel((chart.TRACK_RIGHT + 1, below_text(box))) == chart.BACKGROUND


@pytest.mark.parametrize("font_path", MODES)
def test_no_bars_and_many_bars(font_path):
    assert open_png(render_chart([], D(0), D(85), TITLE, font_path=font_path)).size == (900, 500)
    many = [bar(f"类别{i}", str(i), "12") for i in range(12)]
    data = render_chart(many, D(66), D(85), TITLE, font_path=font_path)
    assert open_png(data).size == (900, 500)
    boxes = chart.track_boxes(12)
    assert all(a[3] < b[1] for a, b in itertools.pairwise(boxes))  # no overlap
    assert boxes[0][1] >= chart.CHART_TOP and boxes[-1][3] <= chart.CHART_BOTTOM


@pytest.mark.parametrize("font_path", MODES)
def test_long_texts_are_fitted(font_path):
    long_name = "促进发展" * 20
    long_title = TITLE * 5
    data = render_chart([bar(long_name, "1", "20")], D(1), D(85), long_title, font_path=font_path)
    assert open_png(data).size == (900, 500)


def test_plain_numbers_are_accepted():
    data = render_chart([Bar("促进发展", 12, 20, 15)], 12, 85, "t", font_path=None)  # type: ignore[arg-type]
    assert data == render_chart([bar("促进发展", "12", "20")], D(12), D(85), "t", font_path=None)


# ---------------------------------------------------------------- text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (D("12"), "12"),
        (D("12.50"), "12.5"),
        (D("15.00"), "15"),
        (D("11.25"), "11.25"),
        (D("1E+1"), "10"),
        (D("100"), "100"),
        (D("0.00"), "0"),
        (D("-0"), "0"),
        (D("2.005"), "2.01"),
    ],
)
def test_format_points(value, text):
    assert format_points(value) == text


def test_ascii_texts_are_ascii_and_english():
    bars = [*BARS, bar("新增一类", "4", "5")]
    texts = chart._ascii_texts(bars, TOTAL + 4, D(85))
    assert texts.labels == (
        "Development 12/20",
        "Supervision 18.5/20",
        "Service 20/25",
        "Innovation 13/20",
        "Support 15/15",
        "Category 6 4/5",
    )
    assert texts.title == "Score 82.5/105 (pass 85)"
    assert (
        texts.verdict == "Verdict: FAIL (total below 85; below 75% line: Development, Innovation)"
    )
    for text in (texts.title, texts.marker, texts.verdict, *texts.labels):
        assert text.isascii(), text


def test_ascii_title_from_the_numbers():
    assert chart._ascii_texts(BARS, TOTAL, D(85)).title == "Score 78.5/100 (pass 85)"
    assert chart._ascii_texts([], D(0), D(85)).title == "Score 0 (pass 85)"


def test_chinese_texts():
    texts = chart._chinese_texts(BARS, TOTAL, D(85), TITLE)
    assert texts.title == TITLE
    assert texts.labels[0] == "促进发展 12/20"
    assert texts.labels[1] == "规范监管 18.5/20"
    assert texts.verdict == "结论：不合格（总分低于 85 分；未达 75% 线：促进发展、探索创新）"
    good = [bar("促进发展", "20", "20"), bar("规范监管", "15", "20")]
    assert chart._chinese_texts(good, D(90), D(85), "t").verdict == "结论：合格"
    only_total = chart._chinese_texts(good, D(35), D(85), "t").verdict
    assert only_total == "结论：不合格（总分低于 85 分）"
    only_line = chart._chinese_texts([bar("促进发展", "1", "20")], D(90), D(85), "t").verdict
    assert only_line == "结论：不合格（未达 75% 线：促进发展）"


def test_ascii_verdicts():
    good = [bar("促进发展", "20", "20")]
    assert chart._ascii_texts(good, D(90), D(85)).verdict == "Verdict: PASS"
    assert chart._ascii_texts(good, D(20), D(85)).verdict == "Verdict: FAIL (total below 85)"


# ---------------------------------------------------------------- fonts


def test_default_font_cannot_draw_chinese():
    assert not chart.draws_chinese(ImageFont.load_default(size=20))


@pytest.mark.skipif(not os.path.exists(DEJAVU), reason="DejaVu Sans not installed")
def test_font_without_chinese_falls_back_to_ascii():
    assert not chart.draws_chinese(ImageFont.truetype(DEJAVU, 20))
    ascii_png = render_chart(BARS, TOTAL, D(85), TITLE, font_path=None)
    assert render_chart(BARS, TOTAL, D(85), TITLE, font_path=DEJAVU) == ascii_png


def test_missing_font_file_falls_back_to_ascii(tmp_path):
    ascii_png = render_chart(BARS, TOTAL, D(85), TITLE, font_path=None)
    missing = str(tmp_path / "nope.ttc")
    assert render_chart(BARS, TOTAL, D(85), TITLE, font_path=missing) == ascii_png
    garbage = tmp_path / "garbage.ttf"
    garbage.write_bytes(b"not a font")
    assert render_chart(BARS, TOTAL, D(85), TITLE, font_path=str(garbage)) == ascii_png


@needs_cjk
def test_found_font_draws_chinese():
    assert CJK_FONT is not None and os.path.isfile(CJK_FONT)
    assert chart.draws_chinese(ImageFont.truetype(CJK_FONT, 20))


@needs_cjk
def test_auto_uses_the_found_font():
    auto = render_chart(BARS, TOTAL, D(85), TITLE)
    assert auto == render_chart(BARS, TOTAL, D(85), TITLE, font_path=CJK_FONT)
    assert auto != render_chart(BARS, TOTAL, D(85), TITLE, font_path=None)


def _without_fc_list(monkeypatch):
    real_which = shutil.which

    def which(name, *args, **kwargs):
        return None if name == "fc-list" else real_which(name, *args, **kwargs)

    monkeypatch.setattr(chart.shutil, "which", which)


@needs_cjk
def test_walk_finds_a_font_without_fc_list(monkeypatch):
    _without_fc_list(monkeypatch)
    assert chart._fontconfig_candidates() == []
    found = find_cjk_font()
    assert found is not None
    assert chart.draws_chinese(ImageFont.truetype(found, 20))


def test_no_font_anywhere_means_ascii(monkeypatch, tmp_path):
    _without_fc_list(monkeypatch)
    monkeypatch.setattr(chart, "font_dirs", lambda: (str(tmp_path),))
    if os.path.exists(DEJAVU):  # a font that is there but has no Chinese is not taken
        shutil.copy(DEJAVU, tmp_path / "wqy-microhei.ttc")
    assert find_cjk_font() is None
    ascii_png = render_chart(BARS, TOTAL, D(85), TITLE, font_path=None)
    assert render_chart(BARS, TOTAL, D(85), TITLE) == ascii_png


def test_font_folders_of_windows_and_macos():
    assert chart.font_dirs("win32", "D:\\Win") == (os.path.join("D:\\Win", "Fonts"),)
    assert "/System/Library/Fonts" in chart.font_dirs("darwin")
    assert chart.font_dirs("linux") == chart.LINUX_FONT_DIRS


def test_windows_fonts_are_found_regular_weight_first(monkeypatch, tmp_path):
    """微软雅黑 (msyh.ttc) before its bold (msyhbd.ttc) and before 黑体 (simhei.ttf)."""
    fonts = tmp_path / "Windows" / "Fonts"
    fonts.mkdir(parents=True)
    for name in ("arial.ttf", "msyhbd.ttc", "SimHei.ttf", "msyh.ttc", "simsun.ttc"):
        (fonts / name).write_bytes(b"")
    walked = chart._walk_candidates(chart.font_dirs("win32", str(tmp_path / "Windows")))
    assert [os.path.basename(p) for p in walked] == [
        "msyh.ttc",
        "msyhbd.ttc",
        "SimHei.ttf",
        "simsun.ttc",
    ]


@needs_cjk
def test_a_windows_font_folder_gives_a_font_that_draws_chinese(monkeypatch, tmp_path):
    _without_fc_list(monkeypatch)
    fonts = tmp_path / "Windows" / "Fonts"
    fonts.mkdir(parents=True)
    shutil.copy(CJK_FONT, fonts / "msyh.ttc")  # the system's CJK font under Windows' name
    windows = chart.font_dirs("win32", str(tmp_path / "Windows"))
    monkeypatch.setattr(chart, "font_dirs", lambda: windows)
    assert find_cjk_font() == str(fonts / "msyh.ttc")


def test_fc_list_output_is_parsed_and_ranked(monkeypatch):
    class Done:
        stdout = (
            "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc: \n"
            "/usr/share/fonts/truetype/arphic/uming.ttc: \n"
            "/usr/share/fonts/truetype/other/SomeZh.ttf: \n"
            "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc: \n"
            "/usr/share/fonts/X11/misc/zh.pcf.gz: \n"
        )

    monkeypatch.setattr(chart.shutil, "which", lambda name: "/usr/bin/fc-list")
    monkeypatch.setattr(chart.subprocess, "run", lambda *a, **k: Done())
    assert chart._fontconfig_candidates() == [
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
        "/usr/share/fonts/truetype/arphic/uming.ttc",
        "/usr/share/fonts/truetype/other/SomeZh.ttf",
    ]


def test_fc_list_failure_is_no_candidates(monkeypatch):
    def fail(*args, **kwargs):
        raise OSError("boom")

    monkeypatch.setattr(chart.shutil, "which", lambda name: "/usr/bin/fc-list")
    monkeypatch.setattr(chart.subprocess, "run", fail)
    assert chart._fontconfig_candidates() == []


def test_walk_keeps_only_known_names():
    ranked = chart._ranked(
        [
            "/f/DejaVuSans.ttf",
            "/f/wqy-zenhei.ttc",
            "/f/DroidSansFallbackFull.ttf",
            "/f/SourceHanSansSC-Regular.otf",
            "/f/wqy-microhei.ttc",
        ],
        keep_unknown=False,
    )
    assert ranked == [
        "/f/SourceHanSansSC-Regular.otf",
        "/f/wqy-microhei.ttc",
        "/f/wqy-zenhei.ttc",
        "/f/DroidSansFallbackFull.ttf",
    ]


def test_cut_labels_keep_their_score():
    draw = ImageDraw.Draw(Image.new("RGB", (10, 10)))
    text, _font = chart._fitted(
        draw, "Development" * 10 + " 12/20", chart._default_font, 20, 200, keep=" 12/20"
    )
    assert text.endswith("... 12/20")
    assert text.startswith("Development")
    fits, _font = chart._fitted(draw, "Support 15/15", chart._default_font, 20, 800)
    assert fits == "Support 15/15"
