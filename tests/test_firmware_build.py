"""Rendering and cross-building the firmware project for every target with the stub model."""

import re
import shutil
import subprocess

import jinja2
import pytest

from firmware_helpers import TARGET_NAMES, build, render_project, stub_manifest
from semanticnn.errors import ConfigError
from semanticnn.firmware.elfsize import flash_bytes, ram_static_bytes, section_sizes
from semanticnn.firmware.project import config_context, make_context
from semanticnn.firmware.render import render_template
from semanticnn.firmware.targets import TARGETS, get_target

needs_arm_gcc = pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed"
)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = {}
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc not installed")
    for target in TARGET_NAMES:
        project = render_project(tmp_path_factory.mktemp("fw") / target, target)
        result = build(project)
        out[target] = (project, result)
    return out


@pytest.mark.parametrize("target", TARGET_NAMES)
def test_cross_build_with_werror(built, target):
    project, result = built[target]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "-Werror" in result.stdout and get_target(target).cpu_flags in result.stdout
    assert re.search(r"text\s+data\s+bss", result.stdout)
    assert (project / "build" / "firmware.bin").stat().st_size > 0


@pytest.mark.parametrize("target, vectors_at", [
    ("qemu-m7", 0x0), ("stm32f4", 0x08000000), ("stm32f7", 0x08000000), ("stm32h7", 0x08000000),
])
def test_vector_table_at_start_of_flash(built, target, vectors_at):
    project, _ = built[target]
    out = subprocess.run(
        ["arm-none-eabi-nm", str(project / "build" / "firmware.elf")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    symbols = {
        line.split()[2]: int(line.split()[0], 16) for line in out.splitlines() if len(line.split()) == 3
    }
    assert symbols["vector_table"] == vectors_at
    assert symbols["__stack_top__"] - symbols["__stack_bottom__"] == 8192


@pytest.mark.parametrize("target", TARGET_NAMES)
def test_elfsize_matches_arm_size(built, target):
    project, _ = built[target]
    elf = project / "build" / "firmware.elf"
    out = subprocess.run(["arm-none-eabi-size", str(elf)], capture_output=True, text=True, check=True).stdout
    text, data, bss = (int(x) for x in out.splitlines()[1].split()[:3])
    assert flash_bytes(elf) == text + data
    assert ram_static_bytes(elf) == data + bss
    assert section_sizes(elf)[".stack"] == (8192, False, True)


def test_elfsize_missing_file(tmp_path):
    with pytest.raises(ConfigError) as e:
        flash_bytes(tmp_path / "nope.elf")
    assert str(e.value) == f"no ELF file at {tmp_path / 'nope.elf'}: build the firmware first"


def test_config_header_pins(tmp_path):
    text = render_template("snn_config.h.j2", config_context(get_target("qemu-m7"), stub_manifest()))
    assert "#define SNN_GEN_VERSION 1\n" in text
    assert '#define SNN_TARGET_NAME        "qemu-m7"' in text
    assert re.search(r"#define SNN_MODEL_CRC\s+0x[0-9A-F]{8}u\n", text)
    assert text.count("_Static_assert(") == 10
    assert "{{" not in text and "{%" not in text and "{#" not in text


def test_templates_refuse_missing_context():
    ctx = config_context(get_target("qemu-m7"), stub_manifest())
    del ctx["bounds_q12"]
    with pytest.raises(jinja2.UndefinedError):
        render_template("snn_config.h.j2", ctx)
    ctx = make_context(get_target("qemu-m7"))
    del ctx["stack_bytes"]
    with pytest.raises(jinja2.UndefinedError):
        render_template("Makefile.j2", ctx)


def test_makefile_recipes_use_tabs():
    text = render_template("Makefile.j2", make_context(get_target("stm32f7")))
    for line in text.splitlines():
        assert not re.match(r" +(\$\(CC\)|\$\(OBJCOPY\)|\$\(SIZE\)|st-flash|openocd|pyocd|rm )", line), line


def build_error(project, *args):
    """stderr of a make run in ``project`` that must fail."""
    result = build(project, *args)
    assert result.returncode != 0, result.stdout
    return result.stderr


@needs_arm_gcc
def test_stale_config_fails_to_compile(tmp_path):
    project = render_project(tmp_path / "p", "qemu-m7")
    cfg = project / "model" / "snn_config.h"
    cfg.write_text(cfg.read_text().replace("#define SNN_GEN_VERSION 1", "#define SNN_GEN_VERSION 2"))
    assert "Regenerate this file" in build_error(project)


@needs_arm_gcc
def test_inconsistent_config_fails_static_assert(tmp_path):
    manifest = stub_manifest()
    manifest["payload_bytes"] += 1
    project = render_project(tmp_path / "p", "qemu-m7", manifest)
    assert "payload_bytes: ceil(bits / 8) of the payload layout" in build_error(project)


def test_missing_compiler_is_one_line(tmp_path):
    project = render_project(tmp_path / "p", "stm32f7")
    lines = build_error(project, "CROSS=/nonexistent/arm-none-eabi-").strip().splitlines()
    assert len(lines) == 1
    assert "install the gcc-arm-none-eabi package" in lines[0]


@needs_arm_gcc
@pytest.mark.skipif(
    any(shutil.which(t) for t in ("st-flash", "openocd", "pyocd")), reason="a flasher is installed"
)
@pytest.mark.parametrize("target", ["stm32f4", "stm32f7", "stm32h7"])
def test_flash_without_flasher_is_one_line(tmp_path, target):
    lines = build_error(render_project(tmp_path / "p", target), "flash").strip().splitlines()
    assert len(lines) == 1
    assert "no flasher found: install st-flash (stlink-tools), openocd or pyocd" in lines[0]


@pytest.mark.parametrize("target", ["stm32f4", "stm32f7", "stm32h7"])
def test_every_board_has_its_flash_recipes(target):
    t = get_target(target)
    text = render_template("Makefile.j2", make_context(t))
    assert f"st-flash --reset write $(BUILD)/firmware.bin {t.flash_address}" in text
    assert f"openocd -f {t.openocd_config} -c" in text and f"pyocd flash -t {t.pyocd_target} " in text


@needs_arm_gcc
def test_flash_on_qemu_target_is_refused(tmp_path):
    project = render_project(tmp_path / "p", "qemu-m7")
    assert "target qemu-m7 has no flasher: use make run-qemu" in build_error(project, "flash")


def _section_address(elf, name):
    from elftools.elf.elffile import ELFFile

    with open(elf, "rb") as f:
        section = ELFFile(f).get_section_by_name(name)
        return section["sh_addr"], section["sh_size"]


@pytest.mark.parametrize("target", ["stm32f7", "stm32h7"])
def test_activations_and_stack_in_dtcm(built, target):
    project, _ = built[target]
    dtcm = get_target(target).regions["DTCM"]
    assert get_target(target).fast_region == "DTCM"
    for name in (".activations", ".stack"):
        addr, size = _section_address(project / "build" / "firmware.elf", name)
        assert size > 0 and dtcm.origin <= addr and addr + size <= dtcm.origin + dtcm.length, name
    addr, _ = _section_address(project / "build" / "firmware.elf", ".bss")
    assert addr >= get_target(target).regions[get_target(target).ram_region].origin


@pytest.mark.parametrize("target", TARGET_NAMES)
def test_link_script_regions_are_the_registrys(built, target):
    project, _ = built[target]
    text = (project / "board" / "link.ld").read_text()
    regions = {name: (int(o, 16), int(n, 16)) for name, o, n in
               re.findall(r"^\s+(\w+) \(rw?x\) : ORIGIN = (0x[0-9A-F]+), LENGTH = (0x[0-9A-F]+)$", text, re.M)}
    assert regions == {name: (r.origin, r.length) for name, r in get_target(target).regions.items()}
    assert f'REGION_ALIAS("REGION_FAST", {get_target(target).fast_region});' in text


def test_fit_check_names_the_region_that_overflows():
    from semanticnn.errors import ExportError
    from semanticnn.export.checks import check_fits

    target = get_target("stm32f7")
    fits = check_fits(target, flash_bytes=100_000, fast_bytes=60_000, data_bytes=200_000)
    assert fits["regions"]["DTCM"] == {"estimate_bytes": 60_000, "limit_bytes": 65536}
    with pytest.raises(ExportError) as e:
        check_fits(target, flash_bytes=100_000, fast_bytes=70_000, data_bytes=1000)
    assert str(e.value) == ("model does not fit stm32f7: needs 70000 B of DTCM, which has 65536 B: "
                            "use fewer channels or a larger target")


def test_board_code_is_shared_not_copied():
    """Startup and sections exist once, in boards/common/; each board folder holds its board.c only."""
    from semanticnn.firmware.render import TEMPLATES_DIR

    boards = TEMPLATES_DIR / "boards"
    for name in {t.board for t in TARGETS.values()}:
        assert sorted(p.name for p in (boards / name).iterdir()) == ["board.c"], name
    assert {"startup.c", "sections.ld"} <= {p.name for p in (boards / "common").iterdir()}
