#!/usr/bin/python3
"""Export from the page: the point of version 1 served over NBD shows its
URI, an NBD client (nbdcopy) reads the disk as version 1 wrote it from
there, and Stop ends the cdp export process (the page closes its
channel; the bridge sends SIGTERM)."""
import os
import subprocess
import filecmp
import harness
from selenium.webdriver.common.by import By


def test(s):
    d = s.driver
    s.open_page("/task/cdp-page")
    box = s.field("goto-time", "the time field")
    box.send_keys(s.times[1])
    s.click(By.ID, "goto-button")
    s.wait(lambda: s.text(By.ID, "point-time") == s.times[1], "the point of version 1 to be chosen")
    s.click(By.ID, "export-point")
    sock = os.path.join(s.tmp, "export.sock")
    field = s.field("export-listen", "the export dialog")
    field.clear()
    field.send_keys("unix:" + sock)
    s.click(By.ID, "export-start")
    row = s.wait(lambda: [r for r in d.find_elements(By.CSS_SELECTOR, "#exports-list tr.export-row")
                          if r.get_attribute("data-pid")], "the export's URI on the page")[0]
    s.no_error()
    uri = row.find_element(By.CSS_SELECTOR, ".export-uri").text
    pid = int(row.get_attribute("data-pid"))
    if not uri.startswith("nbd+unix://") or sock not in uri:
        harness.fail(f"the page shows the URI '{uri}'")
    out = os.path.join(s.tmp, "exported.raw")
    r = subprocess.run(["nbdcopy", "--", uri, out], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        harness.fail("nbdcopy from the page's URI: " + r.stderr.strip())
    if not filecmp.cmp(out, s.disks[1], shallow=False):
        harness.fail("the export differs from the disk version 1 wrote")
    if not os.path.exists(f"/proc/{pid}"):
        harness.fail(f"cdp export (pid {pid}) ended before Stop")
    row.find_element(By.CSS_SELECTOR, ".export-stop").click()
    s.wait_until(f"cdp export (pid {pid}) to end after Stop", lambda: not os.path.exists(f"/proc/{pid}"))
    # It ended by a signal it handles (SIGTERM), not SIGKILL: it removed
    # its socket on the way out.
    if os.path.exists(sock):
        harness.fail("cdp export left its socket behind: it did not end by SIGTERM")
    s.wait(lambda: "stopped" in row.text, "the page to show the export stopped")
    s.no_error()


harness.main(test)
