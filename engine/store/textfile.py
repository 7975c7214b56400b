"""Which encoding a CSV file is written in, and which character separates its values.

Excel saves "CSV UTF-8" (with a byte-order mark), plain "CSV" in the machine's code page (on a
Chinese Windows: GBK, which GB18030 contains, as it contains GB2312) and "Unicode text" (UTF-16
with a byte-order mark, values separated by tabs). A file says which of these it is by its
first bytes, or does not say:

- a byte-order mark settles it (UTF-8 or UTF-16);
- NUL bytes in every other place are UTF-16 without one;
- otherwise the first block is read as UTF-8, else GB18030. That guess costs nothing and is
  right for nearly every file; a file that turns out otherwise further on (GB18030 text after
  a first block of plain ASCII) raises Misread, and the caller reads it again with settle(),
  which reads the whole file.

`--encoding NAME` overrides all of it. The separator is a tab when the header line has more
tabs than commas, else a comma.
"""

from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from salesplay.engine.errors import SalesplayError

SNIFF = 1 << 16  # bytes read to guess
BLOCK = 1 << 20  # bytes read at a time to be sure
DETECTED = ("utf-8", "gb18030")  # tried in this order on a file without a byte-order mark
# Names people give that mean a codec Python calls otherwise, or one that reads more: GB18030
# contains GBK and GB2312, so a file saved as either reads the same with it.
ALIASES = {
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "cp936": "gb18030",
    "936": "gb18030",
    "utf8": "utf-8-sig",
    "utf-8": "utf-8-sig",
    "unicode": "utf-16",
}
ENCODINGS_HELP = "utf-8, gb18030 (for GBK and GB2312 too) or utf-16"


@dataclass(frozen=True)
class TextFormat:
    """How to read one text file: its codec and the separator of its values."""

    encoding: str  # a Python codec: utf-8-sig, gb18030, utf-16 …
    delimiter: str = ","
    sure: bool = True  # False: a guess from the first block (see Misread)
    named: str = ""  # as given with --encoding, for messages

    def open(self, path: Path) -> IO[str]:
        return path.open(encoding=self.encoding, newline="")

    def reader(self, handle: IO[str]) -> Any:
        """The csv module's reader for this file: strict, so that a quote left open is an
        error rather than a value that swallows the rest of the file."""
        return csv.reader(handle, strict=True, delimiter=self.delimiter)

    @property
    def label(self) -> str:
        return self.named or _LABELS.get(self.encoding, self.encoding)


_LABELS = {"utf-8-sig": "UTF-8", "gb18030": "GB18030", "utf-16": "UTF-16"}

UTF8 = TextFormat("utf-8-sig")  # JSON Lines, and what tests mean by "a plain file"


class Misread(Exception):
    """A guessed encoding failed further on in the file: read it again with settle()."""


def sniff(path: Path, named: str | None = None) -> TextFormat:
    """The file's format from its first bytes (a guess that Misread may correct), or from
    --encoding; a file that no encoding reads is refused here (see settle)."""
    if named:
        return _named(path, named)
    with path.open("rb") as handle:
        head = handle.read(SNIFF)
    if head.startswith(codecs.BOM_UTF8):
        return _with_delimiter(path, TextFormat("utf-8-sig"))
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _with_delimiter(path, TextFormat("utf-16"))
    wide = _utf16_without_mark(head)
    if wide:
        return _with_delimiter(path, TextFormat(wide))
    for encoding in DETECTED:
        try:
            codecs.getincrementaldecoder(encoding)().decode(head, final=len(head) < SNIFF)
        except UnicodeDecodeError:
            continue
        codec = "utf-8-sig" if encoding == "utf-8" else encoding
        return _with_delimiter(path, TextFormat(codec, sure=False))
    return settle(path)


def settle(path: Path, named: str | None = None) -> TextFormat:
    """The file's format, from all of it: the first of UTF-8 and GB18030 that reads every
    byte. None does: refused at the line of the first byte that the one reading furthest
    could not read."""
    if named:
        return _named(path, named)
    decoders = {e: codecs.getincrementaldecoder(e)() for e in DETECTED}
    failed: dict[str, int] = {}  # encoding -> offset of its first bad byte
    offset = 0
    with path.open("rb") as handle:
        while decoders:
            block = handle.read(BLOCK)
            final = len(block) < BLOCK
            for encoding, decoder in list(decoders.items()):
                try:
                    decoder.decode(block, final=final)
                except UnicodeDecodeError as exc:
                    failed[encoding] = offset + exc.start
                    del decoders[encoding]
            if final:
                break
            offset += len(block)
    for encoding in DETECTED:
        if encoding in decoders:
            codec = "utf-8-sig" if encoding == "utf-8" else encoding
            return _with_delimiter(path, TextFormat(codec))
    encoding, at = max(failed.items(), key=lambda item: item[1])
    line = _line_of(path, at, encoding)
    raise SalesplayError(
        f"{path}:{line}: not UTF-8, GB18030 or UTF-16 text (the first byte that none of them "
        "reads is on this line): save the file as 'CSV UTF-8', or name its encoding with "
        "--encoding NAME"
    )


def undecodable(path: Path, form: TextFormat) -> str:
    """The message for a file that its sure encoding cannot read, at the first bad byte."""
    line = _first_bad_line(path, form.encoding)
    if form.named:
        fix = f"check --encoding {form.named}, or leave it out to have the encoding found"
    else:  # a byte-order mark said UTF-8 or UTF-16, and the text is not
        fix = "the file starts as such text but is damaged further on: save it again"
    return f"{path}:{line}: not {form.label} text (a byte on this line is not): {fix}"


def given(name: str | None) -> TextFormat | None:
    """The format --encoding names (values separated by commas), or None when none is named."""
    if not name:
        return None
    codec = ALIASES.get(name.strip().lower().replace("_", "-"), name.strip())
    try:
        info = codecs.lookup(codec)
    except LookupError:
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise SalesplayError(f"--encoding {name}: no such text encoding: use {ENCODINGS_HELP}")
    return TextFormat(codec, named=name)


def _named(path: Path, name: str) -> TextFormat:
    form = given(name)
    assert form is not None
    return _with_delimiter(path, form)


def _utf16_without_mark(head: bytes) -> str | None:
    """'utf-16-le' or 'utf-16-be' when NUL bytes fill every other place of the first block
    (as they do for text mostly in ASCII), else None."""
    sample = head[: 4096 - 4096 % 2]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    half = len(sample) // 2
    if odd > half * 0.4 and even == 0:
        return "utf-16-le"
    if even > half * 0.4 and odd == 0:
        return "utf-16-be"
    return None


def _with_delimiter(path: Path, form: TextFormat) -> TextFormat:
    """The same format with the separator its header line uses: tab or comma."""
    try:
        with path.open(encoding=form.encoding, errors="replace", newline="") as handle:
            first = handle.readline(SNIFF)
    except OSError:
        return form
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    return TextFormat(form.encoding, delimiter, form.sure, form.named)


def _line_of(path: Path, offset: int, encoding: str) -> int:
    """The line that holds the byte at offset, counting the line breaks before it."""
    with path.open("rb") as handle:
        before = handle.read(offset)
    return before.decode(encoding, errors="replace").count("\n") + 1


def _first_bad_line(path: Path, encoding: str) -> int:
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with path.open("rb") as handle:
        while True:
            block = handle.read(BLOCK)
            final = len(block) < BLOCK
            try:
                decoder.decode(block, final=final)
            except UnicodeDecodeError as exc:
                return _line_of(path, offset + exc.start, encoding)
            if final:
                return 1
            offset += len(block)
