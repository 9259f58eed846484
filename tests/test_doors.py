"""Door names: exact (any case), unique prefix, device id; ambiguous and unknown names."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from bot import doors
from bot.doors import DoorAmbiguous, DoorFound, DoorUnknown, closest_lock_name, match_door, match_door_and_reason
from bot.model import Lock

LOCKS = [
    Lock(device_id="lock_1", display_name="Front Door"),
    Lock(device_id="lock_2", display_name="Back Door"),
    Lock(device_id="lock_3", display_name="Garage Door"),
    Lock(device_id="lock_4", display_name="Garden Gate"),
    Lock(device_id="lock_5", display_name="Lab"),
    Lock(device_id="lock_6", display_name="Lab Annex"),
]


def found(result: object) -> str:
    assert isinstance(result, DoorFound), result
    return result.lock.name


def test_exact_name_in_any_case_and_spacing() -> None:
    assert found(match_door("front door", LOCKS)) == "Front Door"
    assert found(match_door("  FRONT   DOOR ", LOCKS)) == "Front Door"


def test_unique_prefix() -> None:
    assert found(match_door("ba", LOCKS)) == "Back Door"
    assert found(match_door("garde", LOCKS)) == "Garden Gate"


def test_device_id() -> None:
    assert found(match_door("lock_3", LOCKS)) == "Garage Door"


def test_a_quoted_name_is_the_name_as_in_lock_back_door() -> None:
    assert found(match_door('"Back Door"', LOCKS)) == "Back Door"
    assert found(match_door("“garage door”", LOCKS)) == "Garage Door"
    assert isinstance(match_door('"', LOCKS), DoorUnknown)


def test_exact_name_beats_being_a_prefix_of_another() -> None:
    assert found(match_door("lab", LOCKS)) == "Lab"


def test_ambiguous_prefix_lists_only_the_matches() -> None:
    result = match_door("gar", LOCKS)
    assert isinstance(result, DoorAmbiguous)
    assert {lock.name for lock in result.matches} == {"Garage Door", "Garden Gate"}


def test_two_locks_with_the_same_name_are_ambiguous_never_a_guess() -> None:
    twins = [Lock(device_id="a", display_name="Door"), Lock(device_id="b", display_name="door")]
    assert isinstance(match_door("door", twins), DoorAmbiguous)


def test_unknown_and_empty_names_list_every_door() -> None:
    for query in ("cellar", "", "door"):
        result = match_door(query, LOCKS)
        assert isinstance(result, DoorUnknown)
        assert len(result.doors) == len(LOCKS)


def test_reason_after_the_longest_door_name() -> None:
    result = match_door_and_reason("front door courier at reception", LOCKS)
    assert isinstance(result, DoorFound)
    assert (result.lock.name, result.remainder) == ("Front Door", "courier at reception")


def test_reason_after_a_prefix() -> None:
    result = match_door_and_reason("back parcel", LOCKS)
    assert isinstance(result, DoorFound)
    assert (result.lock.name, result.remainder) == ("Back Door", "parcel")


def test_quoted_door_name() -> None:
    result = match_door_and_reason('"Lab" annex delivery', LOCKS)
    assert isinstance(result, DoorFound)
    assert (result.lock.name, result.remainder) == ("Lab", "annex delivery")
    slack_quotes = match_door_and_reason("“garage door” car", LOCKS)
    assert isinstance(slack_quotes, DoorFound)
    assert (slack_quotes.lock.name, slack_quotes.remainder) == ("Garage Door", "car")


def test_ambiguous_start_with_reason() -> None:
    assert isinstance(match_door_and_reason("gar please", LOCKS), DoorAmbiguous)


def test_unknown_with_reason() -> None:
    assert isinstance(match_door_and_reason("cellar wine", LOCKS), DoorUnknown)


def test_a_name_typed_in_another_unicode_form_is_found() -> None:
    locks = [*LOCKS, Lock(device_id="lock_7", display_name="Café Tür"), Lock(device_id="lock_8", display_name="Straße")]
    assert found(match_door("Cafe\u0301 Tu\u0308r", locks)) == "Café Tür"  # decomposed (NFD), as some keyboards send
    assert found(match_door("CAFÉ TÜR", locks)) == "Café Tür"
    assert found(match_door("cafe\u0301 t", locks)) == "Café Tür"  # a unique prefix, decomposed
    assert (
        found(match_door("\uff33\uff34\uff32\uff21\uff33\uff33\uff25", locks)) == "Straße"
    )  # full-width, and ß casefolded to ss
    assert found(match_door_and_reason("Cafe\u0301 Tu\u0308r courier at reception", locks)) == "Café Tür"


def test_a_lock_named_in_decomposed_form_is_found_by_its_composed_name() -> None:
    locks = [Lock(device_id="lock_9", display_name="Cafe\u0301 Tu\u0308r")]
    assert found(match_door("Café Tür", locks)) == "Cafe\u0301 Tu\u0308r"


def test_a_long_reason_costs_no_more_door_lookups_than_the_longest_name_allows(monkeypatch: pytest.MonkeyPatch) -> None:
    # A 2,000-word /unlock once tried every leading run of words: seconds of CPU for one command.
    locks = [Lock(device_id=f"d{index}", display_name=f"Door number {index}") for index in range(150)]
    tried: list[str] = []
    real = doors.match_door

    def counting(query: str, candidates: Sequence[Lock]) -> doors.DoorMatch:
        tried.append(query)
        return real(query, candidates)

    monkeypatch.setattr(doors, "match_door", counting)

    found = doors.match_door_and_reason("door number 7 " + "x " * 2000, locks)

    assert isinstance(found, doors.DoorFound)
    assert found.lock.device_id == "d7"
    assert len(tried) <= 3 + 4


def test_the_closest_lock_name_to_a_typo_is_suggested_and_nothing_far_off_is() -> None:
    assert closest_lock_name("front dor", LOCKS) == "Front Door"
    assert closest_lock_name("GARAGE  DOOR", LOCKS) == "Garage Door"
    assert closest_lock_name("vault", LOCKS) is None
