"""The settings file (.env, or the one --env-file names) as Windows and Linux editors leave it:
read in UTF-8 (a BOM stripped), UTF-16 or GBK/GB18030 (Notepad's “ANSI” on Chinese Windows);
its unknown keys found with what they probably meant; and, since it holds the WeCom Secret,
made readable by its owner only (POSIX), or checked for who else may read it (Windows)."""

from __future__ import annotations

import codecs
import ctypes
import difflib
import io
import logging
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

from bot.config import READERS_UNKNOWN, SETTINGS

log = logging.getLogger("run")

# Settings whose value lets someone act as the bot, or reach its data.
SECRET_KEYS = (
    "WECOM_SECRET",
    "WECOM_TOKEN",
    "WECOM_ENCODING_AES_KEY",
    "WECOM_GROUP_WEBHOOK_URL",
    "SANDBOX_SECRET",
)


class EnvFileError(Exception):
    """The settings file cannot be read; the message says what to do, in Chinese."""


@dataclass(frozen=True)
class EnvFile:
    path: Path  # absolute
    values: dict[str, str]
    encoding: str  # as the user knows it: "UTF-8", "UTF-8（带 BOM）", "UTF-16", "GBK/GB18030"

    @property
    def unknown(self) -> tuple[tuple[str, str], ...]:
        """(key, the setting it probably means or "") for every key that is no setting."""
        return tuple((key, did_you_mean(key)) for key in self.values if key not in SETTINGS)

    @property
    def holds_secret(self) -> bool:
        if any(self.values.get(key) for key in SECRET_KEYS):
            return True
        return bool(urlsplit(self.values.get("DATABASE_URL", "")).password)


def did_you_mean(key: str) -> str:
    """The setting a misspelt key probably means (HTTP_PROT -> HTTP_PORT), or ""."""
    upper = key.strip().upper()
    if upper in SETTINGS:
        return upper  # written in lower case: settings are read in capitals only
    close = difflib.get_close_matches(upper, SETTINGS, n=1, cutoff=0.75)
    return close[0] if close else ""


def decode(data: bytes, path: Path) -> tuple[str, str]:
    """The file's text and the name of its encoding. UTF-8 first (with or without a BOM), then
    UTF-16 (Notepad's “Unicode”, always with a BOM), then GB18030, which reads GBK as well."""
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "UTF-8（带 BOM）"
        except UnicodeDecodeError:
            pass
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError:
            pass
    else:
        try:
            return data.decode("utf-8"), "UTF-8"
        except UnicodeDecodeError:
            pass
        try:
            return data.decode("gb18030"), "GBK/GB18030"
        except UnicodeDecodeError:
            pass
    raise EnvFileError(
        f"设置文件 {path} 的编码无法识别（不是 UTF-8，也不是 GBK）：请用记事本打开它，"
        "“另存为”时把编码选为 UTF-8，再重新运行"
    )


def read_env_file(path: Path) -> EnvFile:
    path = Path(path).resolve()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EnvFileError(
            f"无法读取设置文件 {path}（{exc.strerror or exc}）：请检查它的权限，"
            "运行本程序的用户要能读取它"
        ) from None
    text, encoding = decode(data, path)
    parsed = dotenv_values(stream=io.StringIO(text))
    values = {k: v for k, v in parsed.items() if v is not None}
    return EnvFile(path, values, encoding)


# ---------------------------------------------------------------- who may read it


def tighten_env_file(env: EnvFile) -> str:
    """POSIX: a settings file that holds a secret and that the group or others may read is
    made 0600 (owner read and write only). Returns what was done or found, for the log, or ""
    when there was nothing to say."""
    if os.name != "posix" or not env.holds_secret:
        return ""
    try:
        mode = stat.S_IMODE(os.stat(env.path).st_mode)
    except OSError:
        return ""
    if not mode & 0o077:
        return ""
    try:
        os.chmod(env.path, mode & 0o600)
    except OSError as exc:
        return (
            f"设置文件 {env.path} 含有密钥，其他用户也能读取（{mode:04o}），但无法收紧"
            f"（{exc.strerror or exc}）：请运行 chmod 600 {env.path}，并让运行本服务的用户拥有它"
        )
    return (
        f"设置文件 {env.path} 含有密钥，原来其他用户也能读取（{mode:04o}），"
        "已改为只有本用户可以读写（0600）"
    )


