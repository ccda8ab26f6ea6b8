"""Optional: renders the page in headless Chromium when it is installed; the suite never needs it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")
def test_page_renders(aha_report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
           f"--screenshot={shot}", "--window-size=1200,2000", aha_report.resolve().as_uri()]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    assert shot.stat().st_size > 10_000
