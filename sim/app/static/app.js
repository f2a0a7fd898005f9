// sufficiency web app: the only script. While a job runs, ask for its state every
// second and show the time; when it ends, reload the page to show its results.
"use strict";
(function () {
  var box = document.getElementById("job");
  if (!box || box.dataset.state !== "running") return;
  var id = box.dataset.id;
  var elapsed = document.getElementById("elapsed");
  function poll() {
    fetch("/job/" + encodeURIComponent(id) + "/status", { cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.state === "running") {
          if (elapsed) {
            var part = s.total ? " (" + s.done + " of " + s.total + " runs)" : "";
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
