// sufficiency web app: the only script. While a job runs (a comparison, or a
// calibration: the box's data-status names where to ask, else the comparison's
// address), ask for its state every second and show the time; when it ends, reload the
// page to show its results.
"use strict";
(function () {
  var box = document.getElementById("job");
  if (!box || box.dataset.state !== "running") return;
  var id = box.dataset.id;
  var url = box.dataset.status || "/job/" + encodeURIComponent(id) + "/status";
  var elapsed = document.getElementById("elapsed");
  function poll() {
    fetch(url, { cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.state === "running") {
          if (elapsed) {
            var part = s.total ? " (" + s.done + " of " + s.total + " runs)" : "";
            if (s.total && s.done >= s.total) part += ": writing the workbook, report and charts";
            elapsed.textContent = "running: " + Math.round(s.seconds) + " s" + part;
          }
          var bar = document.getElementById("progress");
          if (bar && s.total) { bar.max = s.total; bar.value = s.done; }
          setTimeout(poll, 1000);
        } else {
          window.location.reload();
        }
      })
      .catch(function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, 1000);
})();
