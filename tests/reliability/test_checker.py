"""The delivery checker itself: it must catch each kind of failure it claims to (no DB needed)."""

from __future__ import annotations

from typing import Any

from tests.reliability import checker


def enq(message_id: int, key: str | None = None) -> dict[str, Any]:
    return {"e": "enq", "id": message_id, "key": key}


def lease(message_id: int, consumer: str, start: int, end: int, read_ct: int) -> dict[str, Any]:
    return {
        "e": "lease",
        "id": message_id,
        "c": consumer,
        "start": start,
        "end": end,
        "rc": read_ct,
        "key": None,
    }


def ack(
    message_id: int, consumer: str, read_ct: int, ok: bool | None, kind: str = "delete"
) -> dict[str, Any]:
    return {"e": "ack", "id": message_id, "c": consumer, "kind": kind, "rc": read_ct, "ok": ok}


def test_clean_run_passes() -> None:
    verdict = checker.Checker(
        [
            enq(1),
            lease(1, "a", 0, 10, 1),
            ack(1, "a", 1, True),
            enq(2),
            lease(2, "b", 0, 10, 1),
            ack(2, "b", 1, True),
        ]
    ).verdict()
    assert verdict.ok, str(verdict)
    assert (verdict.enqueued, verdict.acknowledged, verdict.leases) == (2, 2, 2)


def test_unacknowledged_message_is_lost() -> None:
    verdict = checker.Checker([enq(1), lease(1, "a", 0, 10, 1), ack(1, "a", 1, False)]).verdict()
    assert (verdict.lost, verdict.ok) == (1, False)


def test_two_successful_acks_are_a_double_ack() -> None:
    events = [
        enq(1),
        lease(1, "a", 0, 10, 1),
        lease(1, "b", 10, 20, 2),
        ack(1, "b", 2, True),
        ack(1, "a", 1, True),
    ]
    verdict = checker.Checker(events).verdict()
    assert verdict.double_acks == 1
    assert verdict.acks_from_non_holders == 1  # a's lease had been taken over by b
    assert not verdict.ok


def test_overlapping_leases_are_caught_with_extensions_counted() -> None:
    overlapping = [enq(1), lease(1, "a", 0, 10, 1), lease(1, "b", 9, 20, 2), ack(1, "b", 2, True)]
    assert checker.Checker(overlapping).verdict().overlapping_leases == 1
    extended = [
        enq(1),
        lease(1, "a", 0, 10, 1),
        {"e": "ext", "id": 1, "c": "a", "rc": 1, "s": 5, "ok": True},
        lease(1, "b", 12, 20, 2),
        ack(1, "b", 2, True),
    ]
    assert checker.Checker(extended).verdict().overlapping_leases == 1
    back_to_back = [enq(1), lease(1, "a", 0, 10, 1), lease(1, "b", 10, 20, 2), ack(1, "b", 2, True)]
    assert checker.Checker(back_to_back).verdict().ok


def test_unknown_message_is_unexpected() -> None:
    verdict = checker.Checker(
        [enq(1), lease(1, "a", 0, 1, 1), ack(1, "a", 1, True), lease(7, "a", 0, 1, 1)]
    ).verdict()
    assert verdict.unexpected == 1


def test_final_state_settles_failed_calls_and_audits_the_archive() -> None:
    events = [enq(1), lease(1, "a", 0, 10, 1), ack(1, "a", 1, None, "archive")]
    archived = checker.FinalState(remaining={}, archived={1: [None]}, archived_keys={1: None})
    verdict = checker.Checker(events).verdict(archived)
    assert verdict.ok and verdict.settled_by_final_state == 1
    still_there = checker.FinalState(remaining={1: None}, archived={}, archived_keys={})
    assert checker.Checker(events).verdict(still_there).lost == 1
    twice = checker.FinalState(remaining={}, archived={1: [None, None]}, archived_keys={1: None})
    assert checker.Checker(events).verdict(twice).double_acks == 1
    acked_not_archived = [enq(1), lease(1, "a", 0, 10, 1), ack(1, "a", 1, True, "archive")]
    empty = checker.FinalState(remaining={}, archived={}, archived_keys={})
    assert checker.Checker(acked_not_archived).verdict(empty).lost == 1


def test_dead_letters_are_not_lost() -> None:
    events = [enq(1), lease(1, "a", 0, 10, 1)]
    buried = checker.FinalState(remaining={}, archived={1: ["delivered 5 times"]}, archived_keys={1: None})
    verdict = checker.Checker(events).verdict(buried)
    assert verdict.ok and verdict.dead_lettered == 1


