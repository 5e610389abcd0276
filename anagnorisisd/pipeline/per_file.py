"""The per-file loop the image stages share: one file's failure is that file's alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from anagnorisisd.imaging.decoding import failure_reason
from anagnorisisd.stage import StageInput, StageOutput

Work = Callable[[StageInput], dict[str, Any] | tuple[dict[str, Any], dict[str, Any] | None]]


def each_file(batch: list[StageInput], work: Work, doing: str) -> list[StageOutput]:
    """`work(item)` for every item: its output (or its output and what to carry on), a
    failure with its reason, or (for a file that vanished while it was read) a retry later,
    never a failure."""
    out = []
    for item in batch:
        try:
            result = work(item)
        except FileNotFoundError:
            out.append(StageOutput.later("the file vanished while it was read"))
        except Exception as exc:  # any reader's error is this file's, said with its reason
            out.append(StageOutput.fail(failure_reason(exc, doing)))
        else:
            output, carry = result if isinstance(result, tuple) else (result, None)
            out.append(StageOutput.ok(output, carry))
    return out
