"""Where snn-export writes: never over a user's files, checked before the long work, atomic, normal modes."""

import contextlib
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
import torch

from semanticnn.bench.framing import MAX_BODY_BYTES, MAX_PAYLOAD_BYTES
from semanticnn.cli import export_main
from semanticnn.errors import ConfigError
from semanticnn.export.preflight import MAX_MTU, check_mtu, check_packets
from semanticnn.firmware.render import TEMPLATES_DIR, write_tree

ROOT = Path(__file__).resolve().parents[1]
ENCODER = ROOT / "models" / "encoder.pt"


def cli_error(main, capsys, *args):
    """Run the entry point ``main`` in this process; the one stderr line it printed (it must exit 2)."""
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def export_error(capsys, *args):
    """``cli_error`` of snn-export."""
    return cli_error(export_main, capsys, *args)


@contextlib.contextmanager
def read_only(directory):
    """``directory`` made unwritable: mode 0555, and immutable for root, who ignores modes."""
    directory.chmod(0o555)
    immutable = os.geteuid() == 0
    if immutable:
        subprocess.run(["chattr", "+i", str(directory)], check=True)
    try:
        yield directory
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(directory)], check=True)
        directory.chmod(0o755)


def test_export_refuses_a_directory_of_user_files(tmp_path, capsys):
    out = tmp_path / "x"
    out.mkdir()
    (out / "notes.txt").write_text("precious\n")
    line = export_error(capsys, ENCODER, "--target", "qemu-m7", "-o", out)
    assert line == (f"error: {out} holds no export.json, so it is not an earlier export: refusing to replace "
                    "its files; pick a new or empty directory, or pass --force")
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert (out / "notes.txt").read_text() == "precious\n"


def test_export_refuses_the_current_directory(tmp_path, capsys, monkeypatch):
    (tmp_path / "notes.txt").write_text("precious\n")
    (tmp_path / "export.json").write_text("{}\n")  # even an earlier export: the shell stands in it
    monkeypatch.chdir(tmp_path)
    line = export_error(capsys, ENCODER, "--target", "qemu-m7", "-o", ".", "--force")
    assert line == "error: cannot replace .: it holds the current directory; pick a directory inside it"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.json", "notes.txt"]


def test_export_refuses_a_file_and_leaves_nothing_beside_it(tmp_path, capsys):
    target = tmp_path / "notes.txt"
    target.write_text("precious\n")
    line = export_error(capsys, ENCODER, "--target", "qemu-m7", "-o", target)
    assert line == f"error: {target} is a file, not a directory: give -o a directory path"
    assert target.read_text() == "precious\n"
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_export_under_a_file_fails_before_the_work(tmp_path, capsys):
    parent = tmp_path / "notes.txt"
    parent.write_text("precious\n")
    line = export_error(capsys, ENCODER, "--target", "qemu-m7", "-o", parent / "project")
    assert line == f"error: cannot write {parent / 'project'}: {parent} is a file, not a directory; pick another path"


def test_export_under_a_read_only_parent_fails_before_the_work(tmp_path, capsys):
    parent = tmp_path / "locked"
    parent.mkdir()
    with read_only(parent):
        line = export_error(capsys, ENCODER, "--target", "qemu-m7", "-o", parent / "project")
    assert re.fullmatch(rf"error: cannot write {re.escape(str(parent / 'project'))}: {re.escape(str(parent))} "
                        r"is not writable \((Permission denied|Operation not permitted)\); pick a writable directory",
                        line), line


def test_export_refuses_an_mtu_whose_packet_does_not_fit_a_frame(tmp_path, capsys):
    line = export_error(capsys, ENCODER, "--target", "qemu-m7", "-o", tmp_path / "p", "--mtu", MAX_MTU + 1)
    assert line == ("error: --mtu 1273 out of range: packets need 7 to 1272 bytes "
                    "(a 6-byte header, and one packet per serial frame)")
    assert not (tmp_path / "p").exists()


