// The password page: once a full CCCD is typed, ask whether the next try needs the captcha,
// so it is on the page before the first submit; and count down a wait the server asked for.
(function () {
  "use strict";
  var form = document.getElementById("login-form");
  var cccd = document.getElementById("cccd");
  var block = document.getElementById("captcha-block");
  var submit = document.getElementById("submit");
  var asked = {};

  function check() {
    var value = cccd.value.replace(/\s/g, "");
    if (!/^[0-9]{12}$/.test(value) || !block.hidden || asked[value] || !window.fetch) { return; }
    asked[value] = true;
    fetch(form.dataset.check + "&cccd=" + encodeURIComponent(value), { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        var notice = document.getElementById("paused-notice");
        if (answer.paused_until && notice) {
          document.getElementById("paused-until").textContent = answer.paused_until;
          notice.hidden = false;  // role=alert: read out without taking the focus
        } else if (notice) {
          notice.hidden = true;
        }
        if (answer.captcha && window.idpShowCaptcha) {
          window.idpShowCaptcha(answer.captcha,
            "Để bảo vệ tài khoản, vui lòng nhập thêm mã kiểm tra bên dưới.");
        }
      })
      .catch(function () { asked[value] = false; });
  }
  cccd.addEventListener("input", check);
  cccd.addEventListener("change", check);
  check();

  var wait = parseInt(submit.dataset.wait || "0", 10);
  if (wait > 0) {
    var label = submit.textContent;
    var tick = function () {
      submit.disabled = wait > 0;
      submit.textContent = wait > 0 ? label + " (" + wait + " giây)" : label;
      if (wait > 0) { wait -= 1; setTimeout(tick, 1000); }
    };
    tick();
  }
})();
