"""Texts sent to GitHub kept inside its size limits, secrets redacted (pull request bodies, comments, status
and Deployment descriptions)."""

from __future__ import annotations

from kargo_actions.redact import redact

# GitHub refuses issue and pull request bodies longer than this many characters
BODY_LIMIT = 65_536
# commit status descriptions are cut by GitHub at 140 characters
STATUS_DESCRIPTION_LIMIT = 140


def fit_body(text: str, limit: int = BODY_LIMIT, full_text_url: str = "") -> str:
    """`text` (redacted) unchanged when it fits, else cut at a line end with a note saying how much was left out."""
    text = redact(text)
    if len(text) <= limit:
        return text
    where = f" The full text is at {full_text_url}." if full_text_url else ""
    # the note's length depends on the count it states; reserve room for the widest count
    reserve = len(_note(len(text), where, limit)) + len("\n```\n")
    cut = text[: max(limit - reserve, 0)]
    newline = cut.rfind("\n")
    if newline > len(cut) // 2:
        cut = cut[: newline + 1]
    if not cut.endswith("\n"):
        cut += "\n"
    if cut.count("```") % 2 == 1:
        cut += "```\n"  # close a code fence the cut left open, so the note renders as text
    result = cut + _note(len(text) - len(cut.rstrip("`\n")), where, limit)
    return result[:limit]


def _note(omitted: int, where: str, limit: int) -> str:
    return f"\n> [!NOTE]\n> Truncated to fit GitHub's {limit:,}-character limit: {omitted:,} characters left out.{where}\n"


def fit_status_description(text: str) -> str:
    """A commit status description of at most 140 characters (one line), redacted."""
    line = " ".join(redact(text).split())
    if len(line) <= STATUS_DESCRIPTION_LIMIT:
        return line
    return line[: STATUS_DESCRIPTION_LIMIT - 1] + "…"
