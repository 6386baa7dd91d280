"""The dashboard end to end in a real headless Chromium: log in, load the grid, filter it,
open a test and its log, rerun a test from its page and see the rerun complete, watch a
cell change without a reload, log out. Screenshots go to test-artifacts/.

One area run by the real mt-run and served by the real mt-serve; `flip` fails its first
attempt and passes the next, so its rerun turns the cell from FAIL to a flaky PASS."""
import pytest

from browser import WAIT, chromium, screenshot  # noqa: F401 (chromium is a fixture)
from megatest.store import db
from test_dashboard import make_dash

TESTS = {
    "good": "[items]\nN 1 2 3\n\n[ezsteps]\nmeasure echo measuring $N\n",
    "bad": '[ezsteps]\nbreak echo "error: it broke at line 7"; exit 1\n',
    "flip": "[ezsteps]\nflip if [ -e $MT_RUN_AREA_HOME/flipped ]; then echo second; else "
            "touch $MT_RUN_AREA_HOME/flipped; echo 'error: first attempt'; exit 1; fi\n",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory, chromium):  # noqa: F811 (the fixture)
    made = make_dash(tmp_path_factory.mktemp("browser"), tests=TESTS)
    made.base = made.client().origin
    yield made
    made.stop()


def by(kind, value):
    from selenium.webdriver.common.by import By
    return getattr(By, kind), value


def wait(driver, check, what):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait
    try:
        return WebDriverWait(driver, WAIT, poll_frequency=0.2).until(lambda d: check(d))
    except TimeoutException:
        screenshot(driver, "timeout")
        raise AssertionError(f"timed out waiting for {what}") from None


def login(driver, site):
    driver.get(site.base + "/")
    assert driver.current_url.startswith(site.base + "/login")
    driver.find_element(*by("NAME", "token")).send_keys(site.token)
    driver.find_element(*by("CSS_SELECTOR", "form.login button")).click()
    wait(driver, lambda d: d.find_elements(*by("ID", "grid")), "the grid after the login")


def cell_texts(driver):
    """{row name: [cell texts]} of the grid."""
    out = {}
    for row in driver.find_elements(*by("CSS_SELECTOR", "#grid tbody tr")):
        name = row.get_attribute("data-test") + \
            ("/" + row.get_attribute("data-item") if row.get_attribute("data-item") else "")
        out[name] = [td.text for td in row.find_elements(*by("TAG_NAME", "td"))]
    return out


def test_log_in_and_load_the_grid(chromium, site):  # noqa: F811
    login(chromium, site)
    assert cell_texts(chromium) == {"bad": ["FAIL"], "flip": ["FAIL"], "good": ["PASS"]}
    colour = chromium.find_element(*by("CSS_SELECTOR", "#grid td[data-id]")).value_of_css_property(
        "background-color")
    assert colour in ("rgba(253, 33, 49, 1)", "rgba(70, 249, 73, 1)")   # Megatest's FAIL, PASS
    screenshot(chromium, "grid")


def test_filter_the_grid_and_unfold_items(chromium, site):  # noqa: F811
    chromium.get(site.base + "/")
    box = chromium.find_element(*by("NAME", "testpatt"))
    box.clear()
    box.send_keys("good")
    chromium.find_element(*by("CSS_SELECTOR", "form.filters button")).click()
    wait(chromium, lambda d: "testpatt=good" in d.current_url, "the filtered grid")
    assert cell_texts(chromium) == {"good": ["PASS"]}
    chromium.find_element(*by("CSS_SELECTOR", "a.fold")).click()
    wait(chromium, lambda d: "good/3" in cell_texts(d), "the items")
    assert list(cell_texts(chromium)) == ["good", "good/1", "good/2", "good/3"]
    screenshot(chromium, "grid-filtered")


def test_open_a_test_and_its_log(chromium, site):  # noqa: F811
    chromium.get(site.base + "/")
    chromium.find_element(*by("CSS_SELECTOR", 'tr[data-test="bad"] td[data-id] a')).click()
    wait(chromium, lambda d: d.find_elements(*by("CSS_SELECTOR", "table.steps")), "the test page")
    assert "error: it broke at line 7" in chromium.find_element(*by("CSS_SELECTOR", "pre.log")).text
    screenshot(chromium, "test")
    chromium.find_element(*by("LINK_TEXT", "break.log")).click()
    wait(chromium, lambda d: "/file/" in d.current_url, "the log")
    assert "error: it broke at line 7" in chromium.find_element(*by("TAG_NAME", "body")).text
    screenshot(chromium, "log")


def test_rerun_a_test_and_see_it_complete(chromium, site):  # noqa: F811
    with site.conn() as conn:
        flip = conn.execute("SELECT id FROM tests WHERE testname='flip'").fetchone()[0]
    chromium.get(f"{site.base}/test/{flip}")
    chromium.find_element(*by("CSS_SELECTOR", "form.action button")).click()
    wait(chromium, lambda d: "task-done" in (d.find_element(*by("CSS_SELECTOR", "#actions li"))
                                             .get_attribute("class") or ""), "the rerun to be done")
    wait(chromium, lambda d: "passed after a failing attempt" in d.find_element(
        *by("TAG_NAME", "main")).text, "the record's page to show the flaky pass")
    screenshot(chromium, "rerun-done")
    chromium.get(site.base + "/")
    assert cell_texts(chromium)["flip"] == ["PASS"]
    assert "flaky" in chromium.find_element(
        *by("CSS_SELECTOR", 'tr[data-test="flip"] td[data-id]')).get_attribute("class")


def test_a_changed_record_repaints_its_cell_without_a_reload(chromium, site):  # noqa: F811
    chromium.get(site.base + "/")
    chromium.execute_script("window.sameDocument = true")
    with site.conn() as conn:
        bad = conn.execute("SELECT id FROM tests WHERE testname='bad'").fetchone()[0]
        db.set_test_state(conn, bad, "RUNNING", "n/a")
    try:
        wait(chromium, lambda d: cell_texts(d)["bad"] == ["RUNNING"], "the cell to repaint")
        assert chromium.execute_script("return window.sameDocument") is True
    finally:
        with site.conn() as conn:
            db.set_test_state(conn, bad, "COMPLETED", "FAIL")
    wait(chromium, lambda d: cell_texts(d)["bad"] == ["FAIL"], "the cell to repaint back")


def test_log_out(chromium, site):  # noqa: F811
    chromium.get(site.base + "/")
    chromium.find_element(*by("CSS_SELECTOR", "form.logout button")).click()
    wait(chromium, lambda d: d.current_url.startswith(site.base + "/login"), "the login page")
    chromium.get(site.base + "/")
    assert chromium.current_url.startswith(site.base + "/login")
    screenshot(chromium, "logged-out")
