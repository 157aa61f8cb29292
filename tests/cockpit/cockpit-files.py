#!/usr/bin/python3
"""The files of an earlier point: choose the point of version 1 by typing
its time, browse p1 to a file, preview it (text and image), download a
file and a directory (a tar) and compare the bytes with what was
written; the later point shows version 2."""
import io
import os
import tarfile
import harness
from selenium.webdriver.common.by import By


def choose_time(s, t):
    d = s.driver
    s.click(By.ID, "tab-history")
    box = s.wait(lambda: [e for e in d.find_elements(By.ID, "goto-time") if e.is_displayed()], "the time field")[0]
    box.clear()
    box.send_keys(t)
    s.click(By.ID, "goto-button")
    s.wait(lambda: s.text(By.ID, "point-time") == t, f"the point {t} to be chosen")


def open_path(s, *names):
    d = s.driver
    s.click(By.CSS_SELECTOR, "#files-path a[data-path='/']", "the root of the point")
    for n in names:
        s.click(By.CSS_SELECTOR, f"#files-list tr.file-row[data-name='{n}']", f"'{n}' in the listing")
    return d


def downloaded(s, name, want):
    path = os.path.join(s.downloads, name)

    def done():
        if not os.path.exists(path) or os.path.exists(path + ".crdownload"):
            return False
        with open(path, "rb") as f:
            return f.read()
    got = s.wait(done, f"the download of {name}")
    if got != want:
        harness.fail(f"{name}: the download has {len(got)} bytes that differ from the {len(want)} written")
    os.unlink(path)


def source(s, version, *parts):
    with open(os.path.join(s.trees[version], *parts), "rb") as f:
        return f.read()


def test(s):
    d = s.driver
    s.open_page("/task/cdp-page")
    choose_time(s, s.times[1])
    s.click(By.ID, "tab-files")
    s.wait(lambda: d.find_elements(By.CSS_SELECTOR, "#files-list tr.file-row[data-name='p1']"),
           "the partition p1 at /")
    open_path(s, "p1", "etc", "version")
    pre = s.wait(lambda: d.find_elements(By.ID, "preview-text"), "the preview of /p1/etc/version")[0]
    if pre.text.strip() != "version 1":
        harness.fail(f"the preview of /p1/etc/version at point 1 is '{pre.text}'")
    if d.find_elements(By.CSS_SELECTOR, "#files-list tr.file-row[data-name='added-in-2']"):
        harness.fail("point 1 lists /p1/etc/added-in-2, written only in version 2")
    s.click(By.ID, "preview-download")
    downloaded(s, "version", source(s, 1, "etc", "version"))

    # An image, previewed as one.
    open_path(s, "p1", "srv", "www", "logo.png")
    img = s.wait(lambda: d.find_elements(By.ID, "preview-image"), "the image preview")[0]
    s.wait(lambda: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) == 48,
           "the image to decode, 48 pixels wide")
    s.click(By.ID, "preview-download")
    downloaded(s, "logo.png", source(s, 1, "srv", "www", "logo.png"))

    # A binary file from its row's Download button.
    open_path(s, "p1", "srv")
    s.click(By.CSS_SELECTOR, "#files-list tr.file-row[data-name='data.bin'] .download-file")
    downloaded(s, "data.bin", source(s, 1, "srv", "data.bin"))

    # A directory as a tar.
    open_path(s, "p1", "etc")
    s.click(By.ID, "download-dir")
    path = os.path.join(s.downloads, "etc.tar")
    s.wait(lambda: os.path.exists(path) and not os.path.exists(path + ".crdownload") and os.path.getsize(path) > 0,
           "the download of etc.tar")
    with open(path, "rb") as f:
        tar = tarfile.open(fileobj=io.BytesIO(f.read()))
    names = set(tar.getnames())
    if "etc/version" not in names or "etc/added-in-2" in names:
        harness.fail(f"etc.tar of point 1 holds {sorted(names)}")
    if tar.extractfile("etc/version").read() != source(s, 1, "etc", "version"):
        harness.fail("etc/version in etc.tar is not what version 1 wrote")

    # The later point has version 2.
    choose_time(s, s.times[2])
    s.click(By.ID, "tab-files")
    open_path(s, "p1", "etc", "version")
    s.wait(lambda: s.text(By.ID, "preview-text").strip() == "version 2", "version 2 at the later point")
    s.wait(lambda: d.find_elements(By.CSS_SELECTOR, "#files-list tr.file-row[data-name='added-in-2']"),
           "added-in-2 at the later point")
    s.no_error()


harness.main(test)
