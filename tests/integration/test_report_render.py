"""The journey report as a browser draws it: the unit tests' sample data rendered to a file and
screenshotted with headless Chromium; the PNG must exist, have some weight and not be one
uniform colour (a blank page or an error page would be).

Skipped when Chromium is missing on a developer machine; in CI (env CI set) a missing Chromium
is a failure, so the check cannot silently disappear there.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from jobs.report import write
from tests.unit.test_report import sample_data

pytestmark = pytest.mark.integration

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")


def _chromium() -> str | None:
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _require_chromium() -> str:
    binary = _chromium()
    if binary:
        return binary
    if os.environ.get("CI"):
        pytest.fail(
            "Chromium is required in CI for the report screenshot test: "
            "add `apt-get install -y chromium` to the CI setup"
        )
    pytest.skip("chromium not installed (apt-get install -y chromium)")


def _byte_diversity(png: Path) -> int:
    """Distinct byte values in the decompressed pixel data (PIL may be absent). A uniform image
    filters down to a handful of values; a page of charts and text uses nearly all 256."""
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        if data[pos + 4 : pos + 8] == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return len(set(zlib.decompress(idat)))


def test_report_screenshot(tmp_path: Path) -> None:
    chromium = _require_chromium()
    page = write(sample_data(), tmp_path / "report.html")
    shot = tmp_path / "report.png"
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}",
        "--window-size=1400,3000",
        page.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert shot.exists(), f"no screenshot (exit {done.returncode}): {done.stderr[-2000:]}"
    assert shot.stat().st_size > 50_000, f"screenshot is only {shot.stat().st_size} bytes"
    try:
        from PIL import Image
    except ImportError:
        diversity = _byte_diversity(shot)
        assert diversity > 64, f"the screenshot looks uniform ({diversity} distinct byte values)"
    else:
        with Image.open(shot) as image:
            colours = len(image.convert("RGB").getcolors(maxcolors=1 << 24) or [])
        # a dozen chart hues plus anti-aliasing: a blank or error page has only a few colours
        assert colours > 50, f"the screenshot looks uniform ({colours} distinct colours)"
    if os.environ.get("PARCOURS_REPORT_SCREENSHOT"):  # keep a copy to look at
        shutil.copyfile(shot, os.environ["PARCOURS_REPORT_SCREENSHOT"])
