#!/usr/bin/python3
"""Protect a VM from the page: the dialog lists the libvirt domains
(virsh list --all), and Protect with the policies typed creates the task
(`cdp task show --json` has its domain, disk and policies), which the
overview then lists."""
import os
import subprocess
import harness
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def virsh(*args, check=True):
    return subprocess.run(["virsh", "-c", "qemu:///system"] + list(args),
                          capture_output=True, text=True, check=check)


def prepare(s):
    r = subprocess.run([os.path.join(top, "scripts", "start-libvirtd")], capture_output=True, text=True)
    if r.returncode != 0:
        harness.fail("libvirtd is not running and scripts/start-libvirtd could not start it: " + r.stderr.strip())
    s.domain = "cdp-page-" + os.path.basename(s.tmp).split("-")[-1]
    os.chmod(s.tmp, 0o711)
    subprocess.run([os.path.join(top, "scripts", "make-vm"), s.tmp, s.domain, "--blank", "16M"],
                   check=True, stdout=subprocess.DEVNULL)
    virsh("define", os.path.join(s.tmp, s.domain + ".xml"))
    s.cleanups.append(lambda: virsh("undefine", s.domain, check=False))


def test(s):
    d = s.driver
    s.open_page()
    s.click(By.ID, "protect-vm")
    s.wait(lambda: [o for o in d.find_elements(By.CSS_SELECTOR, "#protect-domain option")
                    if o.get_attribute("value") == s.domain], "the domain in the dialog's list")
    Select(d.find_element(By.ID, "protect-domain")).select_by_value(s.domain)
    name = d.find_element(By.ID, "protect-name")
    if name.get_attribute("value") != s.domain:
        harness.fail("the task's name is not the domain's by default")
    for field, value in (("protect-bp-interval", "5m"), ("protect-journal-retention", "2h"),
                         ("protect-bp-retention", "3d"), ("protect-rpo", "1s")):
        e = d.find_element(By.ID, field)
        e.clear()
        e.send_keys(value)
    s.click(By.ID, "protect-create")
    s.wait(lambda: d.find_elements(By.CSS_SELECTOR, f"tr.task-row[data-task='{s.domain}']") or
           [e for e in d.find_elements(By.CSS_SELECTOR, "#protect-dialog .modal-error .alert")],
           "the new task in the overview")
    s.no_error()
    t = s.cdp_json("task", "show", s.domain, "--json")
    want = {"mode": "libvirt", "domain": s.domain, "bp_interval_s": 300, "journal_retention_s": 7200,
            "bp_retention_s": 259200, "rpo_s": 1}
    for k, v in want.items():
        if t.get(k) != v:
            harness.fail(f"task show: {k} is {t.get(k)!r}, the page asked for {v!r}")
    if [x["name"] for x in t["disks"]] != ["vda"]:
        harness.fail(f"task show: disks {t['disks']}")


harness.main(test, prepare=prepare)
