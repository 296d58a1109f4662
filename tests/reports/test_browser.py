"""The report in a real browser: headless Chromium opens it from file:// at desktop and phone
widths, and a probe script injected into a copy of the page reports console errors, broken
images, network requests and horizontal overflow back through ``--dump-dom``."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from reports.plots import PLOT_KINDS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="the browser test needs headless Chromium (Debian package 'chromium'; .ci/run "
    "installs it)",
)

# Runs before the page's own content: records errors from the moment parsing starts.
PROBE = """<script>
window.__probe = {errors: []};
for (const level of ["error", "warn"]) {
  const original = console[level];
  console[level] = function (...args) {
    window.__probe.errors.push(level + ": " + args.join(" "));
    original.apply(console, args);
  };
}
window.addEventListener("error", function (event) {
  const target = event.target && event.target !== window ? event.target : null;
  window.__probe.errors.push(target ? "failed to load " + (target.src || target.href)
                                    : "uncaught " + event.message);
}, true);
window.addEventListener("load", function () {
  const root = document.documentElement;
  const images = Array.from(document.images);
  const result = {
    errors: window.__probe.errors,
    images: images.length,
    broken: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
    fetched: performance.getEntriesByType("resource").map(e => e.name)
      .filter(n => !n.startsWith("data:")),
    scrollWidth: root.scrollWidth,
    clientWidth: root.clientWidth,
    scrollHeight: root.scrollHeight,
  };
  const out = document.createElement("pre");
  out.id = "probe-result";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>"""


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def _probe(page: Path, width: int, tmp_path: Path) -> dict:
    """Open ``page`` (with the probe injected into a copy) at ``width`` px; return its findings."""
    html = page.read_text(encoding="utf-8")
    probed = tmp_path / f"probe-{width}.html"
    probed.write_text(html.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    done = _chromium(
        f"--window-size={width},900",
        "--virtual-time-budget=10000",
        "--dump-dom",
        probed.as_uri(),
        profile=tmp_path / f"profile-{width}",
    )
    match = re.search(r'<pre id="probe-result">(.*?)</pre>', done.stdout, re.S)
    assert match, f"no probe result from Chromium (exit {done.returncode}):\n{done.stderr[-2000:]}"
    return json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))


@pytest.fixture
def report_file(toy_page, tmp_path) -> Path:
    html, _ = toy_page
    path = tmp_path / "toy.html"
    path.write_text(html, encoding="utf-8")
    return path


def test_report_in_headless_chromium(report_file, tmp_path):
    desktop = _probe(report_file, 1280, tmp_path)
    assert desktop["errors"] == []
    assert desktop["fetched"] == []
    # The toy study declares every plot kind once.
    assert desktop["images"] == len(PLOT_KINDS) and desktop["broken"] == []
    assert desktop["scrollWidth"] <= desktop["clientWidth"], "horizontal scroll at 1280 px"

    phone = _probe(report_file, 390, tmp_path)
    assert phone["errors"] == [] and phone["broken"] == []
    assert phone["scrollWidth"] <= phone["clientWidth"], "horizontal scroll at phone width"

    screenshot = tmp_path / "report-1280.png"
    _chromium(
        f"--window-size=1280,{desktop['scrollHeight']}",
        f"--screenshot={screenshot}",
        report_file.as_uri(),
        profile=tmp_path / "profile-shot",
    )
    assert screenshot.stat().st_size > 10_000
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_probe_sees_what_it_must_reject(tmp_path):
    """A page with a console error, an image from the network (refused) and a too-wide block
    fails every check."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>"
        "<img src='http://127.0.0.1:9/gone.png' alt='gone'><div style='width:3000px'>wide</div>"
        "<script>console.error('boom')</script></body></html>",
        encoding="utf-8",
    )
    found = _probe(bad, 1280, tmp_path)
    assert "error: boom" in found["errors"]
    assert "failed to load http://127.0.0.1:9/gone.png" in found["errors"]
    assert found["broken"] == ["gone"]
    assert found["scrollWidth"] > found["clientWidth"]
