#!/usr/bin/python3
"""Cancel a restore from the page: while it runs (its writer, qemu-nbd,
held stopped so that the copy cannot end first), Cancel sends
cdp restore SIGTERM; it ends, the page shows its one line saying
cancelled, and neither the image nor a temporary file is left."""
import os
import signal
import subprocess
import time
import harness
from selenium.webdriver.common.by import By


def prepare(s):
    s.start_task("256M")
    ref = os.path.join(s.tmp, "ref.img")
    with open(ref, "wb") as f:
        f.write(os.urandom(256 << 20))
    subprocess.run(["nbdcopy", "--", ref, f"nbd+unix:///disk0?socket={s.rx}"], check=True)
    os.unlink(ref)
    s.times[1] = f"@{time.time():.9f}"


def test(s):
    d = s.driver
    s.open_page("/task/cdp-page")
    box = s.field("goto-time", "the time field")
    box.send_keys(s.times[1])
    s.click(By.ID, "goto-button")
    s.wait(lambda: s.text(By.ID, "point-time") == s.times[1], "the point to be chosen")
    s.click(By.ID, "restore-point")
    outdir = os.path.join(s.tmp, "out")
    os.mkdir(outdir)
    out = os.path.join(outdir, "restored.qcow2")
    field = s.field("restore-output", "the restore dialog")
    field.clear()
    field.send_keys(out)
    s.click(By.ID, "restore-start")
    # The restore the page started, and its writer, stopped mid-copy.
    pid = s.wait_until("cdp restore to start", lambda: s.processes(s.store, "restore", out))[0]
    nbd = s.wait_until("the restore's qemu-nbd", lambda: s.children(pid, "qemu-nbd"))[0]
    os.kill(nbd, signal.SIGSTOP)
    try:
        s.click(By.ID, "job-cancel")
        s.wait(lambda: d.find_elements(By.CSS_SELECTOR, "#job-cancel[data-signalled='true']"),
               "the page to have sent the signal")
    finally:
        try:
            os.kill(nbd, signal.SIGCONT)
        except ProcessLookupError:
            pass
    s.wait_until(f"cdp restore (pid {pid}) to end after Cancel", lambda: not os.path.exists(f"/proc/{pid}"))
    said = s.wait(lambda: d.find_elements(By.CSS_SELECTOR, "#restore-dialog #job-result .alert.warning"),
                  "the page to say the restore was cancelled")[0].text
    if "cancelled" not in said.replace("Cancelled:", ""):
        harness.fail(f"the page does not show cdp's line saying cancelled: {said}")
    if d.find_element(By.ID, "job-progress").get_attribute("data-state") != "failed":
        harness.fail("the progress of a cancelled restore does not show it stopped")
    s.wait_until("the restore's process to be gone", lambda: not s.processes(s.store, "restore", out))
    left = os.listdir(outdir)
    if left:
        harness.fail(f"a cancelled restore left {left}")
    s.no_error()


harness.main(test, prepare=prepare)
