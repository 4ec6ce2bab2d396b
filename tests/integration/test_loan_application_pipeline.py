"""`eventyard run loan_application`: the second workflow, plus an operator added by YAML."""

import time
from collections.abc import Callable

import orjson
import pytest
from kafka import KafkaProducer

from eventyard.demo.traffic import envelope_record
from eventyard.kafka import create_topics
from eventyard.kafka.reader import read_topic
from eventyard.pipelines import get_pipeline

pytestmark = pytest.mark.integration

WATCH = ('[{"use": "eventyard.operators.examples.inactivity:InactivityDetector", "options": {"name": "documents_watch",'
         ' "watch": ["LoanApplicationSubmitted", "CreditCheckCompleted"], "done_on": ["DocumentsVerified"],'
         ' "timeout": "5m", "repeat": false, "output": "alerts", "alert_type": "DocumentVerificationStalled"}}]')


@pytest.fixture
def loan_settings(broker, tmp_path, monkeypatch):
    for key, value in {"KAFKA__BOOTSTRAP_SERVERS": broker.bootstrap_servers, "STATE__DIR": str(tmp_path / "state"),
                       "RECOVERY__DIR": str(tmp_path / "recovery"), "RECOVERY__SNAPSHOT_INTERVAL": "1s",
                       "PIPELINE__OPERATORS": WATCH}.items():
        monkeypatch.setenv(f"EVENTYARD_{key}", value)
    definition = get_pipeline("loan_application")
    settings = definition.settings()
    create_topics(settings.kafka, definition.topics(settings))
    return settings


def _await(settings, topic: str, done: Callable[[list[dict]], bool], pipeline, timeout: float = 120) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        pipeline.check_alive()
        envelopes = [orjson.loads(m.value) for m in read_topic(settings.kafka, topic)]
        if done(envelopes) or time.monotonic() > deadline:
            return envelopes


def test_loan_applications_run_end_to_end_with_a_yaml_operator_alongside(loan_settings, start_pipeline):
    settings = loan_settings
    assert [spec.options["name"] for spec in settings.pipeline.operators] == ["documents_watch"]
    producer = KafkaProducer(**settings.kafka.client_options())
    events = [  # l-slow's first: each partition's timestamps grow, as producers stamp them
        ("loan-applications", "LoanApplicationSubmitted", "l-slow", {"applicant_id": "b", "amount": 500, "term_months": 6}),
        ("credit-checks", "CreditCheckCompleted", "l-slow", {"check_id": "c2", "score": 700}),
        ("loan-applications", "LoanApplicationSubmitted", "l-good", {"applicant_id": "a", "amount": 900, "term_months": 12}),
        ("credit-checks", "CreditCheckCompleted", "l-good", {"check_id": "c1", "score": 810}),
        ("documents", "DocumentsVerified", "l-good", {"verification_id": "v1"}),
        ("documents", "DocumentsVerified", "l-good", {"verification_id": "v1"}),  # a duplicate delivery
        ("reviews", "NotAnEvent", "l-good", {}),
    ]

    def send(topic: str, kind: str, loan: str, payload: dict, event_id: str, at_ms: int | None = None) -> None:
        record = envelope_record(topic, kind, loan, payload, event_id)
        producer.send(topic, key=record.key, value=record.value, timestamp_ms=at_ms)
        producer.flush()

    # Timers count from the record's timestamp. l-slow's events happened ten minutes
    # ago, so its 5-minute stall timer is due at once; l-good's are due in five
    # minutes, long after the test. The event-time merge applies both of l-slow's
    # before the stall timer due after them, whichever topic it reads first. (A record
    # stamped before one already read from its partition would be late: had the credit
    # check come after the timer fired, it would have re-armed the watch.)
    ten_minutes_ago = int(time.time() * 1000) - 600_000
    for n, (topic, kind, loan, payload) in enumerate(events):
        send(topic, kind, loan, payload, f"{loan}-{kind}-{n if n != 5 else 4}",
             ten_minutes_ago if loan == "l-slow" else None)
    pipeline = start_pipeline(processes=2, pipeline="loan_application")
    # The payments system pays out only after the DisburseLoan command.
    _await(settings, "loan-events", lambda es: any(e["type"] == "LoanApproved" for e in es), pipeline)
    send("disbursements", "LoanDisbursed", "l-good", {"disbursement_id": "d1"}, "l-good-LoanDisbursed")
    producer.close()

    outcome = _await(settings, "loan-events", lambda es: any(e["type"] == "LoanCompleted" for e in es), pipeline)
    assert [(e["type"], e["aggregate_id"]) for e in outcome] == [("LoanApproved", "l-good"), ("LoanCompleted", "l-good")]
    alerts = _await(settings, "loan-alerts", lambda es: bool(es), pipeline)
    assert [(e["type"], e["aggregate_id"]) for e in alerts] == [("DocumentVerificationStalled", "l-slow")]
    assert alerts[0]["payload"]["last_event_type"] in {"LoanApplicationSubmitted", "CreditCheckCompleted"}
    commands = _await(settings, "loan-commands", lambda es: len(es) >= 5, pipeline)
    assert sorted((e["aggregate_id"], e["type"]) for e in commands) == sorted([
        ("l-good", "RequestCreditCheck"), ("l-good", "VerifyDocuments"), ("l-good", "DisburseLoan"),
        ("l-slow", "RequestCreditCheck"), ("l-slow", "VerifyDocuments")])
    dead = list(read_topic(settings.kafka, "loan_application.dlq"))
    assert [dict(m.headers)["eventyard.error.reason"] for m in dead] == [b"unknown_type"]
    assert pipeline.stop() == 0
