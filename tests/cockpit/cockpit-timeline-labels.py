#!/usr/bin/python3
"""The labels of the timeline's retention edges ("oldest base", "journal
from") stay readable: each edge in view is named in the lane above the
plot, inside its width, on no other label and on no bar, bookmark, lock
or base point; also when the wheel zooms in on the edges."""
import harness
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.actions.wheel_input import ScrollOrigin
from selenium.webdriver.common.by import By

# The boxes (in the SVG's own units) of what the timeline draws.
LAYOUT = """
const svg = document.querySelector('#timeline svg');
const box = n => { const b = n.getBBox(); return [b.x, b.y, b.x + b.width, b.y + b.height]; };
const all = sel => Array.from(svg.querySelectorAll(sel));
return {
  width: svg.viewBox.baseVal.width,
  labels: all('.tl-edge text, .tl-now text').map(n => ({ text: n.textContent, box: box(n) })),
  edges: all('.tl-edge').map(n => n.getAttribute('data-edge')),
  shapes: all('rect.tl-bar, .tl-marks > *').map(n => ({ what: n.getAttribute('class'), box: box(n) })),
};
"""


def overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def check(s, where):
    lay = s.driver.execute_script(LAYOUT)
    named = ",".join(lay["edges"]).split(",") if lay["edges"] else []
    for e in ("oldest base", "journal from"):
        if named.count(e) != 1:
            harness.fail(f"{where}: the edge '{e}' is drawn {named.count(e)} times: {lay['edges']}")
    labels = lay["labels"]
    for i, a in enumerate(labels):
        x0, _, x1, _ = a["box"]
        if x0 < -0.5 or x1 > lay["width"] + 0.5:
            harness.fail(f"{where}: the label '{a['text']}' ({x0:.0f}-{x1:.0f}) leaves the plot (0-{lay['width']:.0f})")
        for b in labels[i + 1:]:
            if overlap(a["box"], b["box"]):
                harness.fail(f"{where}: the labels '{a['text']}' {a['box']} and '{b['text']}' {b['box']} overlap")
        for sh in lay["shapes"]:
            if overlap(a["box"], sh["box"]):
                harness.fail(f"{where}: the label '{a['text']}' {a['box']} covers a {sh['what']} at {sh['box']}")
    return lay


EDGE_OFFSET = """
const svg = document.querySelector('#timeline svg');
const line = document.querySelector('#timeline .tl-edge line');
if (!svg || !line) return null;
const width = svg.getBoundingClientRect().width;
return parseFloat(line.getAttribute('x1')) * width / parseFloat(svg.getAttribute('width')) - width / 2;
"""


def wheel_on_edge(d):
    """Turn the wheel up over the first retention edge: True once done
    (s.wait tries again when the SVG was replaced meanwhile)."""
    x = d.execute_script(EDGE_OFFSET)
    if x is None:
        return False
    svg = d.find_element(By.CSS_SELECTOR, "#timeline svg")
    ActionChains(d).scroll_from_origin(ScrollOrigin.from_element(svg, int(x), 0), 0, -100).perform()
    return True


def test(s):
    d = s.driver
    s.open_page("/task/cdp-page")
    s.wait(lambda: d.find_elements(By.CSS_SELECTOR, "#timeline rect.tl-bar"), "bars on the timeline")
    s.wait(lambda: d.find_elements(By.CSS_SELECTOR, "#timeline .tl-marks .tl-lock"), "the lock on the timeline")
    s.wait(lambda: d.find_elements(By.CSS_SELECTOR, "#timeline .tl-edge"), "the retention edges")
    check(s, "all history")
    # Zoom in with the wheel on the edges, down to the narrowest view.
    for step in range(12):
        status = s.text(By.ID, "timeline-status")
        # The page redraws the timeline every few seconds: the edge's
        # place is read in one script, and the wheel is tried again on
        # an SVG replaced under it.
        s.wait(lambda: wheel_on_edge(d), "a wheel turn on the retention edge")
        s.wait(lambda: s.text(By.ID, "timeline-status") not in ("", "Loading\u2026", status)
               or d.find_elements(By.CSS_SELECTOR, "#timeline .tl-edge"), "the timeline to redraw")
        s.wait(lambda: d.find_elements(By.CSS_SELECTOR, "#timeline .tl-edge"), "the retention edges in view")
        check(s, f"zoomed in {step + 1} times")
    s.no_error()


def prepare(s):
    s.start_task()
    s.write_version(1)
    s.write_version(2)
    s.run_cdp("mark", "cdp-page", "--label", "v2")
    s.run_cdp("lock", "cdp-page", "--at", "v2")


harness.main(test, prepare=prepare)
