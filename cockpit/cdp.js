/* cdp's Cockpit page: what every view shares.
 *
 * Every action runs the cdp command through cockpit.spawn with the
 * privileges Cockpit grants (superuser "try"), and reads its --json
 * documents (docs/JSON.md).  A failure reaches the page as cdp's own
 * one-line message (err: "message").  The binary and the store come from
 * the manifest's "config" (cdp, store, environ), which an override file
 * (/etc/cockpit/cdp.override.json or ~/.config/cockpit/cdp.override.json)
 * may change. */
"use strict";

const CDP = window.CDP = {};

CDP.config = function () {
    const m = (cockpit.manifests && cockpit.manifests.cdp) || {};
    const c = m.config || {};
    return {
        cdp: c.cdp || "cdp",
        store: c.store || "/var/lib/cdp",
        environ: Array.isArray(c.environ) ? c.environ : [],
    };
};

/* The argument vector of a cdp command. */
CDP.argv = function (args) {
    const c = CDP.config();
    return [c.cdp, "--store", c.store].concat(args);
};

/* The one line a failed spawn says: cdp's stderr, else Cockpit's reason. */
CDP.errorText = function (ex) {
    if (ex === undefined || ex === null)
        return "failed";
    let msg = (ex.message || "").trim();
    if (msg === "" && ex.problem)
        msg = cockpit.message(ex);
    if (msg === "" && ex.exit_status !== undefined && ex.exit_status !== null)
        msg = "exited with status " + ex.exit_status;
    if (msg === "" && ex.exit_signal)
        msg = "killed by signal " + ex.exit_signal;
    if (msg === "")
        msg = String(ex);
    /* cdp says one line; anything after it (a sanitizer's report) is kept
     * out of the alert but not out of the console. */
    const lines = msg.split("\n").filter(l => l.trim() !== "");
    if (lines.length > 1)
        console.warn("cdp:", msg);
    return lines.length > 0 ? lines[0] : msg;
};

/* "environ" in the config: variables cdp runs with (the tests pass
 * their sanitizer options this way). */
function spawnOptions(extra) {
    const o = { superuser: "try", err: "message" };
    const env = CDP.config().environ;
    if (env.length > 0)
        o.environ = env;
    return Object.assign(o, extra || {});
}

/* Run cdp, resolve with its stdout (a string). */
CDP.run = function (args) {
    return new Promise((resolve, reject) => {
        cockpit.spawn(CDP.argv(args), spawnOptions())
                .then(out => resolve(out))
                .catch(ex => reject(new Error(CDP.errorText(ex))));
    });
};

/* Check a document's schema version (docs/JSON.md: refuse what is unknown). */
CDP.checkVersion = function (doc, what) {
    if (doc === null || typeof doc !== "object")
        throw new Error(what + ": not a JSON object");
    if (doc.version !== undefined && doc.version !== 1)
        throw new Error(what + ": schema version " + doc.version + " is not known to this page");
    return doc;
};

/* Run cdp with --json, resolve with the parsed document. */
CDP.json = function (args) {
    return CDP.run(args).then(out => {
        let doc;
        try {
            doc = JSON.parse(out);
        } catch (e) {
            throw new Error("cdp " + args[0] + ": output is not JSON: " + e.message);
        }
        return CDP.checkVersion(doc, "cdp " + args[0]);
    });
};

/* Run cdp with bytes on stdout, resolve with one Uint8Array. */
CDP.binary = function (args) {
    return new Promise((resolve, reject) => {
        const chunks = [];
        let total = 0;
        const proc = cockpit.spawn(CDP.argv(args), spawnOptions({ binary: true }));
        proc.stream(data => {
            chunks.push(data);
            total += data.length;
        });
        proc.then(() => {
            const all = new Uint8Array(total);
            let off = 0;
            for (const c of chunks) {
                all.set(c, off);
                off += c.length;
            }
            resolve(all);
        }).catch(ex => reject(new Error(CDP.errorText(ex))));
    });
};

/* A long command with a --json --progress stream (JSON Lines).  onLine is
 * called with every parsed document; the promise resolves with the
 * result document (the last one without "event").
 *
 * cancel() sends the process SIGTERM and lets it finish: cdp then stops,
 * removes what it made and says "cancelled" in its one line, which the
 * promise rejects with (error.cancelled set).  The signal is sent by
 * pid (a shell prints it, then execs cdp) rather than by closing the
 * channel, because Cockpit's bridge closes the process's pipes before it
 * sends SIGTERM, and a process that then writes its last line dies of
 * SIGPIPE before it has cleaned up.  Closing the channel remains the way
 * out when the page goes away. */
