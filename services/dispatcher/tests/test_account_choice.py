from collections import Counter

from herald_dispatcher.account_choice import AccountChoice, Recipient, choose_accounts


def recipients(count: int) -> list[Recipient]:
    return [Recipient(f"m{i}", f"+91980000{i:04d}") for i in range(count)]


def counts(choice: AccountChoice) -> dict[str, int]:
    return {account: len(chosen) for account, chosen in choice.chosen.items()}


def test_a_recipient_keeps_the_account_it_had_while_that_account_has_room() -> None:
    people = recipients(3)
    sticky = {people[0].phone: "b", people[2].phone: "b"}
    choice = choose_accounts(people, sticky, {"a": 10, "b": 10})
    assert choice.chosen["b"][:2] == [people[0], people[2]]
    assert choice.left_over == []


def test_sticky_recipients_are_served_before_others_take_the_room() -> None:
    people = recipients(3)
    # The last recipient had "a" before; "a" has room for one: it is theirs.
    choice = choose_accounts(people, {people[2].phone: "a"}, {"a": 1})
    assert choice.chosen == {"a": [people[2]]}
    assert choice.left_over == people[:2]


def test_a_full_or_disabled_sticky_account_gives_way_to_another() -> None:
    people = recipients(2)
    sticky = {people[0].phone: "full", people[1].phone: "disabled"}
    choice = choose_accounts(people, sticky, {"full": 0, "other": 5})
    assert choice.chosen == {"other": people}


def test_the_others_go_to_the_account_with_the_most_room_left() -> None:
    room = {"a": 2, "b": 10, "c": 6}
    # b takes until it is level with c, then b and c alternate until both are level with a:
    # the room left is even (2 each), and a number in warm-up (little room) was spared.
    assert counts(choose_accounts(recipients(12), {}, room)) == {"b": 8, "c": 4}
    # Then all three take turns, the first listed first.
    assert counts(choose_accounts(recipients(14), {}, room)) == {"b": 9, "c": 4, "a": 1}


def test_accounts_with_equal_room_take_turns() -> None:
    choice = choose_accounts(recipients(6), {}, {"a": 100, "b": 100, "c": 100})
    order = [account for account, chosen in choice.chosen.items() for _ in chosen]
    assert Counter(order) == {"a": 2, "b": 2, "c": 2}
    assert [choice.chosen["a"][0].message_id, choice.chosen["b"][0].message_id] == ["m0", "m1"]


def test_recipients_no_account_has_room_for_are_left_over_in_order() -> None:
    people = recipients(5)
    choice = choose_accounts(people, {}, {"a": 2, "b": 1})
    assert sum(counts(choice).values()) == 3
    assert choice.left_over == people[3:]


def test_without_accounts_everyone_is_left_over() -> None:
    people = recipients(2)
    assert choose_accounts(people, {}, {}).left_over == people
