"""JSON string literals of long texts, assembled from the remembered escapes of their lines.

The long texts spec-tod encodes over and over repeat line by line: a MultiWOZ system message is a few
lines of instructions and one line per offered function, the same lines in every dialogue with the
same domains (most of a training record's bytes, most of a benchmark prompt's 9 KB), and a dialogue's
history grows by a few lines per turn. JSON escapes each character on its own, so the literal of a
text is the escapes of its lines joined by the escape of ``\\n``; :class:`LineEscapes` keeps each
distinct line's escape and escapes only the lines it has not seen. Escaping is most of ``json.dumps``
of such texts; the measurements are in ``docs/speed.md``.

A text assembled from parts (:class:`AssembledText`: a benchmark prompt is its system message's
text, the chat template's fixed pieces and each message's content, the same string objects call
after call) is escaped part by part instead, each distinct part once: the escape of a joined text
is the join of its parts' escapes, as JSON escapes each character on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence


class AssembledText(str):
    """A text that is ``"".join(self.parts)``, holding its parts for :meth:`LineEscapes.quoted`."""

    parts: tuple[str, ...]

    @classmethod
    def of_parts(cls, parts: Sequence[str]) -> AssembledText:
        text = cls("".join(parts))
        text.parts = tuple(parts)
        return text


class LineEscapes:
    """``escape(text)`` (one of ``json.encoder``'s ``encode_basestring`` functions, which quote) of long texts."""

    max_lines = 1 << 16
    """Distinct lines remembered; all are forgotten when a text finds the limit reached."""

    max_part_chars = 1 << 24
    """Characters of remembered :class:`AssembledText` part escapes (a part may be a whole system prompt); all
    are forgotten when a text finds the limit reached."""

    def __init__(self, escape: Callable[[str], str]) -> None:
        self._escape = escape
        self._newline = escape("\n")[1:-1]
        self._lines: dict[str, str] = {}
        self._parts: dict[str, str] = {}
        self._part_chars = 0

    def quoted(self, text: str) -> str:
        """``escape(text)``: the text as a quoted JSON string literal."""
        if type(text) is AssembledText:
            return self._quoted_parts(text.parts)
        lines = self._lines
        if len(lines) >= self.max_lines:
            lines.clear()
        escaped = []
        for line in text.split("\n"):
            known = lines.get(line)
            if known is None:
                known = lines[line] = self._escape(line)[1:-1]
            escaped.append(known)
        return '"' + self._newline.join(escaped) + '"'

    def _quoted_parts(self, parts: tuple[str, ...]) -> str:
        known = self._parts
        if self._part_chars >= self.max_part_chars:
            known.clear()
            self._part_chars = 0
        escaped = []
        for part in parts:
            escape = known.get(part)
            if escape is None:
                escape = known[part] = self.quoted(part)[1:-1]
                self._part_chars += len(escape)
            escaped.append(escape)
        return '"' + "".join(escaped) + '"'

    def __len__(self) -> int:
        return len(self._lines)
