"""When a speculative final may be published before the end-of-utterance silence has run out (streaming.py)."""

from __future__ import annotations

import re

# A finished sentence: terminal punctuation, optionally inside closing quotes or brackets. An ellipsis is a
# trailing-off ("so we went to the...") after which speakers usually go on.
_SENTENCE_END = re.compile(r"(?<![.…])[.?!][\"'”’)\]]*$")


def ends_turn(text: str) -> bool:
    """True when ``text`` reads as a finished sentence."""
    return bool(_SENTENCE_END.search(text.strip()))