CDP.stream = function (args, onLine) {
    let cancelled = false;
    let pid = null;
    let proc;
    const promise = new Promise((resolve, reject) => {
        let pending = "";
        let acc = ""; /* a document over several lines (cli_print_json) */
        let result = null;
        function emit(doc) {
            if (doc.event === undefined)
                result = doc;
            onLine(doc);
        }
        function take(line) {
            if (pid === null && /^\d+$/.test(line.trim())) {
                pid = parseInt(line, 10);
                return;
            }
            acc = acc === "" ? line : acc + "\n" + line;
            try {
                const doc = JSON.parse(acc);
                acc = "";
                emit(doc);
            } catch (e) {
                /* not complete yet */
            }
        }
        const argv = ["/bin/sh", "-c", 'echo "$$" && exec "$@"', "cdp"].concat(CDP.argv(args));
        proc = cockpit.spawn(argv, spawnOptions());
        proc.stream(data => {
            pending += data;
            let nl;
            while ((nl = pending.indexOf("\n")) >= 0) {
                const line = pending.slice(0, nl);
                pending = pending.slice(nl + 1);
                if (line.trim() !== "")
                    take(line);
            }
        });
        proc.then(() => {
            if (pending.trim() !== "")
                take(pending);
            if (acc.trim() !== "")
                onLine({ event: "text", text: acc.trim() });
            resolve(result);
        }).catch(ex => {
            const e = new Error(CDP.errorText(ex));
            e.cancelled = cancelled;
            reject(e);
        });
    });
    const job = {
        promise,
        get cancelled() {
            return cancelled;
        },
        /* Resolves once the signal is sent. */
        cancel: () => {
            cancelled = true;
            if (pid === null) {
                proc.close("terminated");
                return Promise.resolve();
            }
            return new Promise(resolve => {
                cockpit.spawn(["kill", "-TERM", String(pid)], spawnOptions())
                        .catch(ex => console.warn("kill " + pid + ": " + CDP.errorText(ex)))
                        .finally(resolve);
            });
        },
        /* Leaving the page: the bridge ends the process. */
        close: () => proc.close("terminated"),
    };
    return job;
};

/* ---- DOM ---------------------------------------------------------------- */

/* el("div", {class: "x", onclick: f}, child, "text", [more]) */
CDP.el = function (tag, attrs) {
    const node = document.createElement(tag);
    for (const k in attrs || {}) {
        const v = attrs[k];
        if (v === undefined || v === null || v === false)
            continue;
        if (k.startsWith("on"))
            node.addEventListener(k.slice(2), v);
        else if (k === "class")
            node.className = v;
        else if (k === "text")
            node.textContent = v;
        else if (k === "value")
            node.value = v;
        else
            node.setAttribute(k, v === true ? "" : v);
    }
    CDP.append(node, Array.prototype.slice.call(arguments, 2));
    return node;
};

CDP.append = function (node, children) {
    for (const c of children) {
        if (c === undefined || c === null || c === false)
            continue;
        if (Array.isArray(c))
            CDP.append(node, c);
        else if (c instanceof Node)
            node.appendChild(c);
        else
            node.appendChild(document.createTextNode(String(c)));
    }
    return node;
};

CDP.clear = function (node) {
    while (node.firstChild)
        node.removeChild(node.firstChild);
    return node;
};

CDP.alert = function (kind, title, body) {
    return CDP.el("div", { class: "alert " + kind, role: "alert" },
                  CDP.el("span", { class: "alert-icon" }),
                  CDP.el("div", { class: "alert-body" },
                         CDP.el("span", { class: "alert-title" }, title),
                         body ? [" ", body] : null));
};

CDP.button = function (kind, text, onclick, attrs) {
    return CDP.el("button", Object.assign({ class: "btn btn-" + kind, type: "button", onclick }, attrs || {}), text);
};

CDP.label = function (color, text) {
    return CDP.el("span", { class: "label " + color }, text);
};

/* A modal dialog: returns {close, body, footer, setError}. */
CDP.modal = function (title, id) {
    const err = CDP.el("div", { class: "modal-error" });
    const body = CDP.el("div", { class: "modal-body" });
    const footer = CDP.el("div", { class: "modal-footer" });
    const closeBtn = CDP.button("plain", "\u2715", () => close(), { "aria-label": "Close" });
    const box = CDP.el("div", { class: "modal", role: "dialog", "aria-modal": "true", id },
                       CDP.el("div", { class: "modal-header" }, CDP.el("h1", {}, title), closeBtn),
                       err, body, footer);
    const backdrop = CDP.el("div", { class: "backdrop" }, box);
    document.body.appendChild(backdrop);
    const dlg = {
        body,
        footer,
        onclose: null,
        closeButton: closeBtn,
        close: () => close(),
        setError: (msg) => {
            CDP.clear(err);
            if (msg)
                err.appendChild(CDP.alert("danger", "Failed:", msg));
        },
    };
    function close() {
        if (dlg.onclose && dlg.onclose() === false)
            return;
        backdrop.remove();
    }
    return dlg;
};

