#!/usr/bin/python3
"""The timeline of the task shows its points: a click on a bar chooses
the point there, Lock locks it (as `cdp points --json` then says) and
Unlock lets it go."""
import harness
from selenium.webdriver.common.by import By


def locked(s, t):
    for p in s.points():
        if p["time"] == t:
            return p["locked"]
    harness.fail(f"{t} is not a point of `cdp points --json`")


def test(s):
    d = s.driver
    s.open_page("/task/cdp-page")
    listed = [p for p in s.points() if p["kind"] == "second"]
    if len(listed) < 2:
        harness.fail(f"the setup made {len(listed)} second points, not 2")
    bars = s.wait(lambda: d.find_elements(By.CSS_SELECTOR, "#timeline rect.tl-bar"), "bars on the timeline")
    total = sum(int(b.get_attribute("data-count")) for b in bars)
    if total < len(listed):
        harness.fail(f"the timeline counts {total} points, `cdp points` lists {len(listed)} seconds")
    s.no_error()
    # The newest bar holds the newest second point.  (The page redraws
    # the timeline now and then: a bar found may be gone, look again.)
    def click_newest():
        bars = d.find_elements(By.CSS_SELECTOR, "#timeline rect.tl-bar")
        if not bars:
            return False
        bars.sort(key=lambda b: float(b.get_attribute("data-from")[1:]))
        d.execute_script("arguments[0].scrollIntoView({block: 'center'})", bars[-1])
        bars[-1].click()
        return True
    s.wait(click_newest, "a click on the newest bar")
    times = {p["time"] for p in s.points()}
    t = s.wait(lambda: (lambda x: x if x in times else None)(s.text(By.ID, "point-time")),
               "a point of `cdp points` to be chosen")
    if locked(s, t):
        harness.fail(f"{t} is locked before the page locked it")
    s.click(By.ID, "lock-point")
    s.wait(lambda: d.find_element(By.ID, "point-time").get_attribute("data-locked") == "true",
           "the page to show the point locked")
    if not locked(s, t):
        harness.fail(f"the page locked {t} but `cdp points --json` says it is not locked")
    # The lock is drawn on the timeline and listed.
    s.wait(lambda: d.find_elements(By.CSS_SELECTOR, f"#timeline rect.tl-lock[data-time='{t}']"),
           "the lock on the timeline")
    s.click(By.ID, "unlock-point")
    s.wait(lambda: d.find_element(By.ID, "point-time").get_attribute("data-locked") == "false",
           "the page to show the point unlocked")
    if locked(s, t):
        harness.fail(f"the page unlocked {t} but `cdp points --json` still says locked")
    s.no_error()


harness.main(test)
