// Keeps a signed-in page current and confirms what cannot be undone.
//
// The daemon's event stream (/ui/events) says when something changed — a
// key added from the CLI, a call waiting for an answer, new spend — and the
// page redraws its content from the server. It waits while a form is
// being filled in, so nothing typed is lost.
(function () {
  "use strict";

  function editing() {
    var live = document.getElementById("live");
    var a = document.activeElement;
    if (a && live && live.contains(a) && /^(INPUT|SELECT|TEXTAREA)$/.test(a.tagName)) { return true; }
    var fields = live ? live.querySelectorAll("input, textarea") : [];
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.type !== "hidden" && f.type !== "checkbox" && f.value !== f.defaultValue) { return true; }
    }
    return false;
  }

  var waiting = false, fetching = false, again = false;
  function redraw() {
    if (editing()) { waiting = true; document.documentElement.dataset.waiting = "1"; return; }
    if (fetching) { again = true; return; }
    delete document.documentElement.dataset.waiting;
    waiting = false;
    fetching = true;
    fetch(location.pathname + location.search, { credentials: "same-origin", headers: { "X-Byokd-Live": "1" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html || editing()) { waiting = waiting || !!html; return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        [["live"], ["pending-badge"]].forEach(function (id) {
          var now = document.getElementById(id[0]), fresh = doc.getElementById(id[0]);
          if (now && fresh) { now.replaceWith(document.adoptNode(fresh)); }
        });
        wire(document.getElementById("live"));
        document.documentElement.dataset.redrawn = String(Number(document.documentElement.dataset.redrawn || 0) + 1);
      })
      .catch(function () {})
      .then(function () {
        fetching = false;
        if (again) { again = false; redraw(); }
      });
  }

  function wire(root) {
    if (!root) { return; }
    root.querySelectorAll("form[data-confirm]").forEach(function (f) {
      f.addEventListener("submit", function (e) {
        if (!window.confirm(f.dataset.confirm)) { e.preventDefault(); }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    wire(document.getElementById("live"));
    document.querySelectorAll("button[data-copy]").forEach(function (b) {
      b.addEventListener("click", function () {
        var field = document.getElementById(b.dataset.copy);
        var said = b.parentNode.querySelector(".copied");
        navigator.clipboard.writeText(field.value).then(function () {
          if (said) { said.textContent = "Copied."; }
        }, function () {
          field.select();
          if (said) { said.textContent = "Select and copy it with Ctrl+C."; }
        });
      });
    });
    document.addEventListener("focusout", function () { if (waiting) { setTimeout(redraw, 0); } });
    document.addEventListener("input", function () { if (waiting && !editing()) { redraw(); } });
    if (window.EventSource) {
      var es = new EventSource("/ui/events");
      es.addEventListener("changed", redraw);
    }
  });
})();
