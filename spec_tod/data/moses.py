"""Moses' English tokenise-then-detokenise: the canonical spacing of the evaluator's responses.

The standardized evaluator passes each response through sacremoses' ``MosesTokenizer(lang="en")
.tokenize`` (default escaping) and ``MosesDetokenizer(lang="en").detokenize`` (docs/evaluation.md
2.1). :func:`retokenize` gives the same text for every input, rule for rule in sacremoses' order,
with its character classes as ranges (``resources/mwz_eval/moses_en.json``, derived from the pinned
sacremoses). Why this replaces the library, and the checks that it gives the same text: docs/speed.md.

Two steps of sacremoses are left out because together they change nothing: the tokenizer's XML
escaping and the detokenizer's unescaping. Every ``&`` of an escaped text starts one of the entities
the escaping wrote, so the unescaping gives back exactly the text before the escaping; and the one
rule between them (`` @-@ `` becomes ``-``) sees neither ``@``, ``-`` nor a space inside an entity.
"""

from __future__ import annotations

import re

from spec_tod.data.mwz_tables import load_table

_TABLES = load_table("moses_en")


def _members(name: str) -> str:
    """The class ``name`` as the inside of a regular expression's brackets, one run per range."""
    return "".join(
        re.escape(chr(first)) if first == last else f"{re.escape(chr(first))}-{re.escape(chr(last))}"
        for first, last in _TABLES["classes"][name]
    )


_N = _members("number")
_ALPHA = _members("alpha")

_WHITESPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\000-\037]")
_PAD = re.compile(f"([^{_members('unpadded')}])")
_MULTIDOT = re.compile(r"\.{2,}")
_MULTIDOT_MARKER = re.compile(r"(?:DOT)+MULTI")
_COMMA = (
    (re.compile(f"([^{_N}])[,]"), r"\1 , "),
    (re.compile(f"[,]([^{_N}])"), r" , \1"),
    (re.compile(f"([{_N}])[,]$"), r"\1 , "),
)
_APOSTROPHE = (
    (re.compile(f"([^{_ALPHA}])[']([^{_ALPHA}])"), r"\1 ' \2"),
    (re.compile(f"([^{_members('alpha_or_number')}])[']([{_ALPHA}])"), r"\1 ' \2"),
    (re.compile(f"([{_ALPHA}])[']([^{_ALPHA}])"), r"\1 ' \2"),
    (re.compile(f"([{_ALPHA}])[']([{_ALPHA}])"), r"\1 '\2"),
    (re.compile(f"([{_N}])[']([s])"), r"\1 '\2"),
)
_TRAILING_DOT_APOSTROPHE = re.compile(r"\.' ?$")
_ANY_ALPHA = re.compile(f"[{_ALPHA}]")
_LOWER = re.compile(f"[{_members('lower')}]")
_LEADING_DIGIT = re.compile(r"[0-9]")
_NONBREAKING = frozenset(_TABLES["nonbreaking_prefixes"])
_NUMERIC_ONLY = frozenset(_TABLES["numeric_only_prefixes"])

_CJK = re.compile(f"[{_members('cjk')}]")
_CURRENCY_OR_OPENING = re.compile(f"[{_members('currency_or_opening')}]+")
_PUNCTUATION = re.compile(r"[\,\.\?\!\:\;\\\%\}\]\)]+")
_CONTRACTION = re.compile(f"'[{_members('contraction_alpha')}]")
_OPEN_QUOTE = re.compile("['\"„“`]+")
_DOUBLE_QUOTES = re.compile("[„“”]+")


def _replace_multidots(text: str) -> str:
    """A run of k dots becomes ``" " + "DOT" * k + "MULTI"``, and a space when anything follows it."""

    def marker(match: re.Match[str]) -> str:
        end = match.end()
        return " " + "DOT" * (end - match.start()) + "MULTI" + (" " if end < len(text) else "")

    return _MULTIDOT.sub(marker, text)


