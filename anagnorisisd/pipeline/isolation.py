"""Running a stage on a batch so that one bad file cannot take its neighbours down."""

from __future__ import annotations

import logging

from anagnorisisd.stage import Stage, StageInput, StageOutput, StageSkip

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
