"""AvtaleGiro's services built from the container's parts (until the container has properties for them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from chalicelib.avtalegiro.claims import ClaimFiles
from chalicelib.avtalegiro.deletions import DeletionFiles
from chalicelib.avtalegiro.mandates import MandateImports

if TYPE_CHECKING:
    from chalicelib.container import Services


@dataclass(frozen=True)
class AvtaleGiro:
    """Mandate imports, the daily claim file and the daily deletion file."""

    mandates: MandateImports
    claims: ClaimFiles
    deletions: DeletionFiles


_built: WeakKeyDictionary[Services, AvtaleGiro] = WeakKeyDictionary()


def avtalegiro_services(services: Services) -> AvtaleGiro:
    """The AvtaleGiro services of a container, built once per container."""
    found = _built.get(services)
    if found is None:
        bucket = services.settings.documents_bucket
        found = AvtaleGiro(
            mandates=MandateImports(
                services.documents, services.s3, services.clock, notices=services.notification_queue
            ),
            claims=ClaimFiles(services.documents, services.s3, bucket, services.clock),
            deletions=DeletionFiles(services.documents, services.s3, bucket, services.clock),
        )
        _built[services] = found
    return found
