/* cdp's Cockpit page: the overview, every task of the store with its
 * state (cdp status --json, cdp task list --json), refreshed every few
 * seconds, and the dialog that protects a libvirt VM (cdp task create). */
"use strict";

(function () {
    const { el, clear, label, button, alert } = CDP;
    const REFRESH_MS = 5000;

    /* The colour of a disk's state. */
    function stateLabel(state) {
        const color = {
            protected: "green",
            copying: "blue",
            listening: "blue",
            starting: "blue",
            "not protected": "red",
            failed: "red",
        }[state] || "orange";
        return label(color, state);
    }

    /* What deserves the operator's attention in one task's status. */
    function alertsOf(st, task) {
        const out = [];
        if (st.error)
            out.push(["danger", st.error]);
        if (!st.served)
            out.push(["warning", "not served: no running cdp serve holds this task" +
                      (st.served_until ? " (last served " + CDP.timeText(st.served_until) + ")" : "")]);
        for (const d of st.disks || []) {
            if (st.served && d.state !== "protected" && d.state !== "listening")
                out.push([d.state === "copying" || d.state === "listening" ? "info" : "warning",
                    d.name + ": " + d.state + (d.reason ? " (" + d.reason + ")" : "")]);
            if (d.last_gap)
                out.push(["warning", d.name + ": " + d.gaps + " fidelity gap" + (d.gaps === 1 ? "" : "s") +
                          ", last " + CDP.timeText(d.last_gap.time) + ": " + d.last_gap.reason]);
            if (st.rpo_s > 0 && d.durability_lag_s !== null && d.durability_lag_s > st.rpo_s)
                out.push(["warning", d.name + ": durability lag " + CDP.duration(d.durability_lag_s) +
                          " exceeds the RPO of " + CDP.duration(st.rpo_s)]);
        }
        for (const w of st.warnings || [])
            out.push(["warning", w]);
        const integ = st.integrity || {};
        if (integ.state === "damaged")
            for (const dm of integ.damage || [])
                out.push(["danger", "damage: " + dm.message]);
        if (integ.error)
            out.push(["danger", "integrity: " + integ.error]);
        if (st.space_reclaimed_before)
            out.push(["warning", "history before " + CDP.timeText(st.space_reclaimed_before) +
                      " was reclaimed for space"]);
        if (st.recovery && st.recovery.state !== "done")
            out.push([st.recovery.state === "interrupted" ? "danger" : "info",
                "recovery " + st.recovery.state + (st.recovery.error ? ": " + st.recovery.error : "")]);
        if (task && task.mode === "manual" && task.points_checked_against_mirror === false)
            out.push(["info", "manual mode: points are not checked against a mirror's READY"]);
        return out;
    }

    function lastVerify(st) {
        const integ = st.integrity || {};
        const lv = integ.last_verify;
        const state = integ.state || "unknown";
        const color = { clean: "green", damaged: "red", unchecked: "orange" }[state] || "orange";
        return el("div", {}, label(color, state),
                  lv ? el("div", { class: "sub" }, CDP.timeText(lv.time) + (lv.result ? ", " + lv.result : "")) : null);
    }

    function taskRow(st, task, open) {
        const disks = st.disks || [];
        const alerts = alertsOf(st, task);
        const rows = [];
        const first = disks.length > 0 ? disks : [null];
        first.forEach((d, i) => {
            const cells = [];
            if (i === 0) {
                const span = first.length;
                cells.push(el("td", { rowspan: span, "data-label": "Task" },
                              el("a", { class: "task-link", "data-task": st.name, onclick: () => open(st.name) }, st.name),
                              el("div", { class: "sub" },
                                 (task ? task.mode + (task.domain ? " " + task.domain : "") : ""),
                                 st.served ? "" : " \u00b7 not served")));
            }
            cells.push(el("td", { "data-label": "Disk" }, d ? d.name : "\u2014"));
            cells.push(el("td", { class: "disk-state", "data-disk": d ? d.name : "" },
                          d ? stateLabel(d.state) : label("orange", "no disks")));
            cells.push(el("td", { class: "num" },
                          d ? (d.rpo_lag_s === null || d.rpo_lag_s === undefined ? "\u2014" : CDP.duration(d.rpo_lag_s)) : ""));
            cells.push(el("td", { class: "num", title: d && d.durability_lag_reason ? d.durability_lag_reason : null },
                          d ? CDP.duration(d.durability_lag_s) : ""));
            cells.push(el("td", { class: "nowrap" }, d ? CDP.shortTime(d.base_point) : ""));
            if (i === 0) {
                const span = first.length;
                cells.push(el("td", { rowspan: span, class: "nowrap" },
                              st.journal_from ? [CDP.shortTime(st.journal_from), " \u2013 ", CDP.shortTime(st.journal_to)] : "\u2014"));
                cells.push(el("td", { rowspan: span, class: "num" }, CDP.size(st.journal_bytes)));
                cells.push(el("td", { rowspan: span }, "RPO " + (st.rpo_s ? CDP.duration(st.rpo_s) : "0"),
                              task ? el("div", { class: "sub nowrap" }, "base every " + CDP.policy(task.bp_interval_s)) : null,
                              task ? el("div", { class: "sub nowrap" }, "keep " + CDP.policy(task.journal_retention_s) + " / " +
                                        CDP.policy(task.bp_retention_s)) : null));
                cells.push(el("td", { rowspan: span }, lastVerify(st)));
            }
            rows.push(el("tr", { class: "task-row", "data-task": st.name }, cells));
        });
        if (alerts.length > 0)
            rows.push(el("tr", { class: "task-alerts", "data-task": st.name },
                         el("td", { colspan: 10 },
                            el("div", { class: "alerts" },
                               alerts.map(a => alert(a[0], a[0] === "danger" ? "Error:" : a[0] === "warning" ? "Warning:" : "Note:", a[1]))))));
        return rows;
    }

    /* The overview view; render() into root, stop() when leaving. */
    CDP.Overview = function (root, open) {
        let timer = null;
        let busy = false;
        let stopped = false;
        const body = el("tbody");
        const msg = el("div", { class: "alerts" });
        const updated = el("span", { class: "sub", id: "overview-updated" });

        const table = el("table", { class: "table compact", id: "tasks" },
                         el("thead", {}, el("tr", {},
                                           ["Task", "Disk", "State", "RPO lag", "Durability lag",
                                               "Newest base point", "Journal span", "Journal size", "Policies",
                                               "Last verification"].map(h => el("th", {}, h)))),
                         body);

        clear(root);
        root.appendChild(el("div", { class: "page-header" },
                            el("h1", {}, "Continuous data protection"),
                            el("span", { class: "spacer" }),
                            updated,
                            button("primary", "Protect a VM", () => protectDialog(refresh), { id: "protect-vm" })));
        root.appendChild(el("div", { class: "page-body" }, msg,
                            el("div", { class: "card" },
                               el("div", { class: "card-header" }, el("h2", {}, "Tasks")),
                               el("div", { class: "card-body flush scroll-x" }, table))));

        function refresh() {
            if (busy || stopped)
                return;
            busy = true;
            Promise.all([CDP.json(["status", "--json"]), CDP.json(["task", "list", "--json"])])
                    .then(([status, list]) => {
                        if (stopped)
                            return;
                        clear(msg);
                        const tasks = {};
                        for (const t of list.tasks || [])
                            tasks[t.name] = t;
                        clear(body);
                        const all = status.tasks || [];
                        if (all.length === 0)
                            body.appendChild(el("tr", {}, el("td", { colspan: 10, class: "empty" },
                                                            "No tasks yet: protect a VM to start.")));
                        for (const st of all)
                            CDP.append(body, taskRow(st, tasks[st.name], open));
                        updated.textContent = "Updated " + CDP.localTime(Date.now());
                    })
                    .catch(e => {
                        if (stopped)
                            return;
                        clear(msg);
                        msg.appendChild(alert("danger", "cdp status failed:", e.message));
                    })
                    .finally(() => { busy = false });
        }

        refresh();
        timer = window.setInterval(refresh, REFRESH_MS);
        return {
            stop: () => {
                stopped = true;
                window.clearInterval(timer);
            },
        };
    };

    /* Protect a libvirt VM: pick a domain, name the task, set policies. */
    function protectDialog(done) {
        const dlg = CDP.modal("Protect a VM", "protect-dialog");
        const domain = el("select", { id: "protect-domain" }, el("option", { value: "" }, "Loading\u2026"));
        const name = el("input", { type: "text", id: "protect-name", placeholder: "the domain's name" });
        const bp = el("input", { type: "text", id: "protect-bp-interval", value: "20m" });
        const jr = el("input", { type: "text", id: "protect-journal-retention", value: "24h" });
        const br = el("input", { type: "text", id: "protect-bp-retention", value: "7d" });
        const rpo = el("input", { type: "text", id: "protect-rpo", value: "0" });
        const uri = el("input", { type: "text", id: "protect-connect", placeholder: "qemu:///system" });
        dlg.body.appendChild(el("div", { class: "form" },
                                el("label", { for: "protect-domain" }, "Domain"), domain,
                                el("label", { for: "protect-name" }, "Task name"), name,
                                el("label", { for: "protect-bp-interval" }, "Base point every"), bp,
                                el("label", { for: "protect-journal-retention" }, "Keep every second for"), jr,
                                el("label", { for: "protect-bp-retention" }, "Keep base points for"), br,
                                el("label", { for: "protect-rpo" }, "RPO"), rpo,
                                el("div", { class: "help" }, "0: a write completes only once durable; 1s: durable within a second"),
                                el("label", { for: "protect-connect" }, "libvirt URI"), uri));
        domain.addEventListener("change", () => {
            if (name.value === "" || name.dataset.auto === "1") {
                name.value = domain.value;
                name.dataset.auto = "1";
            }
        });
        name.addEventListener("input", () => { name.dataset.auto = "0" });

        cockpit.spawn(["virsh"].concat(uri.value ? ["-c", uri.value] : []).concat(["list", "--all", "--name"]),
                      { superuser: "try", err: "message" })
                .then(out => {
                    clear(domain);
                    const names = out.split("\n").map(s => s.trim()).filter(s => s !== "");
                    domain.appendChild(el("option", { value: "" }, names.length ? "Choose a domain" : "No domains"));
                    for (const n of names)
                        domain.appendChild(el("option", { value: n }, n));
                })
                .catch(ex => {
                    clear(domain);
                    domain.appendChild(el("option", { value: "" }, "virsh failed"));
                    dlg.setError("virsh list: " + CDP.errorText(ex));
                });

        const create = button("primary", "Protect", () => {
            dlg.setError(null);
            if (!domain.value || !name.value) {
                dlg.setError("choose a domain and a task name");
                return;
            }
            const args = ["task", "create", name.value, "--domain", domain.value,
                "--bp-interval", bp.value, "--journal-retention", jr.value,
                "--bp-retention", br.value, "--rpo", rpo.value];
            if (uri.value)
                args.push("--connect", uri.value);
            args.push("--json");
            create.disabled = true;
            CDP.json(args).then(() => {
                dlg.close();
                done();
            }).catch(e => {
                create.disabled = false;
                dlg.setError(e.message);
            });
        }, { id: "protect-create" });
        dlg.footer.appendChild(create);
        dlg.footer.appendChild(button("link", "Cancel", () => dlg.close()));
    }
})();
