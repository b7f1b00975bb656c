"""材料包: the inspection's evidence pack (bot/pack.py) sent to the admin as files, each part
below WeCom's file size limit; what lacks evidence is listed first."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from bot.actions.records import exported
from bot.commands.args import ItemArg, WordArg
from bot.commands.registry import CommandError, Context, Reply, command, file_message
from bot.evidence import EvidenceStore
from bot.pack import WECOM_FILE_LIMIT, build
from bot.render import format_size
from models.private import private_dir

SHOWN_GAPS = 12


def _send_pack(ctx: Context, scope: str | None) -> str:
    exports = ctx.config.data_dir / "exports"
    work = Path(tempfile.mkdtemp(dir=private_dir(exports / "tmp"), prefix="pack-"))
    try:
        built = build(
            scope,
            ctx.config.data_dir / "evidence",
            work,
            ctx.config.timezone,
            ctx.now,
        )
        if built is None:
            raise CommandError(
                f"没有“{scope}”这一指标或类别：请写 Z 编号（如 Z12）、J 编号、一级或二级指标名称"
                "（如 规范监管）、“交办”或“全部”。"
            )
        store = EvidenceStore(exports, max_bytes=WECOM_FILE_LIMIT)
        sent: list[tuple[str, int]] = []
        files: list[dict[str, Any]] = []
        for name, path in built.parts:
            with path.open("rb") as src:
                stored = store.save(src, name)
            files.append(file_message(ctx.userid, name, stored, f"pack:{ctx.cause}:{len(sent)}"))
            sent.append((name, stored.size))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    pack = built.pack
    exported(
        ctx,
        f"生成迎检材料包（{pack.label}）：{len(pack.indicators)} 项指标、{len(pack.assigned)} 项交办事项、"
        f"{len(pack.files)} 份材料、{len(sent)} 个压缩包",
        "",
        sum(s for _, s in sent),
        action="pack",
        after={"scope": pack.label, "parts": [n for n, _ in sent], "gaps": len(pack.gaps)},
    )
    text = ctx.renderer.render(
        "pack_reply.j2",
        pack=pack,
        gaps=pack.gaps[:SHOWN_GAPS],
        more_gaps=max(0, len(pack.gaps) - SHOWN_GAPS),
        parts=[(n, format_size(s)) for n, s in sent],
        limit=format_size(WECOM_FILE_LIMIT),
    )
    return Reply(text, after=files)  # the zips follow the reply that announces them


@command(
    "材料包",
    aliases=("pack", "迎检材料包", "迎检"),
    access="admin",
    help="生成迎检材料包（按一级指标、指标分文件夹，交办事项单列，附目录.xlsx），缺佐证的先列出",
)
def pack_all(ctx: Context, args) -> str:
    return _send_pack(ctx, None)


@command(
    "材料包",
    access="admin",
    args=(ItemArg(),),
    help="一项指标（或交办事项）的迎检材料包",
    example="材料包 Z12",
)
def pack_item(ctx: Context, args) -> str:
    return _send_pack(ctx, args.item.code)


@command(
    "材料包",
    access="admin",
    args=(WordArg("scope", "类别|交办|全部"),),
    help="一个一级或二级指标类别（如 规范监管）的迎检材料包，或“交办”（全部交办事项）、“全部”",
    example="材料包 规范监管",
)
def pack_scope(ctx: Context, args) -> str:
    return _send_pack(ctx, args.scope)
