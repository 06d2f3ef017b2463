// BankSight: warns before an idle session ends and offers "Stay signed in".
// The server decides (apps/accounts/session_lifetime.py); this script only asks it how long
// is left (which does not count as activity) and, when the person clicks the button or has
// typed or clicked on this page since the last request, tells it they are still here.
(function () {
  "use strict";

  var body = document.body;
  var idle = parseInt(body.getAttribute("data-session-idle-seconds"), 10);
  if (!idle) return;
  var warning = parseInt(body.getAttribute("data-session-warning-seconds"), 10) || 120;
  var statusUrl = body.getAttribute("data-session-status-url");
  var loginUrl = body.getAttribute("data-session-login-url");
  var box = document.getElementById("session-warning");
  var form = box.querySelector("[data-session-keep-alive]");
  var countdown = box.querySelector("[data-session-countdown]");

  var deadline = Date.now() + idle * 1000; // this page's request counted as activity
  var lastSync = Date.now();
  var lastInteraction = 0;
  var timer = null;
  var ticker = null;

  function clock(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    var m = Math.floor(seconds / 60);
    var s = seconds % 60;
    return m + ":" + (s < 10 ? "0" : "") + s;
  }

  function signedOut() {
    window.location.assign(loginUrl + "?next=" + encodeURIComponent(window.location.pathname));
  }

  function update(data) {
    var left = Math.min(data.idle_seconds_left, data.absolute_seconds_left);
    deadline = Date.now() + left * 1000;
    schedule();
  }

  function answer(response) {
    if (response.status === 401) {
      signedOut();
      return null;
    }
    return response.ok ? response.json() : null;
  }

  function keepAlive() {
    lastSync = Date.now();
    return fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    }).then(answer).then(function (data) {
      if (data) {
        hide();
        update(data);
      }
    });
  }

  function check() {
    if (lastInteraction > lastSync) {
      keepAlive(); // typing or clicking here is activity, even if no request went out
      return;
    }
    fetch(statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(answer)
      .then(function (data) {
        if (!data) return;
        var left = Math.min(data.idle_seconds_left, data.absolute_seconds_left);
        if (left > warning) {
          hide();
          update(data); // activity in another tab moved the deadline
        } else {
          show(left);
        }
      });
  }

  function show(left) {
    deadline = Date.now() + left * 1000;
    box.hidden = false;
    var tick = function () {
      var remaining = (deadline - Date.now()) / 1000;
      countdown.textContent = clock(remaining);
      if (remaining <= 0) {
        window.clearInterval(ticker);
        // The server signs out and says so (the sign-in page shows why).
        window.clearTimeout(timer);
        timer = window.setTimeout(check, 1000);
      }
    };
    window.clearInterval(ticker);
    tick();
    ticker = window.setInterval(tick, 1000);
  }

  function hide() {
    box.hidden = true;
    window.clearInterval(ticker);
  }

  function schedule() {
    window.clearTimeout(timer);
    var wait = Math.max(1000, deadline - Date.now() - warning * 1000);
    timer = window.setTimeout(check, wait);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    keepAlive();
  });
  ["keydown", "pointerdown"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      if (!box.contains(event.target)) lastInteraction = Date.now();
    }, { passive: true });
  });
  schedule();
})();
