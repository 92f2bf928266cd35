// Waiting for the user to confirm a SIM signature on the phone: poll the provider about once
// a second (each poll waits at most ~1 s on the MSSP), count down, and follow the provider
// to the next page once the signature is verified, or show why it was not.
(function () {
  "use strict";
  var box = document.getElementById("sim-wait");
  if (!box) { return; }
  var status = document.getElementById("sim-status");
  var announce = document.getElementById("sim-announce");
  var progress = document.getElementById("sim-progress");
  var cancelForm = document.getElementById("sim-cancel-form");
  var retry = document.getElementById("sim-retry");
  var deadline = Date.now() + Number(box.dataset.seconds) * 1000;
  var FAILED = "Không kiểm tra được yêu cầu ký số. Vui lòng thử lại.";
  var finished = false;
  var timer;

  function left() { return Math.max(0, Math.round((deadline - Date.now()) / 1000)); }

  function tick() {
    if (finished) { return; }
    var seconds = left();
    progress.value = seconds;
    document.getElementById("sim-countdown").textContent = String(seconds);
    if (seconds === 30) { announce.textContent = "Còn 30 giây để xác nhận trên điện thoại."; }
  }

  function fail(message) {
    finished = true;
    clearInterval(timer);
    status.textContent = message;
    announce.textContent = message;
    status.className = "alert alert-error";
    status.id = "sim-status";
    status.setAttribute("data-failed", "1");
    cancelForm.hidden = true;
    retry.hidden = false;
  }

  function poll() {
    if (finished) { return; }
    fetch(box.dataset.statusUrl, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (data.state === "done") {
          finished = true;
          status.textContent = "Đã xác nhận. Đang đăng nhập…";
          announce.textContent = status.textContent;
          window.location.assign(data.next);
        } else if (data.state === "failed") {
          fail(data.message || FAILED);
        } else {
          setTimeout(poll, 1000);
        }
      }, function () { fail(FAILED); });
  }

  timer = setInterval(tick, 1000);
  poll();
})();
