"""Running a stage on a batch so that one bad file cannot take its neighbours down, and
keeping one bad result (one the store cannot hold) from stopping the rest."""

from __future__ import annotations

import logging

from anagnorisisd.stage import Stage, StageInput, StageOutput, StageSkip
from anagnorisisd.store.records import packed_or_reason

log = logging.getLogger(__name__)


def run_isolated(stage: Stage, inputs: list[StageInput]) -> list[StageOutput | None]:
    """Run a batch; on a crash, retry one by one so a bad file only fails itself.

    ``None`` in the result means "skip for now" (StageSkip): leave it queued.
    """
    try:
        outputs: list[StageOutput | None] = list(stage.process(inputs))
        if len(outputs) != len(inputs):
            raise RuntimeError(f"returned {len(outputs)} outputs for {len(inputs)} inputs")
        return outputs
    except StageSkip:
        if len(inputs) == 1:
            return [None]
    except Exception as exc:
        if len(inputs) == 1:
            return [StageOutput.fail(f"{type(exc).__name__}: {exc}")]
        log.debug("stage %s batch failed (%s); isolating", stage.name, exc)
    return [run_isolated(stage, [one])[0] for one in inputs]


def storable(stage: str, out: StageOutput | None) -> tuple[StageOutput, bytes | None] | None:
    """An output with its packed bytes, or, for one the store cannot hold (a lone surrogate
    in a worker's text, say), a failure of that one photo that says why: recorded like any
    other, so the photo is never retried in a loop and its neighbours go on. None: no
    output to pack."""
    if out is None or out.output is None:
        return None
    data, reason = packed_or_reason(out.output)
    if reason is not None:
        log.warning("stage %s made a result that cannot be stored (%s); that photo is failed",
                    stage, reason)
        return StageOutput.fail(f"its {stage} result cannot be stored: {reason}"), None
    return out, data


def storable_all(stage: str, outputs: list[StageOutput | None]
                 ) -> tuple[list[StageOutput | None], list[bytes | None]]:
    """`storable` for a batch: the outputs (the unstorable ones made failures) and their
    packed bytes (None where there is nothing to pack)."""
    checked = [storable(stage, out) for out in outputs]
    return ([out if ready is None else ready[0] for out, ready in zip(outputs, checked,
                                                                       strict=True)],
            [ready[1] if ready else None for ready in checked])
