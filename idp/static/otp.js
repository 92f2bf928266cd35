// Countdown of the code's validity and of the re-send wait. The server enforces both;
// this only shows them. A screen reader hears the changes that matter (one minute left,
// expired, re-send possible) once each, never every second.
(function () {
  "use strict";
  var clock = document.getElementById("countdown");
  var validity = document.getElementById("validity");
  var status = document.getElementById("countdown-status");
  var resend = document.getElementById("resend");
  var left = clock ? parseInt(clock.dataset.seconds, 10) : 0;
  var wait = resend ? parseInt(resend.dataset.wait, 10) : 0;
  var label = resend ? resend.textContent : "";
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function say(text) { if (status) { status.textContent = text; } }
  function tick() {
    if (clock && left === 0) {
      validity.className = "alert alert-warning";
      validity.textContent = "Mã OTP đã hết hiệu lực. Bấm “Gửi lại OTP” để nhận mã mới.";
      say(validity.textContent);
      clock = null;
    } else if (clock) {
      clock.textContent = Math.floor(left / 60) + ":" + pad(left % 60);
      if (left === 60) { say("Mã OTP còn hiệu lực một phút."); }
    }
    if (resend) {
      resend.disabled = wait > 0;
      resend.textContent = wait > 0 ? label + " (" + wait + " giây)" : label;
      if (wait === 0 && resend.dataset.announced !== "yes" && resend.dataset.wait !== "0") {
        resend.dataset.announced = "yes";
        say("Bạn có thể gửi lại mã OTP.");
      }
    }
    if (left > 0) { left -= 1; }
    if (wait > 0) { wait -= 1; }
  }
  tick();
  setInterval(tick, 1000);
})();