def posix_readers(path: Path) -> tuple[str, ...]:
    """Who besides the owner may read `path` by its mode bits (POSIX)."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return ()
    return tuple(
        name for bit, name in ((stat.S_IRGRP, "同组用户"), (stat.S_IROTH, "其他用户")) if mode & bit
    )


# Groups that take in (almost) everyone who can log on to the machine, by their SIDs (the names
# are translated on Chinese Windows).
BROAD_SIDS = {
    "S-1-1-0": "Everyone",
    "S-1-5-7": "ANONYMOUS LOGON",
    "S-1-5-11": "Authenticated Users",
    "S-1-5-32-545": "Users",
    "S-1-5-32-546": "Guests",
}
ACCESS_ALLOWED_ACE = 0
INHERIT_ONLY_ACE = 0x08
# FILE_READ_DATA, GENERIC_ALL, GENERIC_READ
READ_BITS = 0x0001 | 0x10000000 | 0x80000000


def broad_readers(aces: list[tuple[int, int, int, str]]) -> tuple[str, ...]:
    """The broad groups that an access-allowed entry (type, flags, mask, SID) of a file's ACL
    lets read the file. Entries only inherited by children, and deny entries, are not counted
    (a deny entry for a broad group is rare; counting it could only hide a finding)."""
    found: list[str] = []
    for ace_type, flags, mask, sid in aces:
        if (
            ace_type == ACCESS_ALLOWED_ACE
            and not flags & INHERIT_ONLY_ACE
            and mask & READ_BITS
            and sid in BROAD_SIDS
            and BROAD_SIDS[sid] not in found
        ):
            found.append(BROAD_SIDS[sid])
    return tuple(found)


def windows_aces(path: Path) -> list[tuple[int, int, int, str]]:
    """The entries of the file's access control list, through advapi32 (Windows only). A file
    without a list (a null DACL) lets everyone in, and reads so."""
    if sys.platform != "win32":  # (and the type checker reads the rest as Windows code)
        raise OSError("access control lists are read on Windows only")
    advapi32 = ctypes.WinDLL("advapi32", use_last_error=True)
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.LocalFree.restype = ctypes.c_void_p
    kernel32.LocalFree.argtypes = [ctypes.c_void_p]
    descriptor, dacl = ctypes.c_void_p(), ctypes.c_void_p()
    se_file_object, dacl_security_information = 1, 4
    error = advapi32.GetNamedSecurityInfoW(
        ctypes.c_wchar_p(str(path)),
        se_file_object,
        dacl_security_information,
        None,
        None,
        ctypes.byref(dacl),
        None,
        ctypes.byref(descriptor),
    )
    if error:
        raise OSError(error, "GetNamedSecurityInfoW failed")
    try:
        if not dacl.value:
            return [(ACCESS_ALLOWED_ACE, 0, READ_BITS, "S-1-1-0")]
        count = ctypes.c_uint16.from_address(dacl.value + 4).value  # ACL.AceCount
        aces = []
        for index in range(count):
            ace = ctypes.c_void_p()
            if not advapi32.GetAce(dacl, index, ctypes.byref(ace)):
                raise ctypes.WinError(ctypes.get_last_error())
            ace_type = ctypes.c_uint8.from_address(ace.value).value
            flags = ctypes.c_uint8.from_address(ace.value + 1).value
            if ace_type != ACCESS_ALLOWED_ACE:
                aces.append((ace_type, flags, 0, ""))
                continue
            mask = ctypes.c_uint32.from_address(ace.value + 4).value
            text = ctypes.c_wchar_p()
            sid = ctypes.c_void_p(ace.value + 8)  # ACCESS_ALLOWED_ACE.SidStart
            if not advapi32.ConvertSidToStringSidW(sid, ctypes.byref(text)):
                raise ctypes.WinError(ctypes.get_last_error())
            try:
                aces.append((ace_type, flags, mask, text.value or ""))
            finally:
                kernel32.LocalFree(ctypes.cast(text, ctypes.c_void_p))
        return aces
    finally:
        kernel32.LocalFree(descriptor)


def exposed_to(env: EnvFile) -> tuple[str, ...]:
    """Who besides the owner (and the system's administrators) may read a settings file that
    holds a secret: what 自检 flags. Windows: the broad groups of its ACL; POSIX: the mode's
    group and other bits (left after tighten_env_file when it could not tighten)."""
    if not env.holds_secret:
        return ()
    if sys.platform != "win32":
        return posix_readers(env.path)
    try:
        return broad_readers(windows_aces(env.path))
    except Exception as exc:  # untested corners of the Windows API: say so, do not fail
        log.warning("could not read the access list of %s (%s)", env.path, exc)
        return (READERS_UNKNOWN,)
