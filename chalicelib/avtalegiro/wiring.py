"""AvtaleGiro's services, as the container holds them (``Services.avtalegiro``)."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.avtalegiro.claims import ClaimFiles
from chalicelib.avtalegiro.deletions import DeletionFiles
from chalicelib.avtalegiro.mandates import MandateImports


@dataclass(frozen=True)
class AvtaleGiro:
    """Mandate imports, the daily claim file and the daily deletion file."""

    mandates: MandateImports
    claims: ClaimFiles
    deletions: DeletionFiles
