"""Real-browser tests of cdp's Cockpit page: everything they run against.

Each test starts, and stops however it ends:
  - a manual-mode task in its own store, served by a real `cdp serve`,
    fed by real writes: an MBR disk whose partition 1 is an ext4 image
    made by mkfs.ext4 -d, written through the receiver with nbdcopy, then
    the tree changed and written again (two versions, two points);
  - a test user in group sudo (created and removed here), with the page
    in ~/.local/share/cockpit/cdp and a manifest override
    (~/.config/cockpit/cdp.override.json) pointing the page at the cdp
    under test and the test store;
  - cockpit-ws on 127.0.0.1 at a free port, without TLS, as
    cockpit-wsinstance;
  - Chromium (headless) through chromedriver and python3-selenium,
    logged in with administrative access ("superuser:USER" = "any").

Waits are on conditions (WebDriverWait), never fixed sleeps.  A missing
component fails the test.
"""

import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zlib
import struct

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.support.ui import WebDriverWait

COCKPIT_WS = "/usr/lib/cockpit/cockpit-ws"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"
WAIT = 60

TOOLS = ["nbdcopy", "mkfs.ext4", "sfdisk", "useradd", "userdel", "chpasswd",
         "setpriv", "sudo", "truncate"]


def fail(msg):
    raise AssertionError(msg)


