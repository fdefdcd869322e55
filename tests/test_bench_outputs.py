"""snn-bench's bad arguments: one line, and report paths checked before the bench runs."""

import pytest

from semanticnn.cli import bench_main
from test_export_outputs import cli_error, read_only


def bench_error(capsys, *args):
    """``cli_error`` of snn-bench."""
    return cli_error(bench_main, capsys, *args)


@pytest.mark.parametrize("baud", [0, -5])
def test_bench_refuses_a_baud_rate_that_is_not_positive(tmp_path, capsys, baud):
    line = bench_error(capsys, "--port", "/dev/ttyNOPE0", "--project", tmp_path, "--baud", baud)
    assert line == f"error: --baud {baud} is not a baud rate: give a positive rate such as 115200"


@pytest.mark.parametrize("option", ["--json", "--markdown"])
def test_bench_checks_a_read_only_report_folder_before_it_runs(tmp_path, capsys, option):
    locked = tmp_path / "locked"
    locked.mkdir()
    with read_only(locked):
        # the project does not exist: the report path is checked before anything else is read or run
        line = bench_error(capsys, "--qemu", tmp_path / "nope", option, locked / "report")
    assert line.startswith(f"error: cannot write {locked / 'report'}: {locked} is not writable (")
    assert line.endswith("); pick a writable directory")


def test_bench_checks_a_report_under_a_file_before_it_runs(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine\n")
    line = bench_error(capsys, "--qemu", tmp_path / "nope", "--json", tmp_path / "notes.txt" / "bench.json")
    assert line == (f"error: cannot write {tmp_path / 'notes.txt' / 'bench.json'}: {tmp_path / 'notes.txt'} "
                    "is a file, not a directory; pick another path")
