"""The per-file loop the image stages share: one file's failure is that file's alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from anagnorisisd.imaging.decoding import failure_reason
from anagnorisisd.ml.protocol import ItemFault, NoWorker, Stopped
from anagnorisisd.stage import PixelNeed, StageInput, StageOutput, StageSkip

T = TypeVar("T")
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


def scenes_of(item: StageInput, need: PixelNeed | None = None
              ) -> list[tuple[float | None, Any]] | StageOutput:
    """A file's scenes (a photo's one picture, a video's scenes: StageInput.moments), or
    the file's outcome when they cannot be read: "later" for a file that vanished, else a
    failure with its reason."""
    try:
        return item.moments(need)
    except FileNotFoundError:
        return StageOutput.later("the file vanished while it was read")
    except Exception as exc:  # any reader's error is this file's, said with its reason
        return StageOutput.fail(failure_reason(exc))


def model_answer(call: Callable[[], T]) -> T | StageOutput:
    """A model's answer about one picture, or the file's outcome without one: the item's
    own fault fails it, a worker's trouble is "later" (never the photo's), a stop skips."""
    try:
        return call()
    except Stopped:
        raise StageSkip("shutting down") from None
    except ItemFault as exc:
        return StageOutput.fail(str(exc))
    except NoWorker as exc:
        return StageOutput.later(str(exc))
