"""A real headless Chromium for the dashboard's browser tests (pytest plugin).

The session fixture `chromium` yields a Selenium WebDriver on Debian's `chromium` and
`chromium-driver` (/usr/bin/chromium, /usr/bin/chromedriver), installed with apt-get by the
tests as Slurm is (tests/slurm_cluster.py): as root when missing; without root and missing,
the tests skip with one line (under CI they fail). The browser gets a fresh profile and the
flags that keep it off the network (no background requests, updates, sync or QUIC).
`screenshot(driver, name)` saves test-artifacts/NAME.png in the repository.
"""
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from slurm_cluster import Unavailable, apt_install, skip_or_fail

PACKAGES = ["chromium", "chromium-driver"]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,900"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
WAIT = 30          # s a test waits for what the page should come to show


def ensure_chromium():
    """Chromium and its driver, installed when missing; Unavailable says why not."""
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        if os.geteuid() != 0:
            raise Unavailable(f"{CHROMIUM} or {CHROMEDRIVER} missing and installing "
                              f"{' '.join(PACKAGES)} needs root")
        apt_install(PACKAGES, [CHROMIUM, CHROMEDRIVER])
    try:
        import selenium  # noqa: F401
    except ImportError:
        raise Unavailable("the selenium package is missing: run `make` (the [test] extras)") \
            from None


def start_chromium():
    """(driver, profile directory): a headless Chromium under Selenium with a fresh profile.
    The caller quits the driver and removes the profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    profile = tempfile.mkdtemp(prefix="mt-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT)
    return driver, profile


@pytest.fixture(scope="session")
def chromium():
    try:
        ensure_chromium()
    except Unavailable as e:
        skip_or_fail(str(e))
    driver, profile = start_chromium()
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver, name):
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