def test_ambiguous_enqueue_that_was_written_is_expected() -> None:
    events = [{"e": "enq?", "key": "k1"}, {**lease(5, "a", 0, 10, 1), "key": "k1"}, ack(5, "a", 1, True)]
    verdict = checker.Checker(events).verdict()
    assert verdict.ok and verdict.ambiguous_enqueues_written == 1


def test_recorder_round_trip_survives_a_torn_line(tmp_path: Any) -> None:
    path = tmp_path / "events.jsonl"
    recorder = checker.Recorder(path, "p")
    recorder.enqueue_failed(["k"])
    recorder.close()
    with path.open("a") as file:
        file.write('{"e": "ack", "id"')  # a writer killed mid-line
    assert list(checker.read_events([path])) == [{"e": "enq?", "key": "k"}]


def run(message_id: int, process: str, read_ct: int, start: float, end: float | None) -> list[dict[str, Any]]:
    """A worker-runtime handler invocation: its lease, its start and (unless None) its end."""
    events = [
        {**lease(message_id, process, int(start * 1e6), int(start * 1e6) + 5_000_000, read_ct), "w": 10},
        {"e": "run", "id": message_id, "p": process, "rc": read_ct, "t": start},
    ]
    if end is not None:
        events.append(
            {"e": "done", "id": message_id, "p": process, "rc": read_ct, "how": "returned", "t": end}
        )
    return events


def archived_by(message_id: int, worker_id: int, read_ct: int) -> checker.FinalState:
    return checker.FinalState(
        remaining={},
        archived={message_id: [None]},
        archived_keys={message_id: None},
        archived_by={message_id: [(worker_id, read_ct)]},
    )


def test_overlapping_handler_runs_are_caught() -> None:
    one_after_the_other = [enq(1), *run(1, "a", 1, 0.0, 1.0), *run(1, "b", 2, 6.0, 7.0)]
    assert checker.Checker(one_after_the_other).verdict().overlapping_runs == 0
    at_once = [enq(1), *run(1, "a", 1, 0.0, 7.0), *run(1, "b", 2, 6.0, 6.5)]
    verdict = checker.Checker(at_once).verdict()
    assert (verdict.overlapping_runs, verdict.handler_runs, verdict.ok) == (1, 2, False)
    never_ended = [enq(1), *run(1, "a", 1, 0.0, None), *run(1, "b", 2, 6.0, 6.5)]
    assert checker.Checker(never_ended).verdict().overlapping_runs == 1


def test_a_run_cut_short_ends_when_its_process_died() -> None:
    events = [enq(1), *run(1, "a", 1, 0.0, None), *run(1, "b", 2, 6.0, 6.5)]
    died_first = [*events, {"e": "exit", "p": "a", "t": 2.0}]
    invocation = checker.Checker(died_first).invocations()[1][0]
    assert (invocation.end, invocation.how) == (2.0, "died")
    assert checker.Checker(died_first).verdict().overlapping_runs == 0
    died_too_late = [*events, {"e": "exit", "p": "a", "t": 6.1}]
    assert checker.Checker(died_too_late).verdict().overlapping_runs == 1


def test_runtime_acks_are_read_from_the_archive_and_checked_against_the_holder() -> None:
    events = [enq(1), *run(1, "a", 1, 0.0, 1.0)]
    by_holder = checker.Checker(events)
    assert by_holder.add_runtime_acks(archived_by(1, 10, 1)) == 1
    verdict = by_holder.verdict(archived_by(1, 10, 1))
    assert verdict.ok and verdict.acknowledged == 1 and verdict.settled_by_final_state == 0
    by_another = checker.Checker(events)
    by_another.add_runtime_acks(archived_by(1, 11, 1))
    assert by_another.verdict(archived_by(1, 11, 1)).acks_from_non_holders == 1
    stale_delivery = checker.Checker(events)
    stale_delivery.add_runtime_acks(archived_by(1, 10, 0))
    assert stale_delivery.verdict(archived_by(1, 10, 0)).acks_from_non_holders == 1


def test_a_message_given_back_untried_may_be_leased_again_with_the_same_read_ct() -> None:
    given_back = [enq(1), *run(1, "a", 1, 0.0, 0.5), *run(1, "b", 1, 1.0, 1.5)]
    assert checker.Checker(given_back).verdict().overlapping_leases == 1  # unless recorded
    recorded = [*given_back, {"e": "back", "id": 1, "c": "a", "rc": 1}]
    events = checker.Checker(recorded)
    events.add_runtime_acks(archived_by(1, 10, 1))
    verdict = events.verdict(archived_by(1, 10, 1))
    assert verdict.ok, str(verdict)
    assert verdict.overlapping_leases == 0
