/* cdp's Cockpit page: one task.  Its disks' state, the timeline of a
 * disk's history, the chosen recovery point (by a click on the timeline
 * or a typed time) and what can be done with it: lock, unlock, bookmark
 * now, export over NBD (showing the URI, until stopped), restore to an
 * image and recover the VM (as a clone or in place), each with the
 * progress of its --json --progress stream and a Cancel button; and the
 * files of the point (files.js). */
"use strict";

(function () {
    const { el, clear, label, button, alert } = CDP;
    const REFRESH_MS = 10000;

    CDP.TaskView = function (root, name, tab, options, nav) {
        const self = {};
        let task = null;
        let disk = options.disk || null;
        let point = null; /* {time, ms, kind, locked, label} */
        let timeline = null;
        let files = null;
        let timer = null;
        let stopped = false;
        const exports = [];

        const msg = el("div", { class: "alerts", id: "task-messages" });
        const diskSel = el("select", { id: "disk-select" });
        const summary = el("div", { id: "task-summary" });
        const tabs = el("div", { class: "tabs", role: "tablist" },
                        el("button", { class: "tab", id: "tab-history", role: "tab", onclick: () => show("history") }, "History"),
                        el("button", { class: "tab", id: "tab-files", role: "tab", onclick: () => show("files") }, "Files"));
        const historyPane = el("div", { class: "page-body", id: "pane-history" });
        const filesPane = el("div", { class: "page-body", id: "pane-files" });

        clear(root);
        root.appendChild(el("div", { class: "page-header" },
                            el("div", {},
                               el("div", { class: "breadcrumb" },
                                  el("a", { id: "to-overview", onclick: () => nav([]) }, "Data protection"),
                                  el("span", {}, name)),
                               el("h1", { id: "task-name" }, name)),
                            el("span", { class: "spacer" }),
                            el("label", { for: "disk-select" }, "Disk "), diskSel));
        root.appendChild(tabs);
        root.appendChild(historyPane);
        root.appendChild(filesPane);

        /* ---- messages ---------------------------------------------------- */

        function say(kind, text) {
            clear(msg);
            if (kind)
                msg.appendChild(alert(kind, kind === "danger" ? "Error:" : kind === "success" ? "Done:" : "Note:", text));
        }

        /* ---- history pane ------------------------------------------------- */

        const tlCard = el("div", { class: "card-body" });
        const pointTime = el("div", { class: "point-time", id: "point-time" }, "none chosen");
        const pointInfo = el("div", { id: "point-info" });
        const goInput = el("input", { type: "text", id: "goto-time", placeholder: "2026-11-22T10:15:03Z, -5m, @EPOCH, a bookmark" });
        const lockBtn = button("secondary", "Lock", () => lockPoint(true), { id: "lock-point", disabled: true });
        const unlockBtn = button("secondary", "Unlock", () => lockPoint(false), { id: "unlock-point", disabled: true });
        const filesBtn = button("secondary", "Browse files", () => show("files"), { id: "browse-point", disabled: true });
        const exportBtn = button("secondary", "Export\u2026", () => exportDialog(), { id: "export-point", disabled: true });
        const restoreBtn = button("secondary", "Restore\u2026", () => restoreDialog(), { id: "restore-point", disabled: true });
        const recoverBtn = button("primary", "Recover VM\u2026", () => recoverDialog(), { id: "recover-point", disabled: true });
        const markLabel = el("input", { type: "text", id: "mark-label", placeholder: "label (optional)" });
        const listBody = el("tbody", { id: "marks-list" });
        const exportsCard = el("div", { class: "card", id: "exports", hidden: true });

        historyPane.appendChild(msg);
        historyPane.appendChild(el("div", { class: "card" },
                                   el("div", { class: "card-header" }, summary)));
        historyPane.appendChild(el("div", { class: "card" },
                                   el("div", { class: "card-header" },
                                      el("h2", {}, "History"), el("span", { class: "spacer" }),
                                      markLabel, button("secondary", "Bookmark now", () => mark(), { id: "mark-now" })),
                                   tlCard));
        historyPane.appendChild(el("div", { class: "card", id: "point-card" },
                                   el("div", { class: "card-header" }, el("h2", {}, "Recovery point"), el("span", { class: "spacer" }),
                                      el("form", { class: "btn-group", onsubmit: ev => { ev.preventDefault(); goTo() } },
                                         goInput, button("secondary", "Go", null, { type: "submit", id: "goto-button" }))),
                                   el("div", { class: "card-body point-panel" },
                                      el("dl", { class: "dl" },
                                         el("dt", {}, "Point"), el("dd", {}, pointTime),
                                         el("dt", {}, "Local time"), el("dd", { id: "point-local" }, pointInfo))),
                                   el("div", { class: "card-footer" }, lockBtn, unlockBtn, filesBtn, exportBtn, restoreBtn, recoverBtn)));
        historyPane.appendChild(exportsCard);
        historyPane.appendChild(el("div", { class: "card" },
                                   el("div", { class: "card-header" }, el("h2", {}, "Base points, bookmarks and locks in view")),
                                   el("div", { class: "card-body flush" },
                                      el("table", { class: "table" },
                                         el("thead", {}, el("tr", {}, ["Time", "Kind", "Label", ""].map(h => el("th", {}, h)))),
                                         listBody))));

        function renderList(d) {
            clear(listBody);
            const rows = [];
            const locked = {};
            for (const l of d.locks || [])
                locked[l.time] = l;
            for (const p of d.points || [])
                rows.push(p);
            for (const l of d.locks || [])
                if (!(d.points || []).some(p => p.time === l.time))
                    rows.push({ time: l.time, kind: "lock", locked: true, point: l.point });
            rows.sort((a, b) => CDP.parseTime(b.time) - CDP.parseTime(a.time));
            if (rows.length === 0)
                listBody.appendChild(el("tr", {}, el("td", { colspan: 4, class: "empty" }, "None in view.")));
            for (const p of rows.slice(0, 200))
                listBody.appendChild(el("tr", {
                    class: "clickable" + (point && point.time === p.time ? " selected" : ""),
                    "data-time": p.time,
                    onclick: () => choose(Object.assign({ ms: CDP.parseTime(p.time) }, p)),
                },
                el("td", {}, CDP.timeText(p.time), el("div", { class: "sub mono" }, p.time)),
                el("td", {}, label(p.kind === "base" ? "purple" : p.kind === "bookmark" ? "blue" : "orange", p.kind),
                   p.locked || locked[p.time] ? [" ", label("orange", "locked")] : null,
                   p.point === false ? [" ", label("red", "history lost")] : null),
                el("td", {}, p.label || ""),
                el("td", { class: "num" }, button("link", "Choose", null))));
        }

        /* ---- the chosen point --------------------------------------------- */

        function choose(p) {
            point = p;
            pointTime.textContent = p.time;
            clear(pointInfo);
            CDP.append(pointInfo, [
                isNaN(p.ms) ? "resolved by cdp" : CDP.localTime(p.ms, true), " ",
                p.kind ? label(p.kind === "base" ? "purple" : p.kind === "bookmark" ? "blue" : "grey", p.kind) : null,
                p.label ? [" ", label("blue", p.label)] : null,
                p.locked ? [" ", label("orange", "locked")] : null,
            ]);
            pointTime.setAttribute("data-locked", p.locked ? "true" : "false");
            lockBtn.disabled = !!p.locked;
            unlockBtn.disabled = p.locked === false;
            for (const b of [filesBtn, exportBtn, restoreBtn, recoverBtn])
                b.disabled = false;
            recoverBtn.disabled = task && task.mode === "manual";
            if (recoverBtn.disabled)
                recoverBtn.title = "a manual-mode task has no VM to recover";
            if (timeline)
                timeline.select(p.time, p.ms);
            if (timeline && timeline.doc())
                renderList(timeline.doc());
            if (files)
                files.setPoint(p.time);
            say(null);
        }

        function goTo() {
            const t = goInput.value.trim();
            if (t === "")
                return;
            /* Ask cdp whether the time is a point (it resolves labels and
             * relative times as --at does): the list at exactly T. */
            const ms = CDP.placeTime(t);
            choose({ time: t, ms, kind: null, locked: undefined });
        }

        /* Locks are read back from cdp after each change. */
        function lockPoint(lock) {
            const args = [lock ? "lock" : "unlock", name, "--at", point.time, "--json"];
            lockBtn.disabled = unlockBtn.disabled = true;
            CDP.json(args).then(d => {
                /* cdp names the point it resolved (a label or "-5m" typed). */
                if (d.time && d.time !== point.time) {
                    point.time = d.time;
                    point.ms = CDP.parseTime(d.time);
                }
                say("success", (lock ? "locked " : "unlocked ") + point.time);
                point.locked = d.locked === undefined ? lock : d.locked;
                choose(point);
                timeline.reload();
            }).catch(e => {
                say("danger", "cdp " + args[0] + ": " + e.message);
                choose(point);
            });
        }

        function mark() {
            const args = ["mark", name];
            if (markLabel.value.trim() !== "")
                args.push("--label", markLabel.value.trim());
            args.push("--json");
            CDP.json(args).then(d => {
                say("success", "bookmark" + (d.label ? " \u201c" + d.label + "\u201d" : "") + (d.time ? " at " + d.time : ""));
                markLabel.value = "";
                timeline.reload();
            }).catch(e => say("danger", "cdp mark: " + e.message));
        }

        /* ---- long actions ------------------------------------------------- */

        /* A progress display fed by a --json --progress stream. */
        function progressView() {
            const text = el("span", { class: "progress-phase" }, "Starting\u2026");
            const pct = el("span", { class: "progress-pct" });
            const bar = el("div");
            const node = el("div", { class: "progress indeterminate", id: "job-progress" },
                            text, pct, el("div", { class: "progress-bar" }, bar));
            return {
                node,
                line: (d) => {
                    if (d.event === "progress") {
                        const unit = d.unit === "bytes" ? CDP.size : (n) => String(n) + " " + (d.unit || "");
                        text.textContent = d.phase + ": " + unit(d.done) + (d.total !== null && d.total !== undefined ? " of " + unit(d.total) : "");
                        if (d.total) {
                            node.classList.remove("indeterminate");
                            const p = Math.min(100, 100 * d.done / d.total);
                            bar.style.width = p.toFixed(1) + "%";
                            pct.textContent = p.toFixed(0) + "%";
                        } else {
                            node.classList.add("indeterminate");
                            pct.textContent = "";
                        }
                    } else if (d.event === "text") {
                        text.textContent = d.text;
                    }
                },
                finish: (ok, what) => {
                    node.classList.remove("indeterminate");
                    bar.style.width = ok ? "100%" : bar.style.width;
                    text.textContent = what;
                    node.setAttribute("data-state", ok ? "done" : "failed");
                },
            };
        }

        /* Run a long command in dlg: Start becomes Cancel while it runs. */
        function runJob(dlg, startBtn, argsFn, describe) {
            startBtn.addEventListener("click", () => {
                const args = argsFn();
                if (!args)
                    return;
                dlg.setError(null);
                const pv = progressView();
                dlg.body.appendChild(pv.node);
                startBtn.hidden = true;
                const job = CDP.stream(args, pv.line);
                const cancel = button("danger", "Cancel", () => {
                    cancel.disabled = true;
                    cancel.textContent = "Cancelling\u2026";
                    job.cancel().then(() => cancel.setAttribute("data-signalled", "true"));
                }, { id: "job-cancel" });
                dlg.footer.insertBefore(cancel, dlg.footer.firstChild);
                dlg.onclose = () => {
                    if (!cancel.disabled && !cancel.hidden) {
                        dlg.setError("still running: cancel it first");
                        return false;
                    }
                    return true;
                };
                job.promise.then(result => {
                    cancel.hidden = true;
                    pv.finish(true, describe(result || {}));
                    const done = el("div", { id: "job-result" }, alert("success", "Done:", describe(result || {})));
                    dlg.body.appendChild(done);
                    timeline.reload();
                }).catch(e => {
                    cancel.hidden = true;
                    pv.finish(false, e.cancelled ? "Cancelled" : "Failed");
                    if (e.cancelled)
                        dlg.body.appendChild(el("div", { id: "job-result" }, alert("warning", "Cancelled:", e.message)));
                    else
                        dlg.setError("cdp " + args[0] + ": " + e.message);
                });
            });
        }

        function pointLine() {
            return el("p", {}, "Point ", el("code", {}, point.time), " of disk ", el("code", {}, disk));
        }

        function restoreDialog() {
            const dlg = CDP.modal("Restore to an image", "restore-dialog");
            const out = el("input", { type: "text", id: "restore-output", value: "/var/lib/cdp-restore/" + name + "-" + disk + ".qcow2" });
            const fmt = el("select", { id: "restore-format" },
                           el("option", { value: "" }, "from the file name (.qcow2 or raw)"),
                           el("option", { value: "qcow2" }, "qcow2"), el("option", { value: "raw" }, "raw"));
            dlg.body.appendChild(pointLine());
            dlg.body.appendChild(el("div", { class: "form" },
                                    el("label", { for: "restore-output" }, "Output file"), out,
                                    el("div", { class: "help" }, "a standalone image; it appears only once complete"),
                                    el("label", { for: "restore-format" }, "Format"), fmt));
            const start = button("primary", "Restore", null, { id: "restore-start" });
            dlg.footer.appendChild(start);
            dlg.footer.appendChild(button("link", "Close", () => dlg.close(), { id: "restore-close" }));
            runJob(dlg, start, () => {
                if (out.value.trim() === "") {
                    dlg.setError("name the output file");
                    return null;
                }
                const a = ["restore", name, "--at", point.time, "--disk", disk, "--output", out.value.trim()];
                if (fmt.value)
                    a.push("--format", fmt.value);
                return a.concat(["--json", "--progress"]);
            }, r => "restored to " + (r.output || out.value.trim()) +
                (r.format ? " (" + r.format + ", " + CDP.size(r.size) + ", " + CDP.size(r.bytes_written) +
                    " written in " + CDP.duration(r.seconds) + ")" : ""));
        }

        function recoverDialog() {
            const dlg = CDP.modal("Recover the VM", "recover-dialog");
            const many = task.disks && task.disks.length > 1;
            const to = el("input", { type: "text", id: "recover-to",
                value: "/var/lib/libvirt/images/" + name + "-recovered" + (many ? "/" : ".qcow2") });
            const asName = el("input", { type: "text", id: "recover-as", value: name + "-recovered" });
            const clone = el("input", { type: "radio", name: "recover-mode", id: "recover-mode-as", checked: true });
            const inPlace = el("input", { type: "radio", name: "recover-mode", id: "recover-mode-in-place" });
            dlg.body.appendChild(pointLine());
            dlg.body.appendChild(el("div", { class: "form" },
                                    el("label", {}, "Recover"),
                                    el("div", { class: "radio-row" },
                                       el("label", {}, clone, " as a new VM (clone)"),
                                       el("label", {}, inPlace, " in place of the VM")),
                                    el("label", { for: "recover-as" }, "New domain"), asName,
                                    el("label", { for: "recover-to" }, "Data moves to"), to,
                                    el("div", { class: "help" }, "the VM runs from the point at once while its data moves here")));
            const sync = () => { asName.disabled = inPlace.checked };
            clone.addEventListener("change", sync);
            inPlace.addEventListener("change", sync);
            const start = button("primary", "Recover", null, { id: "recover-start" });
            dlg.footer.appendChild(start);
            dlg.footer.appendChild(button("link", "Close", () => dlg.close()));
            runJob(dlg, start, () => {
                /* Every disk of the VM: PATH is then a directory. */
                const a = ["recover", name, "--at", point.time, "--to", to.value.trim()];
                if (inPlace.checked)
                    a.push("--in-place");
                else
                    a.push("--as", asName.value.trim());
                return a.concat(["--json", "--progress"]);
            }, r => "recovered" + (r.domain ? ": " + r.domain : "") +
                (r.ready_s !== null && r.ready_s !== undefined ? ", running after " + CDP.duration(r.ready_s) : "") +
                (r.stream_s !== null && r.stream_s !== undefined ? ", data home after " + CDP.duration(r.stream_s) : "") +
                (r.disks ? "; runs on " + r.disks.map(x => x.overlay).join(", ") : ""));
        }

        function exportDialog() {
            const dlg = CDP.modal("Export over NBD", "export-dialog");
            const listen = el("input", { type: "text", id: "export-listen", value: "unix:/run/cdp-export-" + name + ".sock" });
            const tls = el("select", { id: "export-tls" },
                           el("option", { value: "" }, "as the listener needs (unix: none)"),
                           el("option", { value: "--no-tls" }, "plain TCP (--no-tls)"),
                           el("option", { value: "--tls-creds" }, "X.509 (--tls-creds DIR)"),
                           el("option", { value: "--tls-psk" }, "PSK (--tls-psk FILE)"));
            const tlsArg = el("input", { type: "text", id: "export-tls-arg", placeholder: "DIR or FILE" });
            const writable = el("input", { type: "checkbox", id: "export-writable" });
            dlg.body.appendChild(pointLine());
            dlg.body.appendChild(el("div", { class: "form" },
                                    el("label", { for: "export-listen" }, "Listen"), listen,
                                    el("div", { class: "help" }, "unix:PATH or tcp:HOST:PORT"),
                                    el("label", { for: "export-tls" }, "TLS"), el("div", { class: "btn-group" }, tls, tlsArg),
                                    el("label", { for: "export-writable" }, "Writable"),
                                    el("label", {}, writable, " writes go to a throw-away overlay")));
            const start = button("primary", "Export", () => {
                const a = ["export", name, "--at", point.time, "--disk", disk, "--listen", listen.value.trim()];
                if (tls.value === "--no-tls")
                    a.push("--no-tls");
                else if (tls.value)
                    a.push(tls.value, tlsArg.value.trim());
                if (writable.checked)
                    a.push("--writable");
                a.push("--json");
                dlg.close();
                startExport(a);
            }, { id: "export-start" });
            dlg.footer.appendChild(start);
            dlg.footer.appendChild(button("link", "Cancel", () => dlg.close()));
        }

        /* An export runs until stopped; its card shows the URI it printed. */
        function startExport(args) {
            const uri = el("code", { class: "export-uri" }, "starting\u2026");
            const state = el("span", {}, label("blue", "starting"));
            const row = el("tr", { class: "export-row" });
            const stop = button("danger", "Stop", () => {
                stop.disabled = true;
                job.cancel();
            }, { class: "btn btn-danger export-stop" });
            CDP.append(row, [el("td", {}, el("code", {}, args[3])), el("td", {}, uri), el("td", {}, state), el("td", { class: "num" }, stop)]);
            const job = CDP.stream(args, d => {
                if (d.uri) {
                    uri.textContent = d.uri;
                    if (d.pid)
                        row.setAttribute("data-pid", d.pid);
                    clear(state).appendChild(label("green", "serving"));
                }
            });
            exports.push(job);
            renderExports(row);
            job.promise.then(() => {
                clear(state).appendChild(label("grey", job.cancelled ? "stopped" : "ended"));
                stop.hidden = true;
            }).catch(e => {
                stop.hidden = true;
                clear(state).appendChild(label("red", "failed"));
                say("danger", "cdp export: " + e.message);
            });
        }

        function renderExports(row) {
            if (exportsCard.hidden) {
                exportsCard.hidden = false;
                exportsCard.appendChild(el("div", { class: "card-header" }, el("h2", {}, "Exports")));
                exportsCard.appendChild(el("div", { class: "card-body flush" },
                                           el("table", { class: "table" },
                                              el("thead", {}, el("tr", {}, ["Point", "NBD URI", "State", ""].map(h => el("th", {}, h)))),
                                              el("tbody", { id: "exports-list" }))));
            }
            exportsCard.querySelector("#exports-list").appendChild(row);
        }

        /* ---- summary and tabs --------------------------------------------- */

        function renderSummary(st) {
            clear(summary);
            const d = (st.disks || []).find(x => x.name === disk) || {};
            const rows = [
                ["Mode", task.mode + (task.domain ? " (" + task.domain + ")" : "")],
                ["State", el("span", { id: "disk-state" }, label(d.state === "protected" ? "green" : d.state === "not protected" ? "red" : "blue", d.state || "unknown"),
                              d.reason ? " " + d.reason : "")],
                ["RPO lag", CDP.duration(d.rpo_lag_s)],
                ["Durability lag", d.durability_lag_s === null && d.durability_lag_reason
                    ? d.durability_lag_reason : CDP.duration(d.durability_lag_s)],
                ["Newest base point", CDP.timeText(d.base_point)],
                ["Journal", CDP.size(st.journal_bytes) + ", " + CDP.timeText(st.journal_from) + " \u2013 " + CDP.timeText(st.journal_to)],
                ["Integrity", (st.integrity || {}).state || "unknown"],
            ];
            summary.appendChild(el("div", { class: "stats" },
                                   rows.map(r => el("div", { class: "stat" },
                                                    el("div", { class: "stat-name" }, r[0]),
                                                    el("div", { class: "stat-value" }, r[1])))));
        }

        function refreshStatus() {
            return CDP.json(["status", name, "--json"]).then(s => {
                if (stopped)
                    return;
                const st = (s.tasks || []).find(t => t.name === name);
                if (st && task)
                    renderSummary(st);
            }).catch(e => say("danger", "cdp status: " + e.message));
        }

        function show(which) {
            if (!task)
                return;
            tab = which;
            document.getElementById("tab-history").classList.toggle("current", which === "history");
            document.getElementById("tab-files").classList.toggle("current", which === "files");
            historyPane.hidden = which !== "history";
            filesPane.hidden = which !== "files";
            if (which === "files" && !files)
                files = CDP.Files(filesPane, name, disk, point ? point.time : null, options.path);
            else if (which === "files" && point)
                files.setPoint(point.time);
            const o = { disk };
            if (point)
                o.at = point.time;
            nav(["task", name].concat(which === "files" ? ["files"] : []), o, true);
        }

        function startDisk() {
            clear(tlCard);
            timeline = CDP.Timeline(tlCard, {
                task: name,
                disk,
                onSelect: choose,
                onMessage: say,
                onData: renderList,
            });
            timeline.start();
            if (files) {
                files.stop();
                files = null;
                clear(filesPane);
            }
        }

        CDP.json(["task", "show", name, "--json"]).then(t => {
            if (stopped)
                return;
            task = t;
            const names = (t.disks || []).map(d => d.name);
            if (!disk || names.indexOf(disk) < 0)
                disk = names[0];
            for (const n of names)
                diskSel.appendChild(el("option", { value: n, selected: n === disk }, n));
            diskSel.addEventListener("change", () => {
                disk = diskSel.value;
                point = null;
                startDisk();
                refreshStatus();
            });
            startDisk();
            refreshStatus();
            if (options.at)
                choose({ time: options.at, ms: CDP.placeTime(options.at), kind: null, locked: undefined });
            show(tab === "files" ? "files" : "history");
            timer = window.setInterval(() => {
                refreshStatus();
                if (tab === "history")
                    timeline.reload();
            }, REFRESH_MS);
        }).catch(e => say("danger", "cdp task show: " + e.message));

        self.stop = () => {
            stopped = true;
            window.clearInterval(timer);
            for (const j of exports)
                j.close();
            if (files)
                files.stop();
        };
        return self;
    };
})();
