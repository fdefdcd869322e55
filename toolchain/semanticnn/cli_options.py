"""Options every command shares: ``--version``, ``-v/--verbose`` and ``-q/--quiet``.

Applied to the ``snn`` group and to each command, so ``snn -q export``, ``snn export -q``
and ``snn-export -q`` are the same. The level holds until the command returns
(``ctx.with_resource``); the entry point prints errors after that, so ``-q`` keeps them.
"""

import click

from semanticnn import verbosity
from semanticnn.provenance import version_text

__all__ = ["toolchain_options"]

_LEVEL_KEY = "semanticnn.verbosity"


def _print_version(ctx, _param, value):
    if value and not ctx.resilient_parsing:
        click.echo(version_text(ctx.find_root().info_name or "snn"))
        ctx.exit()


def _set_level(new_level):
    def callback(ctx, param, value):
        if not value or ctx.resilient_parsing:
            return
        chosen = ctx.meta.setdefault(_LEVEL_KEY, new_level)
        if chosen != new_level:
            raise click.UsageError("-v/--verbose and -q/--quiet exclude each other: pick one")
        ctx.with_resource(verbosity.verbosity(new_level))

    return callback


def toolchain_options(command):
    """Decorate a click command or group with ``--version``, ``-v/--verbose`` and ``-q/--quiet``."""
    options = [
        click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_set_level(verbosity.QUIET),
                     help="Print only errors."),
        click.option("-v", "--verbose", is_flag=True, expose_value=False, callback=_set_level(verbosity.VERBOSE),
                     help="Also show third-party logs (converter, TensorFlow, torch)."),
        click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
                     help="Print the toolchain version (and git commit in a checkout) and exit."),
    ]
    for option in options:
        command = option(command)
    return command