/* ---- Formatting --------------------------------------------------------- */

/* RFC 3339 with nanoseconds to milliseconds since the epoch. */
CDP.parseTime = function (s) {
    if (typeof s !== "string")
        return NaN;
    const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(s);
    if (!m)
        return NaN;
    const frac = m[2] ? "." + (m[2] + "00").slice(0, 3) : "";
    return Date.parse(m[1] + frac + m[3]);
};

/* A time the user typed, in any form --at takes that a page can place
 * on the timeline (RFC 3339, "YYYY-MM-DD HH:MM:SS" local, @EPOCH, -90s,
 * now); NaN for the rest (bookmark labels), which cdp resolves. */
CDP.placeTime = function (s) {
    s = s.trim();
    let m;
    if (s === "now")
        return Date.now();
    if ((m = /^@(\d+(?:\.\d+)?)$/.exec(s)))
        return parseFloat(m[1]) * 1000;
    if ((m = /^-(\d+)(s|m|h|d)$/.exec(s)))
        return Date.now() - parseInt(m[1], 10) * { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[m[2]];
    const t = CDP.parseTime(s);
    if (!isNaN(t))
        return t;
    if ((m = /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(\.\d+)?$/.exec(s)))
        return new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6],
                        m[7] ? Math.floor(parseFloat(m[7]) * 1000) : 0).getTime();
    return NaN;
};

function pad(n, w) {
    return String(n).padStart(w || 2, "0");
}

/* Local time, to the second (and milliseconds when asked). */
CDP.localTime = function (ms, withMs) {
    if (ms === null || ms === undefined || isNaN(ms))
        return "\u2014";
    const d = new Date(ms);
    let s = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
            pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
    if (withMs)
        s += "." + pad(d.getMilliseconds(), 3);
    return s;
};

/* A time in a table: the time of day for today, else the date too;
 * the full time in its tooltip. */
CDP.shortTime = function (rfc) {
    if (!rfc)
        return "\u2014";
    const ms = CDP.parseTime(rfc);
    const d = new Date(ms);
    const today = new Date();
    const text = d.toDateString() === today.toDateString()
        ? CDP.localTime(ms).slice(11) : CDP.localTime(ms).slice(0, 16);
    return CDP.el("span", { title: CDP.localTime(ms, true) + " (" + rfc + ")" }, text);
};

CDP.timeText = function (rfc) {
    return rfc ? CDP.localTime(CDP.parseTime(rfc)) : "\u2014";
};

CDP.size = function (n) {
    if (n === null || n === undefined)
        return "\u2014";
    const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let i = 0;
    let v = n;
    while (v >= 1024 && i < units.length - 1) {
        v /= 1024;
        i++;
    }
    return (i === 0 ? String(v) : v.toFixed(v < 10 ? 1 : 0)) + " " + units[i];
};

CDP.duration = function (s) {
    if (s === null || s === undefined)
        return "\u2014";
    if (s < 1)
        return (s * 1000).toFixed(s < 0.01 ? 1 : 0) + " ms";
    if (s < 90)
        return s.toFixed(s < 10 ? 1 : 0) + " s";
    if (s < 5400)
        return Math.round(s / 60) + " min";
    if (s < 172800)
        return (s / 3600).toFixed(1) + " h";
    return (s / 86400).toFixed(1) + " d";
};

/* A policy duration as cdp writes it (90s, 5m, 2h, 7d). */
CDP.policy = function (s) {
    if (s === null || s === undefined)
        return "\u2014";
    if (s === 0)
        return "0";
    if (s % 86400 === 0)
        return (s / 86400) + "d";
    if (s % 3600 === 0)
        return (s / 3600) + "h";
    if (s % 60 === 0)
        return (s / 60) + "m";
    return s + "s";
};

/* Save bytes as a file through the browser's download. */
CDP.download = function (bytes, name, type) {
    const blob = new Blob([bytes], { type: type || "application/octet-stream" });
    const url = URL.createObjectURL(blob);
    const a = CDP.el("a", { href: url, download: name, hidden: true });
    document.body.appendChild(a);
    a.click();
    a.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 60000);
};
