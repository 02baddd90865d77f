"""A queue is reported by the number people dial, whatever app_queue calls it (MikoPBX names
its queues QUEUE-<uniqid> behind a separate extension)."""

from __future__ import annotations

from connector.calls.queues import queue_number
from connector.calls.rules import TrackerRules, rules_from_numbering

RULES = TrackerRules(dids=("74951110001",))


def test_a_numeric_queue_name_is_its_number() -> None:
    assert queue_number(RULES, "2200101", "2200101") == "2200101"


def test_an_id_named_queue_is_reported_by_the_extension_it_was_joined_from() -> None:
    assert queue_number(RULES, "QUEUE-6A1B2C3D", "2200100") == "2200100"


def test_the_configured_mapping_wins_over_the_extension() -> None:
    rules = rules_from_numbering(
        {"dids": ["74951110001"], "queues": [{"id": "QUEUE-6A1B", "number": "555", "name": "Продажи"}]}
    )

    assert queue_number(rules, "QUEUE-6A1B", "2200100") == "555"
    assert rules.queue_by_id("QUEUE-6A1B") == ("555", "Продажи")


def test_a_line_or_a_non_number_is_never_taken_for_the_queue_number() -> None:
    assert queue_number(RULES, "QUEUE-6A1B", "74951110001") == "QUEUE-6A1B"
    assert queue_number(RULES, "QUEUE-6A1B", "s") == "QUEUE-6A1B"


def test_queues_listed_in_the_settings_reach_the_tracker_rules() -> None:
    from connector import config
    from connector.calls.rules import rules_from_settings

    settings = config.loads(
        "ami:\n  username: crm\n  secret: s3cret\n"
        "numbering:\n"
        "  queues:\n"
        "    - {id: QUEUE-6A1B, number: '2200100', name: Отдел продаж}\n"
    )

    assert rules_from_settings(settings).queue_by_id("QUEUE-6A1B") == ("2200100", "Отдел продаж")
    assert rules_from_settings(settings).queue_by_id("2200100") == ("2200100", "Отдел продаж")
