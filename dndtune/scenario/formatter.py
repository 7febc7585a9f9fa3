"""``dndtune scenarios fmt``: normalise layout without changing meaning.

Works on the text, not on the model, so narration, comments and the order of SYSTEM lines
survive untouched; only whitespace, header spelling and TOOLCALL lines are rewritten, and a
TOOLCALL line is rewritten only when it parses.
"""

from __future__ import annotations

from dndtune.scenario.lines import format_result, parse_result_line
from dndtune.scenario.sections import CANONICAL_HEADERS, match_header, section_kind


def format_text(text: str) -> str:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    kind: str | None = None
    in_comment = False
    for raw in lines:
        line = raw.rstrip()
        header = None if in_comment else match_header(line)
        if header is not None:
            kind = section_kind(header)
            while out and not out[-1]:
                out.pop()
            if out:
                out.append("")
            out.append(f"## {CANONICAL_HEADERS[kind]}" if kind else f"## {header}")
            continue
        if kind == "toolcall" and line.strip() and not in_comment:
            result, problem = parse_result_line(line, 0)
            if result is not None and problem is None:
                line = format_result(result)
        if "<!--" in line and "-->" not in line.split("<!--")[-1]:
            in_comment = True
        elif in_comment and "-->" in line:
            in_comment = False
        if not line and (not out or not out[-1] or match_header(out[-1]) is not None):
            continue  # collapse blank runs, and no blank right after a header
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"
