// The dashboard's behaviour: follow the change feed and repaint only the cells that
// changed, show queued actions as they go from queued to running to done, and send the
// action forms with the session's CSRF token. Pages work without it, less lively.
"use strict";
(function () {
  const POLL_MS = 1500;        // while the page is visible
  const SLOW_MS = 10000;       // hidden, or after a failed poll
  const body = document.body;
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const feed = body.dataset.changes;
  const reloadIds = new Set((body.dataset.reloadIds || "").split(",").filter(Boolean));
  const grid = document.getElementById("grid");
  const live = document.getElementById("live");
  const list = document.getElementById("actions");
  let seq = Number(body.dataset.seq || 0);
  let rows = null;

  function say(text) {
    live.hidden = !text;
    live.textContent = text || "";
  }

  function setCell(el, t) {
    el.className = "cell c" + t.colour.slice(1).toLowerCase() + (t.flaky ? " flaky" : "");
    el.dataset.id = t.id;
    el.title = t.state + " " + t.status + (t.flaky ? " (flaky: passed after a failing attempt)" : "");
    let a = el.querySelector("a");
    if (!a) {
      el.textContent = "";
      a = el.appendChild(document.createElement("a"));
    }
    a.href = "/test/" + t.id;
    a.textContent = t.label;
  }

  function clearCell(el) {
    el.className = "";
    delete el.dataset.id;
    el.removeAttribute("title");
    el.textContent = "";
  }

  function rowOf(test, item) {
    if (!rows) {
      rows = new Map();
      for (const tr of grid.tBodies[0].rows) rows.set(tr.dataset.test + "\n" + tr.dataset.item, tr);
    }
    return rows.get(test + "\n" + item);
  }

  // Repaint changed records; true when the page must be built again.
  function applyTests(tests) {
    for (const t of tests) {
      if (reloadIds.has(String(t.id))) return true;
      const cells = document.querySelectorAll('[data-id="' + t.id + '"]');
      if (cells.length) {
        cells.forEach(el => (t.show ? setCell(el, t) : clearCell(el)));
        continue;
      }
      if (!grid || !t.show || !grid.querySelector('[data-run-head="' + t.run_id + '"]')) continue;
      const row = rowOf(t.testname, t.item_path);
      const td = row && row.querySelector('td[data-run="' + t.run_id + '"]');
      if (td) {
        setCell(td, t);
        continue;
      }
      const top = rowOf(t.testname, "");
      if (t.item_path && top && top.dataset.items) continue;   // its items are folded
      return true;                                             // a row the page lacks
    }
    return false;
  }

  function applyRuns(runs) {
    for (const r of runs) {
      const heads = document.querySelectorAll('[data-run-head="' + r.run_id + '"]');
      heads.forEach(el => {
        el.className = "cell c" + r.colour.slice(1).toLowerCase();
        el.textContent = r.label;
      });
      if (grid && !heads.length && r.show && grid.dataset.skip === "0") return true;
      if (grid && heads.length && !r.show) return true;
    }
    return false;
  }

  function describe(a) {
    const what = a.action === "run" ? "rerun " + a.testpatt : a.action + " run";
    return "#" + a.id + " " + what + " (" + a.target + "/" + a.runname + "): " + a.state;
  }

  function showAction(a) {
    if (list) {
      let li = list.querySelector('[data-task="' + a.id + '"]');
      if (!li) {
        li = document.createElement("li");
        li.dataset.task = a.id;
        list.prepend(li);
        while (list.children.length > 5) list.lastChild.remove();
      }
      li.className = "task-" + a.state;
      li.textContent = describe(a);
    }
    const tr = document.querySelector('tr[data-task="' + a.id + '"]');
    if (tr) {
      tr.className = "task-" + a.state;
      tr.querySelector(".state").textContent = a.state;
    }
  }

  async function getJSON(url) {
    const r = await fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}});
    return [r.status, await r.json()];
  }

  async function poll() {
    let wait = document.hidden ? SLOW_MS : POLL_MS;
    try {
      const [status, data] = await getJSON(feed + (feed.includes("?") ? "&" : "?") + "since=" + seq);
      if (status === 401) {
        say("Logged out: log in again to follow changes.");
        return;
      }
      if (status !== 200) {
        say("Refresh failed: " + data.error);
        wait = SLOW_MS;
      } else {
        if (data.reload || applyTests(data.tests) || applyRuns(data.runs)) {
          location.reload();
          return;
        }
        data.actions.forEach(showAction);
        seq = data.seq;
        body.dataset.seq = seq;
        say("");
      }
    } catch (err) {
      say("The server does not answer; trying again.");
      wait = SLOW_MS;
    }
    setTimeout(poll, wait);
  }

  async function recentActions() {
    try {
      const [status, data] = await getJSON("/api/actions?limit=5");
      if (status === 200) data.actions.reverse().forEach(showAction);
    } catch (err) { /* the poll says so */ }
  }

  document.addEventListener("submit", async ev => {
    const form = ev.target;
    if (!form.classList.contains("action")) return;
    ev.preventDefault();
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const r = await fetch("/action", {
        method: "POST", credentials: "same-origin", body: new URLSearchParams(new FormData(form)),
        headers: {"X-CSRF-Token": csrf, Accept: "application/json"}});
      const data = await r.json();
      if (!r.ok) {
        say(data.error);
        button.disabled = false;
        return;
      }
      showAction(data.task);
      say("Queued: " + describe(data.task));
    } catch (err) {
      say("The server does not answer.");
      button.disabled = false;
    }
  });

  if (feed) {
    if (list) recentActions();
    setTimeout(poll, POLL_MS);
  }
})();
