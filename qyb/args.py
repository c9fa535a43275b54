"""What every command module shares: the shape of a command's registration, and times typed by people."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

from qingyubiao import timeutil

Handler = Callable[[argparse.Namespace], int]
# cli's helper: command(name, handler, help) -> a subparser with --config and --verbose
Command = Callable[[str, Handler, str], argparse.ArgumentParser]


def parse_when(text: str, tz: ZoneInfo) -> int:
    """A time given on the command line (see `qingyubiao.timeutil.parse_when`) → epoch ms."""
    return timeutil.parse_when(text, tz, int(time.time() * 1000))
