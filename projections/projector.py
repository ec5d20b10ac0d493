"""Everything that follows the log, in one place: the read models, the transparency log,
the checkpoint signer, and companions such as the outbox's deliverer.

``hoso project`` runs it in a process of its own, beside any number of web processes started
with ``--no-follow``; ``hoso serve`` in its single-process form runs it in the web process.
Either way only one follower per store is allowed (``FollowLock``), and it resumes from each
read model's tracked position: nothing is skipped or applied twice across restarts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from projections.checkpoint_schedule import CheckpointSigner
from projections.checkpoints import TransparencyLog
from projections.runners import ReadModels

log = logging.getLogger(__name__)


class Companion(Protocol):
    """A background job that runs while the log is followed (the outbox's deliverer)."""

    def start(self) -> None: ...
    def stop(self) -> None: ...


class Projector:
    def __init__(self, read_models: ReadModels, transparency: TransparencyLog,
                 clock: Callable[[], datetime], interval: timedelta | None = None,
                 companions: Sequence[Companion] = ()) -> None:
        self.read_models = read_models
        self.transparency = transparency
        self.clock = clock
        # How soon after new events a checkpoint is signed (HOSO_CHECKPOINT_SECONDS).
        self.interval = interval or timedelta(
            seconds=read_models.settings.checkpoint_seconds)
        self.companions = tuple(companions)
        self._signer: CheckpointSigner | None = None

    @property
    def signs_checkpoints(self) -> bool:
        return self.transparency.signer is not None

    def start(self) -> None:
        """Follow the log (``AlreadyFollowed`` if another process does) and sign checkpoints."""
        self.read_models.follow()
        for companion in self.companions:
            companion.start()
        if self.transparency.signer is None:
            log.warning("HOSO_LOG_SIGNING_KEY is not set: no checkpoints are signed")
            return
        self._signer = CheckpointSigner(
            lambda: self.transparency.make_checkpoint(self.clock()), self.interval)
        self._signer.start()

    def stop(self) -> None:
        if self._signer is not None:
            self._signer.stop()
            self._signer = None
        for companion in self.companions:
            companion.stop()
        self.read_models.stop()
