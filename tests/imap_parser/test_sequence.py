import pytest

from protocols.imap import SequenceSet, SequenceSetError


@pytest.mark.parametrize(
    ("text", "ranges"),
    [
        pytest.param("1", ((1, 1),), id="single"),
        pytest.param("*", ((None, None),), id="star"),
        pytest.param("1:*", ((1, None),), id="open-range"),
        pytest.param("*:4", ((None, 4),), id="star-first"),
        pytest.param("5:3", ((5, 3),), id="descending"),
        pytest.param("2,4:7,9,12:*", ((2, 2), (4, 7), (9, 9), (12, None)), id="rfc"),
        pytest.param("4294967295", ((4294967295, 4294967295),), id="largest"),
    ],
)
def test_parse(text: str, ranges: tuple) -> None:
    parsed = SequenceSet.parse(text)
    assert parsed.ranges == ranges
    assert str(parsed) == text


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("0", id="zero"),
        pytest.param("1:0", id="zero-in-range"),
        pytest.param("1,", id="trailing-comma"),
        pytest.param(",1", id="leading-comma"),
        pytest.param("1,,2", id="double-comma"),
        pytest.param("1:2:3", id="double-colon"),
        pytest.param("01", id="leading-zero"),
        pytest.param("4294967296", id="too-large"),
        pytest.param("1:", id="missing-end"),
        pytest.param("$", id="saved-result"),
        pytest.param("**", id="double-star"),
    ],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(SequenceSetError):
        SequenceSet.parse(text)


def test_resolve_against_uids() -> None:
    uids = [3, 7, 8, 20, 21, 40]
    assert SequenceSet.parse("1:8,21").resolve(uids) == [3, 7, 8, 21]


def test_resolve_star_is_the_last_value() -> None:
    assert SequenceSet.parse("*").resolve([3, 7, 9]) == [9]


def test_resolve_range_beyond_last_uid_still_includes_it() -> None:
    # RFC 3501 §6.4.8: "UID 100:*" returns the highest UID even below 100.
    assert SequenceSet.parse("100:*").resolve([3, 7, 9]) == [9]


def test_resolve_merges_overlaps_without_duplicates() -> None:
    assert SequenceSet.parse("5:2,3:6,1").resolve(range(1, 11)) == [1, 2, 3, 4, 5, 6]


def test_resolve_empty_mailbox() -> None:
    assert SequenceSet.parse("1:*").resolve([]) == []


def test_huge_range_is_resolved_by_index_not_expanded() -> None:
    # Four billion sequence numbers: only index arithmetic can answer quickly.
    numbers = range(1, 4_000_000_001)
    ranges = SequenceSet.parse("1:*").index_ranges(numbers)
    assert ranges == [range(0, 4_000_000_000)]


def test_index_ranges_give_slices_of_the_sorted_list() -> None:
    uids = [10, 20, 30, 40, 50]
    found = SequenceSet.parse("15:35,50").index_ranges(uids)
    assert [uids[r.start : r.stop] for r in found] == [[20, 30], [50]]


def test_explicit_star_value() -> None:
    assert SequenceSet.parse("3:*").resolve(range(1, 11), star=4) == [3, 4]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, True), (4, False), (6, True), (10, True), (11, False)],
)
def test_contains(value: int, expected: bool) -> None:
    assert SequenceSet.parse("1,5:7,*").contains(value, star=10) is expected


def test_from_values_compresses_runs() -> None:
    assert str(SequenceSet.from_values([7, 1, 2, 3, 5, 6, 9])) == "1:3,5:7,9"


def test_from_values_rejects_empty() -> None:
    with pytest.raises(SequenceSetError):
        SequenceSet.from_values([])
