"""Payment file routes (admin): the import reports of OCR payment files."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from chalicelib.api.paging import ListQuery
from chalicelib.api.routing import Call, Router
from chalicelib.api.schemas import MoneyModel, ResponseModel
from chalicelib.ledger.models import FileStatus
from chalicelib.money import Currency, Money

if TYPE_CHECKING:
    from chalicelib.flows.import_ocr_file import FileReport

router = Router("payment_files", tag="ledger")


def _money(amount: int, currency: Currency) -> MoneyModel:
    return MoneyModel.of(Money(amount, currency))


class TallyView(ResponseModel):
    """Count and sum of transactions with one outcome."""

    count: int
    amount: MoneyModel


class ArrivalView(ResponseModel):
    """One drop of the file in the bucket."""

    bucket: str
    key: str
    received_at: datetime
    duplicate: bool


class ReasonView(ResponseModel):
    """Why a file was rejected, or one of its transactions left out (``line``: where)."""

    code: str
    message: str
    line: int | None


class PaymentFileView(ResponseModel):
    """A payment file's import report. Outcomes: received, matched, applied, credit, refunded, suspense,
    suspense:<reason>, reversals, paid_invoices (count of invoices the file settled), rejected (transactions
    left out: their reasons are in ``rejected_reasons``)."""

    id: str
    format: str
    status: FileStatus
    size: int
    transmission_number: str | None
    nets_date: date | None
    transactions: int
    total: MoneyModel
    outcomes: dict[str, TallyView]
    duplicates: int
    arrivals: list[ArrivalView]
    rejected_reasons: list[ReasonView]
    created_at: datetime
    finished_at: datetime | None


class PaymentFileList(ResponseModel):
    """A page of payment files."""

    items: list[PaymentFileView]
    next_cursor: str | None


def payment_file_view(report: FileReport) -> PaymentFileView:
    """The API's shape of a payment file's report."""
    file = report.file
    return PaymentFileView(
        id=file.id,
        format=file.format,
        status=file.status,
        size=file.size,
        transmission_number=file.transmission_number,
        nets_date=file.nets_date,
        transactions=file.transactions,
        total=_money(file.total_amount, Currency.NOK),
        outcomes={
            name: TallyView(count=t.count, amount=_money(t.amount, Currency.NOK))
            for name, t in sorted(report.tallies.items())
        },
        duplicates=report.duplicates,
        arrivals=[
            ArrivalView(bucket=a.bucket, key=a.key, received_at=a.received_at, duplicate=a.duplicate)
            for a in file.arrivals
        ],
        rejected_reasons=[ReasonView(code=r.code, message=r.message, line=r.line) for r in file.reasons],
        created_at=file.created_at,
        finished_at=file.finished_at,
    )


@router.route(
    "GET",
    "/v1/payment-files",
    summary="Imported payment files and their reports",
    query=ListQuery,
    response=PaymentFileList,
)
def list_payment_files(call: Call) -> PaymentFileList:
    """Payment files, oldest first."""
    query = call.query(ListQuery)
    page = call.services.ocr_imports.reports(query.limit, query.cursor)
    return PaymentFileList(items=[payment_file_view(r) for r in page.items], next_cursor=page.next_cursor)


@router.route(
    "GET",
    "/v1/payment-files/{id}",
    summary="A payment file's import report",
    response=PaymentFileView,
    problems=(404,),
)
def get_payment_file(call: Call) -> PaymentFileView:
    """One file's report: counts, sums, matched, to suspense, rejected with reasons."""
    return payment_file_view(call.services.ocr_imports.report(call.path["id"]))
