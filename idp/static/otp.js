// Countdown of the OTP's validity and of the re-send cooldown. The server
// enforces both; this only shows them.
(function () {
  "use strict";
  var clock = document.getElementById("countdown");
  var resend = document.getElementById("resend");
  var left = clock ? parseInt(clock.dataset.seconds, 10) : 0;
  var wait = resend ? parseInt(resend.dataset.wait, 10) : 0;
  var label = resend ? resend.textContent : "";
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function tick() {
    if (clock) {
      clock.textContent = Math.floor(left / 60) + ":" + pad(left % 60);
      if (left === 0) { clock.textContent = "0:00 (đã hết hạn)"; }
    }
    if (resend) {
      resend.disabled = wait > 0;
      resend.textContent = wait > 0 ? label + " (" + wait + " giây)" : label;
    }
    if (left > 0) { left -= 1; }
    if (wait > 0) { wait -= 1; }
  }
  tick();
  setInterval(tick, 1000);
})();
