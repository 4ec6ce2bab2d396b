"""The loan application workflow, run by the operator test kit (real engine and RocksDB)."""

from datetime import timedelta

import pytest

from eventyard.testing import OperatorTestKit
from eventyard.operators.workflow_operator import WorkflowOperator
from eventyard.pipelines.loan_application import LoanApplication, LoanApplicationOptions
from eventyard.pipelines.loan_application_events import CATALOG


@pytest.fixture
def kit():
    with OperatorTestKit(WorkflowOperator(LoanApplication(LoanApplicationOptions())), CATALOG) as kit:
        yield kit


def _submit(kit, loan="l-1"):
    return kit.send("LoanApplicationSubmitted", loan, applicant_id="a-1", amount=5000, term_months=24)


def _types(emitted):
    return [e.type for e in emitted]


def test_a_good_score_and_verified_documents_approve_and_pay_out(kit):
    assert _types(_submit(kit)) == ["RequestCreditCheck", "VerifyDocuments"]
    assert _types(kit.send("CreditCheckCompleted", "l-1", check_id="c", score=800)) == []
    assert _types(kit.send("DocumentsVerified", "l-1", verification_id="v")) == ["LoanApproved", "DisburseLoan"]
    assert _types(kit.send("LoanDisbursed", "l-1", disbursement_id="d")) == ["LoanCompleted"]
    assert kit.state("l-1")["state"] == "completed"
    assert kit.advance(timedelta(days=10)) == []  # every timeout was cancelled


def test_a_middling_score_goes_to_manual_review_which_is_escalated_when_overdue(kit):
    _submit(kit)
    kit.send("DocumentsVerified", "l-1", verification_id="v")
    assert _types(kit.send("CreditCheckCompleted", "l-1", check_id="c", score=650)) == ["RequestManualReview"]
    escalated = kit.advance(timedelta(days=2))
    assert _types(escalated) == ["RequestManualReview"] and escalated[0].payload["escalated"] is True
    decided = kit.send("ManualReviewCompleted", "l-1", review_id="r", approved=False, reviewer="u")
    assert _types(decided) == ["ReleaseCreditHold", "NotifyApplicant", "LoanRejected"]
    assert decided[-1].payload["reason"] == "rejected_in_review"


def test_a_low_score_rejects_and_compensates_what_is_in_flight(kit):
    _submit(kit)
    out = kit.send("CreditCheckCompleted", "l-1", check_id="c", score=420)
    assert _types(out) == ["CancelDocumentVerification", "ReleaseCreditHold", "NotifyApplicant", "LoanRejected"]
    # documents that arrive after the rejection change nothing
    assert kit.send("DocumentsVerified", "l-1", verification_id="v") == []


def test_missing_documents_are_reminded_then_the_application_expires(kit):
    _submit(kit)
    kit.send("CreditCheckCompleted", "l-1", check_id="c", score=700)
    reminder = kit.advance(timedelta(days=1))
    assert _types(reminder) == ["NotifyApplicant"] and reminder[0].payload["topic"] == "documents_missing"
    expired = kit.advance(timedelta(days=4))
    assert _types(expired) == ["CancelDocumentVerification", "ReleaseCreditHold", "NotifyApplicant",
                               "LoanRejected"]
    assert expired[-1].payload["reason"] == "documents_timeout"


def test_no_credit_score_within_the_timeout_rejects_and_a_late_score_releases_its_hold(kit):
    _submit(kit)
    assert _types(kit.advance(timedelta(hours=1)))[-1] == "LoanRejected"
    late = kit.send("CreditCheckCompleted", "l-1", check_id="c", score=800)
    assert [(e.type, e.payload["reason"]) for e in late] == [("ReleaseCreditHold", "late_score")]


def test_withdrawal_compensates_without_notifying(kit):
    _submit(kit)
    out = kit.send("ApplicationWithdrawn", "l-1")
    assert _types(out) == ["CancelDocumentVerification", "ReleaseCreditHold", "LoanRejected"]


def test_events_before_the_submission_wait_for_it(kit):
    kit.send("CreditCheckCompleted", "l-1", check_id="c", score=800)
    kit.send("DocumentsVerified", "l-1", verification_id="v")
    out = _submit(kit)
    assert _types(out) == ["RequestCreditCheck", "VerifyDocuments", "LoanApproved", "DisburseLoan"]


def test_a_disbursement_read_before_the_approval_completes_the_loan_once_approved(kit):
    _submit(kit)
    kit.send("CreditCheckCompleted", "l-1", check_id="c", score=800)
    assert _types(kit.send("LoanDisbursed", "l-1", disbursement_id="d")) == []  # not approved yet: waits
    assert _types(kit.send("DocumentsVerified", "l-1", verification_id="v")) == [
        "LoanApproved", "DisburseLoan", "LoanCompleted"]
    assert kit.state("l-1")["state"] == "completed" and kit.dead_letters == []


def test_a_review_read_before_it_was_requested_waits_and_a_repeated_one_is_ignored(kit):
    _submit(kit)
    kit.send("DocumentsVerified", "l-1", verification_id="v")
    kit.send("ManualReviewCompleted", "l-1", review_id="r1", approved=True, reviewer="ann")
    assert _types(kit.send("CreditCheckCompleted", "l-1", check_id="c", score=650)) == [
        "RequestManualReview", "LoanApproved", "DisburseLoan"]
    kit.send("ManualReviewCompleted", "l-1", review_id="r2", approved=False, reviewer="bob")
    assert kit.state("l-1")["state"] == "approved"
    assert kit.state("l-1")["history"][-1][-1] == "ignored: already_decided"
