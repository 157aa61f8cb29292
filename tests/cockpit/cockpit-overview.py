#!/usr/bin/python3
"""The overview lists the task served by cdp serve with its disk's state,
journal and policies as `cdp status --json` has them, logged in through
cockpit-ws with administrative access."""
import harness
from selenium.webdriver.common.by import By


def test(s):
    s.open_page()
    row = s.wait(lambda: s.driver.find_elements(By.CSS_SELECTOR, "tr.task-row[data-task='cdp-page']"),
                 "the task in the overview")[0]
    status = s.cdp_json("status", "cdp-page", "--json")["tasks"][0]
    state = status["disks"][0]["state"]
    cell = row.find_element(By.CSS_SELECTOR, "td.disk-state[data-disk='disk0']")
    if cell.text != state:
        harness.fail(f"the page shows disk0 as '{cell.text}', cdp status says '{state}'")
    if "base every 20m" not in row.text:
        harness.fail(f"the policies are not shown: {row.text}")
    if "MiB" not in row.text:
        harness.fail(f"the journal size is not shown: {row.text}")
    s.no_error()
    # A task that is not served says so: stop cdp serve, and the page's
    # next refresh warns.
    s.serve.terminate()
    s.serve.wait(timeout=30)
    s.wait(lambda: [e for e in s.driver.find_elements(By.CSS_SELECTOR, "tr.task-alerts[data-task='cdp-page'] .alert")
                    if "not served" in e.text], "the page to say the task is not served")


harness.main(test)
