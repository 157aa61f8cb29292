#!/usr/bin/python3
"""Restore from the page: the point of version 1 restored to a raw image,
its progress followed to the end, and the image is the disk as version 1
wrote it."""
import os
import filecmp
import harness
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select


def test(s):
    d = s.driver
    s.open_page("/task/cdp-page")
    box = s.field("goto-time", "the time field")
    box.send_keys(s.times[1])
    s.click(By.ID, "goto-button")
    s.wait(lambda: s.text(By.ID, "point-time") == s.times[1], "the point of version 1 to be chosen")
    s.click(By.ID, "restore-point")
    out = os.path.join(s.tmp, "restored.raw")
    field = s.field("restore-output", "the restore dialog")
    field.clear()
    field.send_keys(out)
    Select(d.find_element(By.ID, "restore-format")).select_by_value("raw")
    s.click(By.ID, "restore-start")
    s.wait(lambda: d.find_elements(By.CSS_SELECTOR, "#restore-dialog #job-result .alert.success") or
           d.find_elements(By.CSS_SELECTOR, "#restore-dialog .modal-error .alert"),
           "the restore to finish", timeout=180)
    err = d.find_elements(By.CSS_SELECTOR, "#restore-dialog .modal-error .alert")
    if err:
        harness.fail("the restore failed: " + err[0].text)
    state = d.find_element(By.ID, "job-progress").get_attribute("data-state")
    if state != "done":
        harness.fail(f"the progress ended '{state}', not done")
    if not filecmp.cmp(out, s.disks[1], shallow=False):
        harness.fail("the restored image differs from the disk version 1 wrote")


harness.main(test)
