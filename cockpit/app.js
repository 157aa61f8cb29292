/* cdp's Cockpit page: the views by Cockpit's location (the part of the
 * URL after /cdp#): / the overview, /task/NAME a task's history,
 * /task/NAME/files the files of its chosen point; options disk, at, path. */
"use strict";

(function () {
    const root = document.getElementById("app");
    let current = null;
    let shown = null;

    function nav(path, options, replace) {
        if (replace)
            cockpit.location.replace(path, options || {});
        else
            cockpit.location.go(path, options || {});
    }

    function route() {
        const path = cockpit.location.path;
        const options = cockpit.location.options;
        const key = path.length >= 2 && path[0] === "task" ? "task/" + path[1] : "overview";
        if (key === shown)
            return;
        if (current)
            current.stop();
        shown = key;
        if (key === "overview")
            current = CDP.Overview(root, name => nav(["task", name]));
        else
            current = CDP.TaskView(root, path[1], path[2] === "files" ? "files" : "history", options, nav);
    }

    cockpit.transport.wait(() => {
        cockpit.addEventListener("locationchanged", route);
        route();
    });
})();