def _restore_multidots(match: re.Match[str]) -> str:
    return "." * ((match.end() - match.start() - 5) // 3)


def _keeps_its_dot(prefix: str, following: str | None) -> bool:
    """Whether ``prefix.`` stays one token: an abbreviation, a listed prefix, or lower case next."""
    if ("." in prefix and _ANY_ALPHA.search(prefix)) or (prefix in _NONBREAKING and prefix not in _NUMERIC_ONLY):
        return True
    if following is not None and _LOWER.match(following):
        return True
    return prefix in _NUMERIC_ONLY and following is not None and _LEADING_DIGIT.match(following) is not None


def _split_final_dots(text: str) -> str:
    tokens = text.split()
    last = len(tokens) - 1
    for index, token in enumerate(tokens):
        if len(token) > 1 and token[-1] == ".":
            prefix = token[:-1]
            if not _keeps_its_dot(prefix, tokens[index + 1] if index < last else None):
                tokens[index] = prefix + " ."
    return " ".join(tokens)


def _tokenized(text: str) -> str:
    """``MosesTokenizer(lang="en").tokenize(text, escape=False, return_str=True)``, but for the spaces
    between tokens: the detokenizer splits it again."""
    text = _CONTROL.sub("", _WHITESPACE.sub(" ", text)).strip()
    for padded in set(_PAD.findall(text)):  # one replace per distinct character: no template per match
        text = text.replace(padded, f" {padded} ")
    if ".." in text:
        text = _replace_multidots(text)
    if "," in text:
        for pattern, replacement in _COMMA:
            text = pattern.sub(replacement, text)
    if "'" in text:
        for pattern, replacement in _APOSTROPHE:
            text = pattern.sub(replacement, text)
    if "." in text:  # otherwise the next two steps only change spaces
        text = _split_final_dots(text)
        if ".'" in text:
            text = _TRAILING_DOT_APOSTROPHE.sub(" . ' ", text)
    if "MULTI" in text:
        text = _MULTIDOT_MARKER.sub(_restore_multidots, text)
    return text


_OTHER, _CJK_FIRST, _OPENS, _CLOSES, _CONTRACTION_OR_OTHER, _QUOTE = range(6)
_KINDS: dict[str, tuple[int, str]] = {}
"""Each token's rule and its quote key: the rule a token takes depends on the token alone (a test
set has a few thousand distinct tokens), and on its place only through the checks in the loop."""
_MAX_KINDS = 1 << 16


def _kind(token: str) -> tuple[int, str]:
    if _CJK.match(token):
        return _CJK_FIRST, ""
    if _CURRENCY_OR_OPENING.fullmatch(token):
        return _OPENS, ""
    if _PUNCTUATION.fullmatch(token):
        return _CLOSES, ""
    if _CONTRACTION.match(token):  # no quote run starts with a letter: "other" at the start of a text
        return _CONTRACTION_OR_OTHER, ""
    if _OPEN_QUOTE.fullmatch(token):
        return _QUOTE, '"' if _DOUBLE_QUOTES.fullmatch(token) else token
    return _OTHER, ""


def _detokenized(text: str) -> str:
    """``MosesDetokenizer(lang="en").detokenize(text.split(), unescape=False)``."""
    if "@-@" in text:
        text = f" {text} ".replace(" @-@ ", "-")
    tokens = text.split()
    if len(_KINDS) > _MAX_KINDS:
        _KINDS.clear()
    quotes: dict[str, int] = {}
    pieces: list[str] = []
    space = " "
    for index, token in enumerate(tokens):
        kind, quote = _KINDS.get(token) or _KINDS.setdefault(token, _kind(token))
        if kind == _OTHER or (kind == _CONTRACTION_OR_OTHER and index == 0):
            pieces.append(space + token)
            space = " "
        elif kind == _CLOSES or kind == _CONTRACTION_OR_OTHER:
            pieces.append(token)
            space = " "
        elif kind == _OPENS:
            pieces.append(space + token)
            space = ""
        elif kind == _CJK_FIRST:
            pieces.append(token if index > 0 and _CJK.match(tokens[index - 1][-1]) else space + token)
            space = " "
        else:
            seen = quotes.get(quote, 0)
            if seen % 2:
                pieces.append(token)
                space = " "
                quotes[quote] = seen + 1
            elif token == "'" and index > 0 and tokens[index - 1][-1] == "s":
                pieces.append(token)  # a possessive: "the Jones' house"
                space = " "
            else:
                pieces.append(space + token)
                space = ""
                quotes[quote] = seen + 1
    return "".join(pieces).strip()


def retokenize(text: str) -> str:
    """Moses tokenise (default escaping) and detokenise (default unescaping), English."""
    return _detokenized(_tokenized(text))
