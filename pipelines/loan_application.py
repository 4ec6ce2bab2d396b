"""The loan application workflow: credit check, document verification, manual review.

    LoanApplicationSubmitted  -> RequestCreditCheck + VerifyDocuments
    score < min_credit_score  -> reject: CancelDocumentVerification, ReleaseCreditHold
    DocumentsRejected         -> reject: ReleaseCreditHold (and stop the credit check)
    credit and documents ok   -> approve, or RequestManualReview if the score is not
                                 high enough for automatic approval
    ManualReviewCompleted     -> approve (DisburseLoan) or reject (read before the review
                                 was requested, it waits for it; a repeated one is ignored)
    LoanDisbursed             -> LoanCompleted (once approved: read earlier, it waits)
    no score after 1h         -> reject (credit_check_timeout)
    no documents after 1d     -> NotifyApplicant (reminder); after 5d -> reject, compensate
    no review after 2d        -> RequestManualReview again, escalated
    ApplicationWithdrawn      -> compensate what is in flight, reject (withdrawn)
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, model_validator

from eventyard.config import Duration, EventyardSettings
from eventyard.operators.workflow import Event, Instance, Workflow, on, on_timeout
from eventyard.pipelines.definition import PipelineDefinition
from eventyard.pipelines.loan_application_events import CATALOG

__all__ = ["LoanApplication", "LoanApplicationOptions", "PIPELINE"]


class LoanApplicationOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    min_credit_score: int = 600
    auto_approve_score: int = 720
    credit_check_timeout: Duration = timedelta(hours=1)
    documents_reminder_after: Duration = timedelta(days=1)
    documents_timeout: Duration = timedelta(days=5)
    review_timeout: Duration = timedelta(days=2)

    @model_validator(mode="after")
    def _consistent(self) -> "LoanApplicationOptions":
        if self.auto_approve_score < self.min_credit_score:
            raise ValueError("auto_approve_score must be at least min_credit_score")
        if self.documents_reminder_after >= self.documents_timeout:
            raise ValueError("documents_reminder_after must be shorter than documents_timeout")
        return self


class LoanApplication(Workflow):
    name = "loan_application"
    starts_with = {"LoanApplicationSubmitted"}

    def __init__(self, options: LoanApplicationOptions) -> None:
        self.options = options

    @on("LoanApplicationSubmitted")
    def submitted(self, loan: Instance, event: Event) -> None:
        application = event.payload
        loan.data.update(applicant_id=application.applicant_id, amount=application.amount,
                         term_months=application.term_months, score=None, documents=None,
                         hold=True)
        loan.command("RequestCreditCheck", applicant_id=application.applicant_id, amount=application.amount)
        loan.command("VerifyDocuments", applicant_id=application.applicant_id)
        loan.expect("credit_check_timeout", within=self.options.credit_check_timeout)
        loan.expect("documents_reminder", within=self.options.documents_reminder_after)
        loan.expect("documents_timeout", within=self.options.documents_timeout)
        loan.goto("checking")

    @on("CreditCheckCompleted")
    def credit_checked(self, loan: Instance, event: Event) -> None:
        if loan.finished:
            self._release_late_hold(loan)
            return
        loan.cancel("credit_check_timeout")
        loan.data["score"] = event.payload.score
        if event.payload.score < self.options.min_credit_score:
            self._reject(loan, "credit_score_too_low")
        else:
            self._decide_when_checked(loan)

    @on("DocumentsVerified")
    def documents_verified(self, loan: Instance, event: Event) -> None:
        if loan.finished:
            loan.ignore("application_closed")
            return
        loan.cancel("documents_reminder", "documents_timeout")
        loan.data["documents"] = "verified"
        self._decide_when_checked(loan)

    @on("DocumentsRejected")
    def documents_rejected(self, loan: Instance, event: Event) -> None:
        if loan.finished:
            loan.ignore("application_closed")
        else:
            loan.data["documents"] = "rejected"
            self._reject(loan, f"documents_rejected: {event.payload.reason}")

    @on("ManualReviewCompleted", when="in_review")
    def reviewed(self, loan: Instance, event: Event) -> None:
        loan.cancel("review_timeout")
        loan.data["reviewer"] = event.payload.reviewer
        if event.payload.approved:
            self._approve(loan)
        else:
            self._reject(loan, "rejected_in_review")

    @on("ManualReviewCompleted", when={"approved", "rejected", "completed"})
    def reviewed_again(self, loan: Instance, event: Event) -> None:
        loan.ignore("already_decided")  # a late or repeated decision (an escalation) changes nothing

    @on("LoanDisbursed", when="approved")
    def disbursed(self, loan: Instance, event: Event) -> None:
        loan.event("LoanCompleted", disbursement_id=event.payload.disbursement_id,
                   amount=loan.data["amount"])
        loan.finish("completed")

    @on("ApplicationWithdrawn")
    def withdrawn(self, loan: Instance, event: Event) -> None:
        if loan.finished or loan.state == "approved":
            loan.ignore("too_late_to_withdraw")
        else:
            self._reject(loan, "withdrawn", notify=False)

    # -- timeouts ----------------------------------------------------------------
    @on_timeout("credit_check_timeout")
    def no_credit_score(self, loan: Instance) -> None:
        self._reject(loan, "credit_check_timeout")

    @on_timeout("documents_reminder")
    def remind_documents(self, loan: Instance) -> None:
        loan.command("NotifyApplicant", applicant_id=loan.data["applicant_id"], topic="documents_missing")

    @on_timeout("documents_timeout")
    def no_documents(self, loan: Instance) -> None:
        self._reject(loan, "documents_timeout")

    @on_timeout("review_timeout")
    def review_overdue(self, loan: Instance) -> None:
        loan.command("RequestManualReview", applicant_id=loan.data["applicant_id"],
                     amount=loan.data["amount"], score=loan.data["score"], escalated=True)
        loan.expect("review_timeout", within=self.options.review_timeout)

    # -- steps shared by several transitions -------------------------------------
    def _decide_when_checked(self, loan: Instance) -> None:
        score, documents = loan.data["score"], loan.data["documents"]
        if score is None or documents != "verified":
            loan.goto("checking")
        elif score >= self.options.auto_approve_score:
            self._approve(loan)
        else:
            loan.command("RequestManualReview", applicant_id=loan.data["applicant_id"],
                         amount=loan.data["amount"], score=score, escalated=False)
            loan.expect("review_timeout", within=self.options.review_timeout)
            loan.goto("in_review")

    def _approve(self, loan: Instance) -> None:
        loan.event("LoanApproved", applicant_id=loan.data["applicant_id"], amount=loan.data["amount"],
                   term_months=loan.data["term_months"])
        loan.command("DisburseLoan", applicant_id=loan.data["applicant_id"], amount=loan.data["amount"])
        loan.goto("approved")

    def _reject(self, loan: Instance, reason: str, *, notify: bool = True) -> None:
        """Undo what is still in flight, then close the application."""
        if loan.data["documents"] is None:
            loan.command("CancelDocumentVerification", applicant_id=loan.data["applicant_id"], reason=reason)
        if loan.data["hold"]:
            loan.command("ReleaseCreditHold", applicant_id=loan.data["applicant_id"], reason=reason)
            loan.data["hold"] = False
        if notify:
            loan.command("NotifyApplicant", applicant_id=loan.data["applicant_id"], topic="rejected",
                         reason=reason)
        loan.event("LoanRejected", applicant_id=loan.data["applicant_id"], reason=reason)
        loan.finish("rejected")

    def _release_late_hold(self, loan: Instance) -> None:
        # A score that arrives after the application closed still placed a hold.
        if loan.state == "rejected":
            loan.command("ReleaseCreditHold", applicant_id=loan.data["applicant_id"], reason="late_score")


def _workflow(settings: EventyardSettings) -> LoanApplication:
    return LoanApplication(getattr(settings, "loan_application"))


PIPELINE = PipelineDefinition(
    name="loan_application",
    description="Loan applications: credit check, document verification, manual review",
    catalog=CATALOG,
    options=LoanApplicationOptions,
    workflow=_workflow,
)
