// Live counts of the routes page: the page is complete without this script; it only
// refreshes the numbers and states every few seconds from the console's API.
(function () {
  "use strict";
  var table = document.getElementById("routes");
  if (!table) { return; }
  function refresh() {
    if (document.hidden) { return; } // no polling from a tab nobody looks at
    fetch("/console/api/routes", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        (data.routes || []).forEach(function (rt) {
          var row = table.querySelector('tr[data-route="' + CSS.escape(rt.name) + '"]');
          if (!row) { return; }
          ["pending", "delivered", "quarantined"].forEach(function (k) {
            var cell = row.querySelector('[data-field="' + k + '"]');
            if (cell) { cell.textContent = rt[k]; }
          });
          var st = row.querySelector('[data-field="state"]');
          if (st && st.textContent !== rt.state) { st.textContent = rt.state; st.className = "state " + rt.state; }
          var why = row.querySelector('[data-field="why"]');
          if (why) { why.textContent = rt.why || ""; }
        });
        ["unpublished", "unsettled", "quarantineOpen"].forEach(function (k) {
          var el = document.querySelector('[data-live="' + k + '"]');
          if (el) { el.textContent = data[k]; }
        });
      })
      .catch(function () { /* the next refresh tries again */ });
  }
  setInterval(refresh, 3000);
})();
