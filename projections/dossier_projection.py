"""What every dossier read model shares: it follows the dossier events and nothing else."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, TypeVar

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from eventsourcing.utils import get_topic

from domain.application import DOSSIER_EVENT_CLASSES
from domain.dossier import Dossier
from projections.read_model import ReadModel

TView = TypeVar("TView", bound=ReadModel)


class DossierProjection(Projection[TView]):
    topics = tuple(get_topic(c) for c in DOSSIER_EVENT_CLASSES)

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        # The runner subscribes by topic, so anything else means a topic list out of step.
        if not isinstance(domain_event, Dossier.Event):
            raise TypeError(f"{self.name} does not handle {type(domain_event).__qualname__}")
        self.apply(domain_event, tracking)

    @abstractmethod
    def apply(self, e: Dossier.Event, tracking: Tracking) -> None:
        """Record what the event changes in this read model, in the tracking's transaction."""
