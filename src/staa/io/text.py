"""Text files a user hands staa (CSV manifests, experiment files), decoded one way or refused in one line.

UTF-8 with or without a byte-order mark, and UTF-16 or UTF-32 with one (what some editors and
spreadsheet programs save), are read as text. Anything else — Latin-1 or Windows-1252 bytes that are not
UTF-8, UTF-16 without its mark, binary files — is refused naming the file and the first bad byte, rather
than guessed: a wrong guess would silently rename labels or paths.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from staa.errors import StaaError

_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))  # fmt: skip
SAVE_AS = "save it as UTF-8"


def read_text(path: str | Path, error: type[StaaError] = StaaError) -> str:
    """The text of ``path`` (see the module docstring); ``error`` is the one-line exception raised otherwise."""
    path = Path(path)
    data = path.read_bytes()
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), "utf-8")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise error(f"not {encoding.upper().removesuffix('-SIG')} text (byte 0x{data[exc.start]:02x} at offset "
                    f"{exc.start}); {SAVE_AS}", path) from None  # fmt: skip
    if "\x00" in text:
        raise error(f"holds NUL characters (UTF-16 without a byte-order mark, or not a text file); {SAVE_AS}", path)
    return text
