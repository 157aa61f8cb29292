/* cdp's Cockpit page: the files of a recovery point.  Directories from
 * `cdp ls --json` (a disk with a partition table has p1, p2... at /),
 * a preview of text (`cdp cat --offset 0 --length N`) and images (the
 * whole file, `cdp cat`), and downloads through a Blob: a file with
 * `cdp cat`, a directory as a tar with `cdp get --tar`. */
"use strict";

(function () {
    const { el, clear, label, button, alert } = CDP;
    const PREVIEW_BYTES = 65536;
    const IMAGE_MAX = 16 << 20;
    const IMAGES = { png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", gif: "image/gif",
        webp: "image/webp", bmp: "image/bmp", ico: "image/x-icon", svg: "image/svg+xml" };

    function join(dir, name) {
        return (dir === "/" ? "" : dir) + "/" + name;
    }

    function imageType(name) {
        const m = /\.([A-Za-z0-9]+)$/.exec(name);
        return m ? IMAGES[m[1].toLowerCase()] : undefined;
    }

    function decodeText(bytes) {
        for (let i = 0; i < Math.min(bytes.length, 8192); i++)
            if (bytes[i] === 0)
                return null;
        return new TextDecoder("utf-8", { fatal: false }).decode(bytes);
    }

    function hexdump(bytes) {
        const lines = [];
        for (let off = 0; off < Math.min(bytes.length, 512); off += 16) {
            const row = Array.from(bytes.slice(off, off + 16));
            lines.push(off.toString(16).padStart(8, "0") + "  " +
                       row.map(b => b.toString(16).padStart(2, "0")).join(" ").padEnd(48) + "  " +
                       row.map(b => (b >= 32 && b < 127 ? String.fromCharCode(b) : ".")).join(""));
        }
        return lines.join("\n");
    }

    CDP.Files = function (root, task, disk, startPoint, startPath) {
        const self = {};
        let point = startPoint;
        let path = startPath || "/";
        let gen = 0;
        let stopped = false;

        const msg = el("div", { class: "alerts", id: "files-messages" });
        const heading = el("h2", { id: "files-heading" });
        const crumbs = el("div", { class: "path", id: "files-path" });
        const body = el("tbody", { id: "files-list" });
        const preview = el("div", { class: "card-body preview", id: "preview" },
                           el("div", { class: "empty" }, "Choose a file to preview it."));
        const previewTitle = el("h2", { id: "preview-title" }, "Preview");
        const previewActions = el("div", { class: "btn-group" });
        const dirDownload = button("secondary", "Download directory (tar)", () => downloadDir(path), { id: "download-dir" });

        clear(root);
        root.appendChild(msg);
        root.appendChild(el("div", { class: "files" },
                            el("div", { class: "card" },
                               el("div", { class: "card-header" }, heading, el("span", { class: "spacer" }), dirDownload),
                               el("div", { class: "card-body flush" }, crumbs,
                                  el("table", { class: "table", id: "files-table" },
                                     el("thead", {}, el("tr", {}, ["Name", "Size", "Mode", "Modified", ""].map(h => el("th", {}, h)))),
                                     body))),
                            el("div", { class: "card" },
                               el("div", { class: "card-header" }, previewTitle, el("span", { class: "spacer" }), previewActions),
                               preview)));

        function say(kind, text) {
            clear(msg);
            if (kind)
                msg.appendChild(alert(kind, kind === "danger" ? "Error:" : "Note:", text));
        }

        function atArgs() {
            return ["--at", point, "--disk", disk];
        }

        function renderCrumbs() {
            clear(crumbs);
            crumbs.appendChild(el("a", { "data-path": "/", onclick: () => go("/") }, "/"));
            const parts = path.split("/").filter(p => p !== "");
            let p = "";
            parts.forEach((name, i) => {
                p += "/" + name;
                const target = p;
                if (i > 0)
                    crumbs.appendChild(el("span", { class: "sep" }, "/"));
                if (i === parts.length - 1)
                    crumbs.appendChild(el("span", {}, name));
                else
                    crumbs.appendChild(el("a", { "data-path": target, onclick: () => go(target) }, name));
            });
        }

        function go(p) {
            path = p;
            load();
        }

        function load() {
            const g = ++gen;
            renderCrumbs();
            if (!point) {
                heading.textContent = "Files";
                clear(body).appendChild(el("tr", {}, el("td", { colspan: 5, class: "empty" },
                                                       "Choose a recovery point on the History tab first.")));
                dirDownload.disabled = true;
                return;
            }
            heading.textContent = "Files at " + point;
            dirDownload.disabled = false;
            clear(body).appendChild(el("tr", {}, el("td", { colspan: 5, class: "empty" }, el("span", { class: "spinner" }), " Reading\u2026")));
            CDP.json(["ls", task].concat(atArgs(), [path, "--json"])).then(d => {
                if (g !== gen || stopped)
                    return;
                say(null);
                clear(body);
                const entries = (d.entries || []).slice().sort((a, b) =>
                    ((b.type === "dir" || b.type === "partition") - (a.type === "dir" || a.type === "partition")) ||
                    (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
                if (path !== "/")
                    body.appendChild(el("tr", { class: "clickable", onclick: () => go(path.replace(/\/[^/]*$/, "") || "/") },
                                        el("td", { colspan: 5 }, el("span", { class: "ficon up" }), "..")));
                if (entries.length === 0)
                    body.appendChild(el("tr", {}, el("td", { colspan: 5, class: "empty" }, "Empty directory.")));
                for (const e of entries)
                    body.appendChild(row(e));
            }).catch(e => {
                if (g !== gen || stopped)
                    return;
                clear(body);
                say("danger", "cdp ls " + path + ": " + e.message);
            });
        }

        function isDir(e) {
            return e.type === "dir" || e.type === "partition" || (path === "/" && /^p\d+$/.test(e.name) && e.type !== "file");
        }

        function row(e) {
            const full = join(path, e.name);
            const dir = isDir(e);
            /* A name that is not UTF-8 cannot be passed back to cdp from
             * here: it is shown (bad bytes as U+FFFD), not opened. */
            if (e.name_hex)
                return el("tr", { class: "file-row", "data-name": e.name, "data-type": e.type,
                    title: "not UTF-8 (bytes " + e.name_hex + "): use cdp on the command line" },
                          el("td", { class: "fname" }, el("span", { class: "ficon " + (dir ? "dir" : e.type) }), e.name,
                             " ", label("orange", "not UTF-8")),
                          el("td", { class: "num" }, dir ? "" : CDP.size(e.size)),
                          el("td", { class: "nowrap" }, el("code", {}, e.mode_string || "")),
                          el("td", { class: "nowrap" }, CDP.timeText(e.mtime)),
                          el("td", {}));
            const open = () => dir ? go(full) : show(e, full);
            const dl = dir
                ? button("link", "tar", (ev) => { ev.stopPropagation(); downloadDir(full) }, { class: "btn btn-link download-tar", title: "Download as a tar" })
                : e.type === "file"
                    ? button("link", "Download", (ev) => { ev.stopPropagation(); downloadFile(full, e.name) }, { class: "btn btn-link download-file" })
                    : null;
            return el("tr", { class: "clickable file-row", "data-name": e.name, "data-type": e.type, onclick: open },
                      el("td", { class: "fname" }, el("span", { class: "ficon " + (dir ? "dir" : e.type) }), e.name,
                         e.target ? el("span", { class: "sub" }, " \u2192 " + e.target) : null,
                         e.fs ? [" ", label("blue", e.fs)] : null),
                      el("td", { class: "num" }, dir ? "" : CDP.size(e.size)),
                      el("td", { class: "nowrap" }, el("code", {}, e.mode_string || "")),
                      el("td", { class: "nowrap" }, CDP.timeText(e.mtime)),
                      el("td", { class: "num" }, dl));
        }

        function show(e, full) {
            const g = ++gen;
            previewTitle.textContent = e.name;
            clear(previewActions);
            if (e.type === "file")
                previewActions.appendChild(button("secondary", "Download", () => downloadFile(full, e.name), { id: "preview-download" }));
            clear(preview).appendChild(el("div", { class: "empty" }, el("span", { class: "spinner" }), " Reading\u2026"));
            if (e.type === "symlink") {
                clear(preview).appendChild(el("p", {}, "Symbolic link to ", el("code", {}, e.target || "?")));
                return;
            }
            if (e.type !== "file") {
                clear(preview).appendChild(el("p", {}, "A " + e.type + "; nothing to preview."));
                return;
            }
            const img = imageType(e.name);
            if (img && e.size <= IMAGE_MAX) {
                CDP.binary(["cat", task].concat(atArgs(), [full])).then(bytes => {
                    if (g !== gen)
                        return;
                    /* Cockpit's content security policy lets images come
                     * from data: URLs (not blob:). */
                    const url = "data:" + img + ";base64," + cockpit.base64_encode(bytes);
                    clear(preview).appendChild(el("img", { src: url, alt: e.name, id: "preview-image" }));
                    preview.appendChild(el("p", { class: "sub" }, CDP.size(bytes.length)));
                }).catch(err => {
                    if (g === gen)
                        clear(preview).appendChild(alert("danger", "cdp cat:", err.message));
                });
                return;
            }
            CDP.binary(["cat", task].concat(atArgs(), ["--offset", "0", "--length", String(PREVIEW_BYTES), full])).then(bytes => {
                if (g !== gen)
                    return;
                const text = decodeText(bytes);
                clear(preview);
                if (text === null) {
                    preview.appendChild(el("p", { class: "sub" }, "Binary file, " + CDP.size(e.size) + "; its first bytes:"));
                    preview.appendChild(el("pre", { id: "preview-hex" }, hexdump(bytes)));
                } else {
                    preview.appendChild(el("pre", { id: "preview-text" }, text));
                    if (e.size > bytes.length)
                        preview.appendChild(el("p", { class: "sub" }, "The first " + CDP.size(bytes.length) + " of " + CDP.size(e.size) + "."));
                }
            }).catch(err => {
                if (g === gen)
                    clear(preview).appendChild(alert("danger", "cdp cat:", err.message));
            });
        }

        function downloadFile(full, name) {
            say("info", "Downloading " + full + "\u2026");
            CDP.binary(["cat", task].concat(atArgs(), [full])).then(bytes => {
                CDP.download(bytes, name);
                say("info", "Downloaded " + full + " (" + CDP.size(bytes.length) + ")");
            }).catch(e => say("danger", "cdp cat " + full + ": " + e.message));
        }

        function downloadDir(full) {
            const name = (full === "/" ? task + "-" + disk : full.replace(/.*\//, "")) + ".tar";
            say("info", "Downloading " + full + " as " + name + "\u2026");
            CDP.binary(["get", task].concat(atArgs(), [full, "--tar", "--output", "-"])).then(bytes => {
                CDP.download(bytes, name, "application/x-tar");
                say("info", "Downloaded " + full + " as " + name + " (" + CDP.size(bytes.length) + ")");
            }).catch(e => say("danger", "cdp get --tar " + full + ": " + e.message));
        }

        self.setPoint = (t) => {
            if (t === point)
                return;
            point = t;
            load();
        };
        self.stop = () => { stopped = true };
        load();
        return self;
    };
})();
