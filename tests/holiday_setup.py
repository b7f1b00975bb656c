"""A holiday notice for the tests: a 2027 sample (2027's is not out yet) and a .docx of any text."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from xml.sax.saxutils import escape

# Not a real notice (2027's is not out yet): 2026's layout with dates that fit 2027's calendar,
# to stand for a year chinesecalendar does not have.
SAMPLE_2027 = """国务院办公厅关于2027年部分节假日安排的通知

各省、自治区、直辖市人民政府，国务院各部委、各直属机构：

　　经国务院批准，现将2027年元旦、春节、国庆节放假调休日期的具体安排通知如下。

　　一、元旦：1月1日（周五）至3日（周日）放假，共3天。

　　二、春节：2月5日（农历除夕、周五）至13日（农历正月初八、周六）放假调休，共9天。2月14日（周日）、2月20日（周六）上班。

　　三、国庆节：10月1日（周五）至7日（周四）放假调休，共7天。9月26日（周日）、10月9日（周六）上班。

　　节假日期间，各地区、各部门要妥善安排好值班和安全、保卫等工作。

国务院办公厅
2026年11月10日
"""
OFF_2027 = 3 + 9 + 7
WORK_2027 = [date(2027, 2, 14), date(2027, 2, 20), date(2027, 9, 26), date(2027, 10, 9)]


def docx(text: str) -> bytes:
    """A minimal Word document, one paragraph a line, as Word saves one (no python-docx here)."""
    ns = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    paragraphs = "".join(
        f'<w:p><w:r><w:t xml:space="preserve">{escape(line)}</w:t></w:r></w:p>'
        for line in text.splitlines()
    )
    document = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<w:document xmlns:w="{ns}"><w:body>{paragraphs}</w:body></w:document>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org'
            '/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        archive.writestr("word/document.xml", document)
    return buffer.getvalue()