def png(width, height, seed):
    """A small PNG image, made here (no image library needed)."""
    rows = b""
    for y in range(height):
        rows += b"\0" + bytes(((x * 7 + y * 3 + seed) & 255, (x * y + seed) & 255,
                               (y * 5 + seed * 9) & 255) [i % 3]
                              for x in range(width) for i in range(3))

    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Setup:
    """The task, cockpit-ws, the user and the browser of one test."""

    def __init__(self, name="cdp-page"):
        self.cdp = os.environ.get("CDP")
        self.page = os.environ.get("COCKPIT_PAGE")
        if not self.cdp or not self.page:
            fail("CDP and COCKPIT_PAGE must name the cdp binary and the page's folder")
        for t in TOOLS:
            if shutil.which(t) is None:
                fail(f"required tool '{t}' is not installed")
        for p in (COCKPIT_WS, CHROMEDRIVER, CHROMIUM):
            if not os.access(p, os.X_OK):
                fail(f"{p} is not installed")
        self.name = name
        self.procs = []
        self.user = None
        self.driver = None
        self.serve = None
        self.ws = None
        self.tmp = tempfile.mkdtemp(prefix="cdp-cockpit-")
        os.chmod(self.tmp, 0o755)
        self.store = os.path.join(self.tmp, "store")
        self.rx = os.path.join(self.tmp, "rx.sock")
        self.downloads = os.path.join(self.tmp, "downloads")
        os.mkdir(self.downloads)
        self.trees = {}
        self.times = {}
        self.disks = {}
        self.cleanups = []

    # ---- cdp ------------------------------------------------------------

    def run_cdp(self, *args, check=True):
        r = subprocess.run([self.cdp, "--store", self.store] + list(args),
                           capture_output=True, text=True, timeout=300)
        if check and r.returncode != 0:
            fail(f"cdp {' '.join(args)} exited {r.returncode}: {r.stderr.strip()}")
        return r

    def cdp_json(self, *args):
        return json.loads(self.run_cdp(*args).stdout)

    def wait_until(self, what, cond, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while True:
            v = cond()
            if v:
                return v
            if time.monotonic() > deadline:
                fail(f"timed out after {timeout}s waiting for {what}")
            time.sleep(0.1)

    def processes(self, *words):
        """Pids of the processes whose command line holds all of WORDS."""
        found = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    cmd = [a.decode(errors="replace") for a in f.read().split(b"\0")]
            except OSError:
                continue
            if all(w in cmd for w in words):
                found.append(int(d))
        return found

    def children(self, pid, exe):
        """Pids of PID's children running EXE (by name)."""
        found = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            if ppid == pid and comm == exe:
                found.append(int(d))
        return found

    def start_task(self, size="64M"):
        self.run_cdp("task", "create", self.name, "--size", size, "--listen", "unix:" + self.rx)
        self.serve_log = open(os.path.join(self.tmp, "serve.log"), "w+")
        self.serve = subprocess.Popen([self.cdp, "--store", self.store, "serve"],
                                      stdout=self.serve_log, stderr=subprocess.STDOUT)
        self.procs.append(self.serve)
        self.wait_until("the receiver's socket", lambda: os.path.exists(self.rx))

    def make_tree(self, version):
        """Version N of the guest's files: text, an image, a binary file."""
        d = os.path.join(self.tmp, f"src{version}")
        os.makedirs(os.path.join(d, "etc"))
        os.makedirs(os.path.join(d, "srv", "www"))
        with open(os.path.join(d, "etc", "version"), "w") as f:
            f.write(f"version {version}\n")
        with open(os.path.join(d, "etc", "motd"), "w") as f:
            f.write(f"Welcome, this is version {version} of the guest.\n" * 3)
        with open(os.path.join(d, "srv", "www", "logo.png"), "wb") as f:
            f.write(png(48, 32, version))
        with open(os.path.join(d, "srv", "data.bin"), "wb") as f:
            f.write(os.urandom(300 * 1024))
        if version >= 2:
            with open(os.path.join(d, "etc", "added-in-2"), "w") as f:
                f.write("new in version 2\n")
        self.trees[version] = d
        return d

    def write_version(self, version):
        """mkfs.ext4 -d the tree into partition 1 of an MBR disk and write
        the whole disk through the receiver; returns the time after it."""
        src = self.make_tree(version)
        # Each version in a second of its own: a point is a whole second.
        if self.times:
            last = float(max(self.times.values(), key=lambda t: float(t[1:]))[1:])
            self.wait_until("the next second", lambda: time.time() >= int(last) + 1)
        fs = os.path.join(self.tmp, f"fs{version}.img")
        disk = os.path.join(self.tmp, "disk.img")
        subprocess.run(["mkfs.ext4", "-q", "-F", "-b", "4096", "-d", src, fs, "40M"], check=True)
        if os.path.exists(disk):
            os.unlink(disk)
        subprocess.run(["truncate", "-s", "64M", disk], check=True)
        subprocess.run(["sfdisk", "-q", disk], input="label: dos\nstart=2048, size=81920, type=83\n",
                       text=True, check=True, stdout=subprocess.DEVNULL)
        with open(fs, "rb") as fi, open(disk, "r+b") as fo:
            fo.seek(1 << 20)
            shutil.copyfileobj(fi, fo)
        subprocess.run(["nbdcopy", "--", disk, f"nbd+unix:///disk0?socket={self.rx}"], check=True)
        t = f"@{time.time():.9f}"
        self.times[version] = t
        self.disks[version] = os.path.join(self.tmp, f"disk{version}.img")
        subprocess.run(["cp", "--sparse=always", disk, self.disks[version]], check=True)
        return t

    def points(self):
        return self.cdp_json("points", self.name, "--json")["points"]

    # ---- the user, cockpit-ws, the browser --------------------------------

    def add_user(self):
        self.user = "cdpt" + secrets.token_hex(3)
        self.password = secrets.token_urlsafe(12)
        subprocess.run(["useradd", "-m", "-G", "sudo", "-s", "/bin/bash", self.user], check=True)
        subprocess.run(["chpasswd"], input=f"{self.user}:{self.password}\n", text=True, check=True)
        pw = pwd.getpwnam(self.user)
        home = pw.pw_dir
        pages = os.path.join(home, ".local", "share", "cockpit")
        config = os.path.join(home, ".config", "cockpit")
        os.makedirs(pages)
        os.makedirs(config)
        shutil.copytree(self.page, os.path.join(pages, "cdp"),
                        ignore=shutil.ignore_patterns("meson.build"))
        with open(os.path.join(config, "cdp.override.json"), "w") as f:
            # The sanitizer options of the test reach the cdp the page runs.
            env = [f"{k}={os.environ[k]}" for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS") if k in os.environ]
            json.dump({"config": {"cdp": self.cdp, "store": self.store, "environ": env}}, f)
        for base in (os.path.join(home, ".local"), os.path.join(home, ".config")):
            for dirpath, dirnames, filenames in os.walk(base):
                os.chown(dirpath, pw.pw_uid, pw.pw_gid)
                for n in filenames:
                    os.chown(os.path.join(dirpath, n), pw.pw_uid, pw.pw_gid)

    def start_ws(self):
        self.port = free_port()
        self.ws_log = open(os.path.join(self.tmp, "ws.log"), "w+")
        self.ws = subprocess.Popen(
            ["setpriv", "--reuid=cockpit-wsinstance", "--regid=cockpit-wsinstance", "--init-groups",
             COCKPIT_WS, "--no-tls", "--address=127.0.0.1", f"--port={self.port}"],
            stdout=self.ws_log, stderr=subprocess.STDOUT)
        self.procs.append(self.ws)

        def up():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        self.wait_until("cockpit-ws to listen", up)
        self.url = f"http://127.0.0.1:{self.port}"

    def start_browser(self, width=1400, height=1000):
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                  f"--window-size={width},{height}", "--lang=en-US"):
            opts.add_argument(a)
        opts.add_experimental_option("prefs", {
            "download.default_directory": self.downloads,
            "download.prompt_for_download": False,
        })
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        self.driver.set_page_load_timeout(WAIT)
        # Headless Chromium saves downloads only where it is told to.
        self.driver.execute_cdp_cmd("Page.setDownloadBehavior",
                                    {"behavior": "allow", "downloadPath": self.downloads})

    def login(self):
        d = self.driver
        d.get(self.url + "/")
        # The form is in login.html from the start but hidden until
        # login.js has looked at the server: wait until it can be typed in.
        def form_ready():
            els = [d.find_elements(By.ID, i) for i in
                   ("login-user-input", "login-password-input", "login-button")]
            return all(e and e[0].is_displayed() and e[0].is_enabled() for e in els)
        self.wait(form_ready, "the login form")
        d.execute_script("window.localStorage.setItem(arguments[0], 'any')", "superuser:" + self.user)
        d.find_element(By.ID, "login-user-input").send_keys(self.user)
        d.find_element(By.ID, "login-password-input").send_keys(self.password)
        d.find_element(By.ID, "login-button").click()
        self.wait(lambda: d.find_elements(By.CSS_SELECTOR, "iframe[name^='cockpit1:localhost/']"),
                  "the shell after login")

    def open_page(self, fragment=""):
        """The page inside the shell, at /cdp#FRAGMENT; the driver works in
        its iframe afterwards."""
        d = self.driver
        d.switch_to.default_content()
        d.get(self.url + "/cdp" + ("#" + fragment if fragment else ""))
        frame = self.wait(lambda: d.find_elements(By.CSS_SELECTOR, "iframe[name='cockpit1:localhost/cdp']"),
                          "the page's iframe")[0]
        d.switch_to.frame(frame)
        self.wait(lambda: d.find_elements(By.ID, "app"), "the page to load")

    def wait(self, cond, what, timeout=WAIT):
        try:
            # The page redraws what it lists: an element found a moment
            # ago may be gone; look again.
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1,
                                 ignored_exceptions=[StaleElementReferenceException]).until(lambda d: cond())
        except Exception as e:
            self.dump(what)
            fail(f"timed out after {timeout}s waiting for {what}: {e.__class__.__name__}")

    def text(self, by, sel):
        els = self.driver.find_elements(by, sel)
        return els[0].text if els else ""

    def field(self, id_, what):
        """The input id_ once it is shown and can be typed in."""
        def ready():
            els = self.driver.find_elements(By.ID, id_)
            return els[0] if els and els[0].is_displayed() and els[0].is_enabled() else False
        return self.wait(ready, what)

    def click(self, by, sel, what=None):
        """Click the first shown, enabled element SEL once there is one
        (again if the page redrew it meanwhile)."""
        def attempt():
            els = [e for e in self.driver.find_elements(by, sel) if e.is_displayed() and e.is_enabled()]
            if not els:
                return False
            self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", els[0])
            els[0].click()
            return els[0]
        return self.wait(attempt, what or sel)

    def no_error(self):
        """Fail with the page's own error message when it shows one."""
        for e in self.driver.find_elements(By.CSS_SELECTOR, ".alert.danger"):
            if e.is_displayed():
                fail("the page says: " + e.text)

    def page_errors(self):
        """Fail on errors the browser logged from the page's own files
        (an uncaught exception, a refused inline style)."""
        bad = [e["message"] for e in self.driver.get_log("browser")
               if e.get("level") == "SEVERE" and "/cdp/" in e.get("message", "")]
        if bad:
            fail("the browser logged errors from the page: " + "; ".join(bad[:5]))

    def dump(self, what):
        if not self.driver:
            return
        try:
            path = os.path.join(self.tmp, "failure.png")
            self.driver.save_screenshot(path)
            body = self.driver.find_element(By.TAG_NAME, "body").text
            print(f"--- page text while waiting for {what}:\n{body}", file=sys.stderr)
            for entry in self.driver.get_log("browser")[-20:]:
                print("browser:", entry.get("message"), file=sys.stderr)
        except Exception as e:
            print(f"(no page dump: {e})", file=sys.stderr)

    # ---- teardown -------------------------------------------------------

    def stop(self, ok):
        if self.driver:
            try:
                self.driver.quit()
            except Exception:
                pass
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as e:
                print(f"cleanup: {e}", file=sys.stderr)
        if self.user:
            self.remove_user()
        logs = [(n, getattr(self, n, None)) for n in ("serve_log", "ws_log")]
        if not ok:
            for n, f in logs:
                if f:
                    f.seek(0)
                    print(f"--- {n} (last 40 lines)", file=sys.stderr)
                    print("".join(f.readlines()[-40:]), file=sys.stderr)
        bad = False
        if self.serve is not None:
            self.serve_log.seek(0)
            log = self.serve_log.read()
            if "Sanitizer" in log or "runtime error:" in log:
                print("--- sanitizer report from cdp serve\n" + log, file=sys.stderr)
                bad = True
            if ok and self.serve.returncode not in (0, None):
                print(f"cdp serve exited {self.serve.returncode} on SIGTERM", file=sys.stderr)
                bad = True
        for n, f in logs:
            if f:
                f.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return not bad

    def user_pids(self):
        uid = pwd.getpwnam(self.user).pw_uid
        pids = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                if os.stat("/proc/" + d).st_uid == uid:
                    pids.append(int(d))
            except FileNotFoundError:
                pass
        return pids

    def remove_user(self):
        # The session ends with cockpit-ws; without logind each login
        # leaves a dbus-daemon --session of the user behind: stop it.
        deadline = time.monotonic() + 20
        while True:
            pids = self.user_pids()
            if not pids:
                break
            for pid in pids:
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        cmd = f.read().split(b"\0")
                except FileNotFoundError:
                    continue
                if time.monotonic() > deadline or (cmd and cmd[0].endswith(b"dbus-daemon")):
                    try:
                        os.kill(pid, signal.SIGKILL if time.monotonic() > deadline else signal.SIGTERM)
                    except ProcessLookupError:
                        pass
            time.sleep(0.1)
        subprocess.run(["userdel", "-r", self.user], stderr=subprocess.DEVNULL)


def main(test, name="cdp-page", versions=2, prepare=None):
    """Run test(setup) with a task fed with VERSIONS versions (or made by
    prepare(setup)), a user, cockpit-ws and a logged-in browser; exit 0
    if it passed."""
    def terminated(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    # A timeout's SIGTERM still removes the user and stops what was started.
    signal.signal(signal.SIGTERM, terminated)
    s = Setup(name)
    ok = False
    try:
        if prepare:
            prepare(s)
        else:
            s.start_task()
            for v in range(1, versions + 1):
                s.write_version(v)
        s.add_user()
        s.start_ws()
        s.start_browser()
        s.login()
        test(s)
        s.page_errors()
        ok = True
    except AssertionError as e:
        print(f"{sys.argv[0]}: FAIL: {e}", file=sys.stderr)
    finally:
        clean = s.stop(ok)
    sys.exit(0 if ok and clean else 1)
