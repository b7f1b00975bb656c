"""The text of a .txt or .docx someone sent (bot/documents.py), read with the standard library."""

from __future__ import annotations

import io
import zipfile

import pytest
from holiday_setup import docx

from bot.documents import DocumentError, document_text, is_text_document


def test_docx_paragraphs_runs_tabs_and_breaks_become_lines():
    ns = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    xml = (
        f'<w:document xmlns:w="{ns}"><w:body>'
        "<w:p><w:r><w:t>一、元旦：</w:t></w:r><w:r><w:t>1月1日</w:t></w:r></w:p>"
        "<w:p><w:r><w:t>二、</w:t><w:tab/><w:t>春节</w:t><w:br/><w:t>下一行</w:t></w:r></w:p>"
        "</w:body></w:document>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", xml)
    assert document_text(buffer.getvalue(), "a.docx") == "一、元旦：1月1日\n二、\t春节\n下一行"


def test_the_test_docx_reads_back_line_by_line():
    assert document_text(docx("第一行\n第二行 <&>"), "通知.DOCX") == "第一行\n第二行 <&>"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "utf-16"])
def test_txt_in_the_usual_encodings(encoding):
    assert document_text("国务院办公厅（通知）".encode(encoding), "a.txt") == "国务院办公厅（通知）"


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"not a zip", "a.docx", "打不开"),
        (b"PK\x03\x04broken", "a.docx", "打不开"),
        (b"%PDF-1.4", "a.pdf", "只能读取"),
    ],
)
def test_what_cannot_be_read_says_why(data, name, message):
    with pytest.raises(DocumentError) as caught:
        document_text(data, name)
    assert message in str(caught.value)


def test_a_docx_without_its_document_part_or_with_a_doctype_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/other.xml", "<x/>")
    with pytest.raises(DocumentError):
        document_text(buffer.getvalue(), "a.docx")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "word/document.xml",
            '<!DOCTYPE x [<!ENTITY a "aaaa">]><w:document xmlns:w="w">&a;</w:document>',
        )
    with pytest.raises(DocumentError):
        document_text(buffer.getvalue(), "a.docx")


def test_only_txt_and_docx_are_text_documents():
    assert is_text_document("通知.txt") and is_text_document("通知.DOCX")
    assert not is_text_document("通知.doc") and not is_text_document("表.xlsx")
    assert not is_text_document("")
