// The dashboard's only script, no build step: refresh the live parts, show times in the
// viewer's time zone, ask before destructive actions. Pages work without it (numbers then
// refresh on reload, times show in UTC).
(function () {
  "use strict";

  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (element) {
      var moment = new Date(element.getAttribute("datetime"));
      if (!isNaN(moment.getTime())) {
        element.title = moment.toLocaleString(undefined, { dateStyle: "full", timeStyle: "long" });
        element.textContent = moment.toLocaleString(undefined, {
          month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
        });
      }
    });
  }

  function keepFresh(element) {
    var url = element.getAttribute("data-refresh");
    var every = 1000 * (parseFloat(element.getAttribute("data-every")) || 2);
    var reloadWhenOk = element.hasAttribute("data-reload-when-ok");
    function tick() {
      if (document.hidden) {
        setTimeout(tick, every);
        return;
      }
      fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (response) {
          document.body.classList.remove("offline");
          if (response.ok && reloadWhenOk) {
            window.location.reload();
            return null;
          }
          return response.text();
        })
        .then(function (html) {
          if (html !== null) {
            element.innerHTML = html;
            localTimes(element);
          }
        })
        .catch(function () { document.body.classList.add("offline"); })
        .finally(function () { setTimeout(tick, every); });
    }
    setTimeout(tick, every);
  }

  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  document.querySelectorAll("[data-zone]").forEach(function (element) {
    element.textContent = Intl.DateTimeFormat().resolvedOptions().timeZone || "your time zone";
  });
  localTimes(document);
  document.querySelectorAll("[data-refresh]").forEach(keepFresh);
})();