def test_export_refuses_an_mtu_that_needs_more_than_64_packets(tmp_path, capsys):
    # the shipped model sends 192 bytes: 96 packets of 2 payload bytes, 64 of 3 fit
    line = export_error(capsys, ENCODER, "--target", "qemu-m7", "-o", tmp_path / "p", "--mtu", 8)
    assert line == ("error: --mtu 8 cuts the 192-byte bitstream into 96 packets, the header counts at most 64: "
                    "pass 9 or more")
    assert not (tmp_path / "p").exists()


def test_smallest_mtu_is_the_one_that_fits_64_packets():
    check_packets(192, 9)
    check_packets(64 * 1266, MAX_MTU)
    with pytest.raises(ConfigError) as err:
        check_packets(64 * 1266 + 1, MAX_MTU)
    assert str(err.value) == ("the model's 81025-byte bitstream needs packets of 1273 bytes or more, above the "
                              "1272-byte limit of one serial frame: shrink the model's output")


def test_mtu_bound_is_the_frame_limit_less_the_status_byte():
    assert MAX_MTU == MAX_PAYLOAD_BYTES - 1 == 1272
    check_mtu(MAX_MTU)
    check_mtu(7)
    for bad in (6, MAX_MTU + 1, 65535):
        with pytest.raises(ConfigError):
            check_mtu(bad)
    # the firmware's frame limit is the same number (static asserts there check mtu against it)
    header = (TEMPLATES_DIR / "src" / "protocol.h").read_text()
    assert re.search(r"#define SNN_MAX_BODY\s+(\d+)u", header).group(1) == str(MAX_BODY_BYTES)


def test_export_refuses_an_unknown_mapping(tmp_path, capsys):
    ckpt = torch.load(ENCODER, weights_only=True)
    ckpt["config"]["mapping"] = "zigzag"
    bad = tmp_path / "zigzag.pt"
    torch.save(ckpt, bad)
    line = export_error(capsys, bad, "--target", "qemu-m7", "-o", tmp_path / "p")
    assert line == (f"error: {bad} has mapping 'zigzag', which the firmware does not implement: "
                    "retrain with mapping 'natural', 'gray'")
    assert not (tmp_path / "p").exists()


def test_earlier_export_is_replaced_whole(tmp_path):
    out = tmp_path / "project"
    write_tree({"export.json": "{}\n", "old.c": "old\n", "src/a.c": "a\n"}, out, "export.json")
    write_tree({"export.json": "{\"v\": 2}\n", "src/b.c": "b\n"}, out, "export.json")
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == ["export.json", "src", "src/b.c"]
    assert [p.name for p in tmp_path.iterdir()] == ["project"]  # no temporary or .old tree beside it


def test_force_replaces_a_directory_that_is_not_an_export(tmp_path):
    out = tmp_path / "x"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    with pytest.raises(ConfigError):
        write_tree({"export.json": "{}\n"}, out, "export.json")
    write_tree({"export.json": "{}\n"}, out, "export.json", force=True)
    assert [p.name for p in out.iterdir()] == ["export.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["x"]


def test_a_failed_write_leaves_the_earlier_export_and_nothing_beside_it(tmp_path):
    out = tmp_path / "project"
    write_tree({"export.json": "{}\n", "a.c": "a\n"}, out, "export.json")
    with pytest.raises(TypeError):
        write_tree({"export.json": "{}\n", "b.c": 42}, out, "export.json")
    assert sorted(p.name for p in out.iterdir()) == ["a.c", "export.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["project"]


@pytest.mark.parametrize("umask, dir_mode, file_mode", [(0o022, 0o755, 0o644), (0o077, 0o700, 0o600)])
def test_project_modes_follow_the_umask(tmp_path, umask, dir_mode, file_mode):
    old = os.umask(umask)
    try:
        write_tree({"export.json": "{}\n", "src/main.c": "int x;\n"}, tmp_path / "p", "export.json")
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [tmp_path / "p", *(tmp_path / "p").rglob("*")]}
    assert modes == {"p": dir_mode, "src": dir_mode, "export.json": file_mode, "main.c": file_mode}
