"""Event catalog of the loan application workflow."""

from __future__ import annotations

from pydantic import Field

from eventyard.core.catalog import EventCatalog, EventSpec, Payload

__all__ = ["CATALOG", "LoanApplicationSubmitted", "CreditCheckCompleted", "DocumentsVerified",
           "DocumentsRejected", "ManualReviewCompleted", "LoanDisbursed", "ApplicationWithdrawn"]


class LoanApplicationSubmitted(Payload):
    applicant_id: str = Field(min_length=1)
    amount: float = Field(gt=0)
    term_months: int = Field(gt=0, le=480)


class CreditCheckCompleted(Payload):
    check_id: str
    score: int = Field(ge=0, le=1000)


class DocumentsVerified(Payload):
    verification_id: str


class DocumentsRejected(Payload):
    verification_id: str
    reason: str


class ManualReviewCompleted(Payload):
    review_id: str
    approved: bool
    reviewer: str


class LoanDisbursed(Payload):
    disbursement_id: str


class ApplicationWithdrawn(Payload):
    reason: str = "applicant_request"


def _in(model: type[Payload], topic: str, text: str) -> EventSpec:
    return EventSpec(model.__name__, model, "input", topic, text)


def _out(name: str, topic: str, text: str) -> EventSpec:
    return EventSpec(name, Payload, "output", topic, text)


CATALOG = EventCatalog([
    _in(LoanApplicationSubmitted, "loan-applications", "An applicant asked for a loan"),
    _in(ApplicationWithdrawn, "loan-applications", "The applicant withdrew the application"),
    _in(CreditCheckCompleted, "credit-checks", "The credit bureau returned a score"),
    _in(DocumentsVerified, "documents", "The applicant's documents were verified"),
    _in(DocumentsRejected, "documents", "The applicant's documents were rejected"),
    _in(ManualReviewCompleted, "reviews", "An underwriter decided"),
    _in(LoanDisbursed, "disbursements", "The money was paid out"),
    _out("RequestCreditCheck", "loan-commands", "Ask the credit bureau for a score (places a hold)"),
    _out("ReleaseCreditHold", "loan-commands", "Compensation: release the bureau's hold"),
    _out("VerifyDocuments", "loan-commands", "Ask document verification to check the documents"),
    _out("CancelDocumentVerification", "loan-commands", "Compensation: stop verifying"),
    _out("RequestManualReview", "loan-commands", "Ask an underwriter to decide"),
    _out("DisburseLoan", "loan-commands", "Pay the loan out"),
    _out("NotifyApplicant", "loan-commands", "Tell the applicant something"),
    _out("LoanApproved", "loan-events", "The application was approved"),
    _out("LoanRejected", "loan-events", "The application was rejected (with a reason)"),
    _out("LoanCompleted", "loan-events", "The loan was paid out"),
])
