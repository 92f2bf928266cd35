// The captcha field: "Đổi mã khác" fetches a new one in place (without a script the button
// submits the form and the server shows a new one), and idpShowCaptcha() reveals the field
// when the login page learns that the typed CCCD needs one.
(function () {
  "use strict";
  var block = document.getElementById("captcha-block");
  if (!block) { return; }
  var form = block.closest("form");
  var status = document.getElementById("captcha-status");

  function show(captcha, announce) {
    document.getElementById("captcha-id").value = captcha.id;
    document.getElementById("captcha-image").src = captcha.image;
    document.getElementById("captcha-audio").src = captcha.audio;
    var input = document.getElementById("captcha");
    input.value = "";
    input.required = true;
    block.hidden = false;
    if (announce && status) { status.textContent = announce; }
  }
  window.idpShowCaptcha = show;

  document.getElementById("captcha-refresh").addEventListener("click", function (event) {
    var url = form && form.dataset.fresh;
    if (!url || !window.fetch) { return; }
    event.preventDefault();
    fetch(url, { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (captcha) {
        show(captcha, "Đã đổi mã kiểm tra mới.");
        document.getElementById("captcha").focus();
      })
      .catch(function () { form.requestSubmit(document.getElementById("captcha-refresh")); });
  });
})();
