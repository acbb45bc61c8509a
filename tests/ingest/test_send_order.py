"""The order parse workers get files in (carevalue.ingest.parallel.next_to_send): the file the writer
needs next first, then the files whose order matters, then the largest of the rest."""

from __future__ import annotations

from pathlib import Path

from carevalue.ingest.parallel import next_to_send
from carevalue.ingest.sources import discover


def _folder(tmp_path: Path, sizes: dict[str, int]) -> list:  # type: ignore[type-arg]
    for name, size in sizes.items():
        (tmp_path / name).write_bytes(b'{"resourceType": "Basic"}\n' * size)
    files, _ = discover([tmp_path])
    return files


def _sends(files: list, window: int) -> list[str]:  # type: ignore[type-arg]
    """Names in the order they are sent: ``window`` at once, then one each time a file is written."""
    sent: set[int] = set()
    order: list[str] = []

    def send(written: int) -> None:
        i = next_to_send(files, sent | set(range(written)), written)
        if i is not None:
            assert i >= written and i not in sent
            sent.add(i)
            order.append(files[i].path.name)

    for _ in range(window):
        send(0)
    for written in range(1, len(files) + 1):
        assert written - 1 in sent  # the file just written had been sent
        send(written)
    assert sorted(order) == sorted(f.path.name for f in files)  # every file exactly once
    return order


def test_ordered_files_first_then_largest_and_the_next_write_always_sent(tmp_path: Path) -> None:
    files = _folder(tmp_path, {"Patient.000.ndjson": 5, "Encounter.000.ndjson": 30, "Condition.000.ndjson": 8,
                               "Observation.000.ndjson": 50, "Procedure.000.ndjson": 7, "Claim.000.ndjson": 20})
    assert [f.path.name for f in files] == ["Patient.000.ndjson", "Encounter.000.ndjson", "Claim.000.ndjson",
                                            "Condition.000.ndjson", "Observation.000.ndjson",
                                            "Procedure.000.ndjson"]  # the write order
    assert _sends(files, 3) == ["Patient.000.ndjson", "Encounter.000.ndjson", "Observation.000.ndjson",
                                   "Claim.000.ndjson", "Condition.000.ndjson", "Procedure.000.ndjson"]
    # Window of two: once Patient and Encounter are written the writer needs Claim next, and gets it
    # before the largest remaining file.
    assert next_to_send(files, {0, 1, 4}, 2) == 2
    assert next_to_send(files, {0, 1, 2, 4}, 2) == 3
    assert next_to_send(files, set(range(6)), 3) is None


def test_equal_sizes_keep_the_write_order(tmp_path: Path) -> None:
    files = _folder(tmp_path, {f"Condition.00{i}.ndjson": 4 for i in range(4)})
    assert _sends(files, 2) == [f"Condition.00{i}.ndjson" for i in range(4)]
