#!/usr/bin/python3
"""Errors from cdp reach the page as cdp's own one-line message: a time
that is neither a time nor a bookmark, typed and browsed, shows exactly
the line `cdp ls` says on stderr for it."""
import harness
from selenium.webdriver.common.by import By

BAD = "the-day-before-yesterday"


def test(s):
    d = s.driver
    r = s.run_cdp("ls", "cdp-page", "--at", BAD, "--disk", "disk0", "/", "--json", check=False)
    if r.returncode == 0 or len(r.stderr.splitlines()) != 1:
        harness.fail(f"cdp ls --at {BAD}: exit {r.returncode}, stderr {r.stderr!r}")
    line = r.stderr.strip()
    s.open_page("/task/cdp-page")
    box = s.field("goto-time", "the time field")
    box.send_keys(BAD)
    s.click(By.ID, "goto-button")
    s.wait(lambda: s.text(By.ID, "point-time") == BAD, "the typed time to be chosen")
    s.click(By.ID, "browse-point")
    shown = s.wait(lambda: [e.text for e in d.find_elements(By.CSS_SELECTOR, "#files-messages .alert.danger")
                            if e.is_displayed()], "the page to show cdp's error")[0]
    if line not in shown:
        harness.fail(f"the page shows '{shown}', cdp says '{line}'")


harness.main(test)
