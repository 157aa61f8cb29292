/* cdp's Cockpit page: the zoomable timeline of a disk's history, drawn
 * in SVG from `cdp points NAME --disk D --from T --to T --bucket DUR
 * --json` (docs/JSON.md): point density per bucket, base points,
 * bookmarks, locks, fidelity gaps, retention edges and "now".  The wheel
 * zooms around the pointer, a drag pans, a click chooses the point
 * nearest to it (resolved with `cdp points --from --to --json` within the
 * bucket clicked). */
"use strict";

(function () {
    const { el } = CDP;
    const SVGNS = "http://www.w3.org/2000/svg";
    /* From the top: a lane of two rows for the labels of the retention
     * edges and of "now", the row of bookmarks and locks, the density
     * bars, the row of base points, the time axis. */
    const LANE_ROWS = [11, 26];
    const HEIGHT = 174;
    const BAR_TOP = 46;
    const BAR_BOTTOM = 124;
    const MARK_Y = 135;
    const AXIS_Y = 148;
    const MERGE_PX = 4;
    const NOW_TEXT = 24; /* the width of "now" */
    const MIN_SPAN_MS = 20e3;
    const MAX_SPAN_MS = 10 * 365 * 86400e3;
    const BUCKETS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200,
        10800, 21600, 43200, 86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400];
    const TICKS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200,
        10800, 21600, 43200, 86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400, 91 * 86400, 365 * 86400];

    function svg(tag, attrs) {
        const n = document.createElementNS(SVGNS, tag);
        for (const k in attrs || {})
            n.setAttribute(k, attrs[k]);
        for (let i = 2; i < arguments.length; i++)
            if (arguments[i])
                n.appendChild(arguments[i]);
        return n;
    }

    function at(ms) {
        return "@" + (ms / 1000).toFixed(3);
    }

    function pad(n) {
        return String(n).padStart(2, "0");
    }

    function tickText(ms, step) {
        const d = new Date(ms);
        if (step >= 86400)
            return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
        const hm = pad(d.getHours()) + ":" + pad(d.getMinutes());
        if (step < 60)
            return hm + ":" + pad(d.getSeconds());
        if (d.getHours() === 0 && d.getMinutes() === 0)
            return (d.getMonth() + 1) + "/" + d.getDate();
        return hm;
    }

    /* opts: task, disk, onSelect({time, kind, locked, label}), onMessage(kind, text) */
    CDP.Timeline = function (container, opts) {
        const self = {};
        let view = null; /* {from, to} in ms */
        let doc = null; /* the last timeline document */
        let gen = 0;
        let debounce = null;
        let selected = null; /* {time (RFC 3339 or what was typed), ms} */
        let drag = null;

        const status = el("span", { class: "sub", id: "timeline-status" });
        const box = el("div", { class: "timeline", id: "timeline" });
        const svgRoot = svg("svg", { height: HEIGHT, role: "img", "aria-label": "recovery point timeline" });
        box.appendChild(svgRoot);

        const tools = el("div", { class: "timeline-tools" },
                         CDP.button("secondary", "\u2212", () => zoom(2, 0.5), { id: "tl-zoom-out", title: "Zoom out" }),
                         CDP.button("secondary", "+", () => zoom(0.5, 0.5), { id: "tl-zoom-in", title: "Zoom in" }),
                         CDP.button("link", "Last 10 minutes", () => last(600e3), { id: "tl-last-10m" }),
                         CDP.button("link", "Last hour", () => last(3600e3), { id: "tl-last-hour" }),
                         CDP.button("link", "Last day", () => last(86400e3), { id: "tl-last-day" }),
                         CDP.button("link", "All history", () => fit(), { id: "tl-all" }),
                         el("span", { class: "spacer" }), status);
        const legend = el("div", { class: "tl-legend" },
                          el("span", { class: "k-density" }, "points (density)"),
                          el("span", { class: "k-base" }, "base point"),
                          el("span", { class: "k-bookmark" }, "bookmark"),
                          el("span", { class: "k-lock" }, "locked"),
                          el("span", { class: "k-gap" }, "fidelity gap"),
                          el("span", { class: "k-retained" }, "base points only (journal retention)"),
                          el("span", { class: "k-now" }, "now"));
        container.appendChild(tools);
        container.appendChild(box);
        container.appendChild(legend);

        function width() {
            return Math.max(200, box.clientWidth || 800);
        }

        function xOf(ms) {
            return (ms - view.from) / (view.to - view.from) * width();
        }

        function msOf(x) {
            return view.from + x / width() * (view.to - view.from);
        }

        function bucketFor(span) {
            const want = span / 1000 / (width() / 4);
            for (const b of BUCKETS)
                if (b >= want)
                    return b;
            return BUCKETS[BUCKETS.length - 1];
        }

        function setView(from, to) {
            let span = to - from;
            if (span < MIN_SPAN_MS) {
                const mid = (from + to) / 2;
                span = MIN_SPAN_MS;
                from = mid - span / 2;
                to = mid + span / 2;
            }
            if (span > MAX_SPAN_MS) {
                from = to - MAX_SPAN_MS;
            }
            view = { from, to };
            draw();
            if (debounce)
                window.clearTimeout(debounce);
            debounce = window.setTimeout(fetch, 120);
        }

        function zoom(factor, where) {
            const span = view.to - view.from;
            const pivot = view.from + span * where;
            setView(pivot - (pivot - view.from) * factor, pivot + (view.to - pivot) * factor);
        }

        function last(span) {
            const now = Date.now();
            setView(now - span, now + span * 0.03);
        }

        /* The whole history, from the oldest base point to now. */
        function fit() {
            const g = ++gen;
            status.textContent = "Loading\u2026";
            CDP.json(["points", opts.task, "--disk", opts.disk, "--bucket", "1d", "--json"])
                    .then(d => {
                        if (g !== gen)
                            return;
                        const r = d.retention || {};
                        const now = CDP.parseTime(d.now) || Date.now();
                        let from = Math.min(CDP.parseTime(r.oldest_base) || Infinity,
                                            CDP.parseTime(r.oldest_second) || Infinity);
                        if (!isFinite(from))
                            from = now - 3600e3;
                        const span = Math.max(now - from, MIN_SPAN_MS);
                        setView(from - span * 0.03, now + span * 0.03);
                    })
                    .catch(e => failed(g, e));
        }

        function failed(g, e) {
            if (g !== gen)
                return;
            status.textContent = "";
            opts.onMessage("danger", "cdp points --bucket: " + e.message);
        }

        function fetch() {
            debounce = null;
            const g = ++gen;
            const b = bucketFor(view.to - view.from);
            const from = Math.floor(view.from / (b * 1000)) * b * 1000;
            const to = Math.min(view.to, Date.now());
            if (to <= from) {
                doc = null;
                draw();
                return;
            }
            status.textContent = "Loading\u2026";
            const t0 = performance.now();
            CDP.json(["points", opts.task, "--disk", opts.disk, "--from", at(from), "--to", at(to),
                "--bucket", b + "s", "--json"])
                    .then(d => {
                        if (g !== gen)
                            return;
                        doc = d;
                        doc.fromMs = CDP.parseTime(d.from);
                        doc.bucketMs = d.bucket_ns / 1e6;
                        const total = (d.counts || []).reduce((a, c) => a + c, 0);
                        status.textContent = total + " point" + (total === 1 ? "" : "s") + " in view, " +
                            CDP.policy(b) + " buckets (" + Math.round(performance.now() - t0) + " ms)";
                        opts.onMessage(null);
                        draw();
                        if (opts.onData)
                            opts.onData(doc);
                    })
                    .catch(e => failed(g, e));
        }

        function clear() {
            while (svgRoot.firstChild)
                svgRoot.removeChild(svgRoot.firstChild);
        }

        function title(node, text) {
            node.appendChild(svg("title", {})).textContent = text;
            return node;
        }

        function draw() {
            clear();
            if (!view)
                return;
            const w = width();
            svgRoot.setAttribute("viewBox", "0 0 " + w + " " + HEIGHT);
            svgRoot.setAttribute("width", w);
            const defs = svg("defs", {},
                             svg("pattern", { id: "tl-hatch", width: 6, height: 6, patternUnits: "userSpaceOnUse",
                                 patternTransform: "rotate(45)" },
                                 svg("rect", { width: 6, height: 6, fill: "#faeae8" }),
                                 svg("rect", { width: 2, height: 6, fill: "#c9190b" })),
                             svg("clipPath", { id: "tl-lane-clip" }, svg("rect", { x: 0, y: 0, width: w, height: HEIGHT })));
            svgRoot.appendChild(defs);
            svgRoot.appendChild(svg("rect", { class: "tl-bg", x: 0, y: BAR_TOP, width: w, height: BAR_BOTTOM - BAR_TOP }));
            if (doc)
                drawDoc(w);
            drawAxis(w);
            drawNow();
            drawSelected();
        }

        function drawDoc(w) {
            const r = doc.retention || {};
            const oldestSecond = CDP.parseTime(r.oldest_second);
            const oldestBase = CDP.parseTime(r.oldest_base);
            /* Before the oldest second only base points remain. */
            if (!isNaN(oldestSecond) && xOf(oldestSecond) > 0) {
                const x0 = isNaN(oldestBase) ? 0 : Math.max(0, xOf(oldestBase));
                const x1 = Math.min(w, xOf(oldestSecond));
                if (x1 > x0)
                    svgRoot.appendChild(title(svg("rect", { class: "tl-retained", x: x0, y: BAR_TOP, width: x1 - x0,
                        height: BAR_BOTTOM - BAR_TOP }), "only base points before " + CDP.timeText(r.oldest_second)));
            }
            const counts = doc.counts || [];
            let max = 1;
            for (const c of counts)
                max = Math.max(max, c);
            const bw = doc.bucketMs / (view.to - view.from) * w;
            const bars = svg("g", { class: "tl-bars" });
            for (let i = 0; i < counts.length; i++) {
                if (counts[i] === 0)
                    continue;
                const t0 = doc.fromMs + i * doc.bucketMs;
                const x = xOf(t0);
                if (x + bw < 0 || x > w)
                    continue;
                const h = Math.max(3, (BAR_BOTTOM - BAR_TOP) * Math.log(1 + counts[i]) / Math.log(1 + max));
                bars.appendChild(title(svg("rect", {
                    class: "tl-bar", x: x, y: BAR_BOTTOM - h, width: Math.max(1.5, bw - 0.5), height: h,
                    "data-from": at(t0), "data-to": at(t0 + doc.bucketMs), "data-count": counts[i],
                }), counts[i] + " point" + (counts[i] === 1 ? "" : "s") + " from " + CDP.localTime(t0)));
            }
            svgRoot.appendChild(bars);
            for (const g of doc.gaps || []) {
                const a = Math.max(0, xOf(CDP.parseTime(g.from)));
                const b = Math.min(w, g.to ? xOf(CDP.parseTime(g.to)) : xOf(Date.now()));
                if (b > a)
                    svgRoot.appendChild(title(svg("rect", { class: "tl-gap", x: a, y: BAR_TOP, width: Math.max(2, b - a),
                        height: BAR_BOTTOM - BAR_TOP, "data-reason": g.reason }),
                    "fidelity gap " + CDP.timeText(g.from) + " \u2013 " + (g.to ? CDP.timeText(g.to) : "now") + ": " + g.reason));
            }
            edges([{ ms: oldestBase, text: "oldest base" }, { ms: oldestSecond, text: "journal from" }]);
            const marks = svg("g", { class: "tl-marks" });
            for (const p of doc.points || []) {
                const x = xOf(CDP.parseTime(p.time));
                if (x < -6 || x > w + 6)
                    continue;
                let n;
                if (p.kind === "base")
                    n = svg("polygon", { class: "tl-base", points: [x, MARK_Y - 6, x + 6, MARK_Y, x, MARK_Y + 6, x - 6, MARK_Y].join(" ") });
                else if (p.kind === "bookmark")
                    n = svg("circle", { class: "tl-bookmark", cx: x, cy: BAR_TOP - 10, r: 5 });
                else
                    continue;
                n.setAttribute("data-time", p.time);
                n.setAttribute("data-kind", p.kind);
                marks.appendChild(title(n, p.kind + (p.label ? " \u201c" + p.label + "\u201d" : "") + " " +
                    CDP.timeText(p.time) + (p.locked ? " (locked)" : "")));
            }
            for (const l of doc.locks || []) {
                const x = xOf(CDP.parseTime(l.time));
                if (x < -6 || x > w + 6)
                    continue;
                marks.appendChild(title(svg("rect", { class: "tl-lock", x: x - 4, y: BAR_TOP - 4, width: 8, height: 8,
                    "data-time": l.time, "data-kind": "lock" }),
                "locked " + CDP.timeText(l.time) + (l.point ? "" : " (its history is lost)")));
            }
            svgRoot.appendChild(marks);
        }

        /* The width of a label's text, measured once it is drawn (an
         * estimate while the page is hidden). */
        function textWidth(node, text) {
            const m = node.getComputedTextLength ? node.getComputedTextLength() : 0;
            return m > 0 ? m : text.length * 6.5;
        }

        /* A label in the lane: after x when it fits there, else before it,
         * inside the plot's width; on the first row where it overlaps no
         * label placed before (taken: per row, a list of [x0, x1]).
         * Returns the row or -1. */
        function place(node, x, text, taken, rows) {
            const tw = textWidth(node, text);
            const w = width();
            let x0 = x + 3 + tw <= w ? x + 3 : x - 3 - tw;
            x0 = Math.max(0, Math.min(x0, w - tw));
            for (const r of rows) {
                if (taken[r].some(([a, b]) => x0 < b + 6 && x0 + tw > a - 6))
                    continue;
                taken[r].push([x0, x0 + tw]);
                node.setAttribute("x", x0);
                node.setAttribute("y", LANE_ROWS[r]);
                return r;
            }
            return -1;
        }

        /* The retention edges: a dashed line down through the bars, its
         * label in the lane above them.  Edges within a few pixels of each
         * other share one label; labels that would overlap go to the
         * second row, or are merged with their neighbour when both rows
         * are taken. */
        function edges(list) {
            const w = width();
            let items = list.filter(e => !isNaN(e.ms)).map(e => ({ x: xOf(e.ms), texts: [e.text], ms: [e.ms] }))
                    .filter(e => e.x >= 0 && e.x <= w)
                    .sort((a, b) => a.x - b.x);
            for (let i = 1; i < items.length; i++)
                if (items[i].x - items[i - 1].x < MERGE_PX) {
                    items[i - 1].texts.push(...items[i].texts);
                    items[i - 1].ms.push(...items[i].ms);
                    items.splice(i--, 1);
                }
            const lane = svg("g", { class: "tl-lane", "clip-path": "url(#tl-lane-clip)" });
            svgRoot.appendChild(lane);
            for (;;) {
                while (lane.firstChild)
                    lane.removeChild(lane.firstChild);
                const taken = [[], []];
                const now = xOf(Date.now());
                if (now >= 0 && now <= w)
                    taken[0].push([Math.max(now - 3, NOW_TEXT) - NOW_TEXT, Math.max(now - 3, NOW_TEXT) + 1]);
                let failed = -1;
                for (let i = 0; i < items.length && failed < 0; i++) {
                    const it = items[i];
                    const text = it.texts.join(" \u00b7 ");
                    const g = svg("g", { class: "tl-edge", "data-edge": it.texts.join(",") },
                                  svg("line", { x1: it.x, x2: it.x, y1: 0, y2: BAR_BOTTOM }));
                    const tx = g.appendChild(svg("text", {}));
                    tx.textContent = text;
                    lane.appendChild(g);
                    const row = place(tx, it.x, text, taken, [0, 1]);
                    if (row < 0) {
                        failed = i;
                        break;
                    }
                    g.firstChild.setAttribute("y1", LANE_ROWS[row] + 3);
                    title(g, it.texts.map((t, k) => t + " " + CDP.localTime(it.ms[k])).join(", "));
                }
                if (failed < 1)
                    break;
                const a = items[failed - 1];
                const b = items.splice(failed, 1)[0];
                a.texts.push(...b.texts);
                a.ms.push(...b.ms);
            }
        }

        function drawAxis(w) {
            const span = (view.to - view.from) / 1000;
            let step = TICKS[TICKS.length - 1];
            for (const s of TICKS)
                if (span / s <= w / 110) {
                    step = s;
                    break;
                }
            const g = svg("g", { class: "tl-axis" },
                          svg("line", { x1: 0, x2: w, y1: AXIS_Y, y2: AXIS_Y }));
            const tz = new Date().getTimezoneOffset() * 60e3;
            const stepMs = step * 1000;
            let t = Math.ceil((view.from - (step >= 86400 ? -tz : 0)) / stepMs) * stepMs + (step >= 86400 ? -tz : 0);
            for (; t <= view.to; t += stepMs) {
                const x = xOf(t);
                g.appendChild(svg("line", { x1: x, x2: x, y1: AXIS_Y, y2: AXIS_Y + 4 }));
                const tx = svg("text", { x: x, y: AXIS_Y + 16, "text-anchor": "middle" });
                tx.textContent = tickText(t, step);
                g.appendChild(tx);
            }
            svgRoot.appendChild(g);
        }

        function drawNow() {
            const now = Date.now();
            const x = xOf(now);
            if (x < 0 || x > width())
                return;
            const g = svg("g", { class: "tl-now" }, svg("line", { x1: x, x2: x, y1: 2, y2: AXIS_Y }));
            g.appendChild(svg("text", { x: Math.max(x - 3, NOW_TEXT), y: LANE_ROWS[0], "text-anchor": "end" })).textContent = "now";
            svgRoot.appendChild(g);
        }

        function drawSelected() {
            if (!selected || isNaN(selected.ms))
                return;
            const x = xOf(selected.ms);
            if (x < 0 || x > width())
                return;
            const g = svg("g", { class: "tl-selected" }, svg("line", { x1: x, x2: x, y1: BAR_TOP - 4, y2: AXIS_Y }));
            svgRoot.appendChild(g);
        }

        /* The point nearest to ms within the bucket(s) around it. */
        function pick(ms) {
            if (!doc || !doc.counts)
                return;
            const i = Math.floor((ms - doc.fromMs) / doc.bucketMs);
            let lo = i;
            let hi = i;
            /* A click a pixel or two off a thin bar still hits it. */
            const slack = Math.ceil(3 / (doc.bucketMs / (view.to - view.from) * width()));
            for (let k = 0; k <= slack; k++) {
                if (doc.counts[i - k])
                    lo = Math.min(lo, i - k);
                if (doc.counts[i + k])
                    hi = Math.max(hi, i + k);
            }
            if (!doc.counts.slice(Math.max(lo, 0), hi + 1).some(c => c > 0)) {
                opts.onMessage("info", "No recovery point at " + CDP.localTime(ms) + ": choose a bar.");
                return;
            }
            const from = doc.fromMs + Math.max(lo, 0) * doc.bucketMs;
            const to = doc.fromMs + (hi + 1) * doc.bucketMs;
            CDP.json(["points", opts.task, "--disk", opts.disk, "--from", at(from), "--to", at(to), "--json"])
                    .then(list => {
                        let best = null;
                        for (const p of list.points || []) {
                            const t = CDP.parseTime(p.time);
                            if (t < from - 1 || t > to + 1)
                                continue;
                            if (best === null || Math.abs(t - ms) < Math.abs(best.ms - ms))
                                best = Object.assign({ ms: t }, p);
                        }
                        if (best === null)
                            opts.onMessage("info", "No recovery point near " + CDP.localTime(ms) + ".");
                        else
                            opts.onSelect(best);
                    })
                    .catch(e => opts.onMessage("danger", "cdp points: " + e.message));
        }

        svgRoot.addEventListener("wheel", ev => {
            ev.preventDefault();
            const rect = svgRoot.getBoundingClientRect();
            zoom(ev.deltaY > 0 ? 1.25 : 0.8, (ev.clientX - rect.left) / rect.width);
        }, { passive: false });
        svgRoot.addEventListener("mousedown", ev => {
            if (ev.button !== 0)
                return;
            drag = { x: ev.clientX, view: Object.assign({}, view), moved: false, target: ev.target };
        });
        window.addEventListener("mousemove", ev => {
            if (!drag)
                return;
            const dx = ev.clientX - drag.x;
            if (Math.abs(dx) > 3)
                drag.moved = true;
            if (drag.moved) {
                svgRoot.classList.add("panning");
                const dms = dx / width() * (drag.view.to - drag.view.from);
                setView(drag.view.from - dms, drag.view.to - dms);
            }
        });
        window.addEventListener("mouseup", ev => {
            if (!drag)
                return;
            const d = drag;
            drag = null;
            svgRoot.classList.remove("panning");
            if (d.moved)
                return;
            const t = d.target;
            if (t && t.getAttribute && t.getAttribute("data-time")) {
                const kind = t.getAttribute("data-kind");
                const time = t.getAttribute("data-time");
                const p = (doc.points || []).find(x => x.time === time) ||
                    { time, kind: kind === "lock" ? "locked" : kind, locked: true };
                opts.onSelect(Object.assign({ ms: CDP.parseTime(time) }, p));
                return;
            }
            const rect = svgRoot.getBoundingClientRect();
            pick(msOf((ev.clientX - rect.left) / rect.width * width()));
        });
        window.addEventListener("resize", () => draw());

        self.start = () => fit();
        self.reload = () => {
            if (!view)
                return;
            /* Follow "now" when it is in view. */
            const now = Date.now();
            const span = view.to - view.from;
            if (!drag && view.to >= now - span * 0.05 && view.to <= now + span * 0.2)
                setView(now + span * 0.03 - span, now + span * 0.03);
            else
                fetch();
        };
        self.select = (time, ms) => {
            selected = { time, ms };
            if (view && !isNaN(ms) && (ms < view.from || ms > view.to)) {
                const span = view.to - view.from;
                setView(ms - span / 2, ms + span / 2);
            } else {
                draw();
            }
        };
        self.doc = () => doc;
        return self;
    };
})();
