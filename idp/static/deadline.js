// Before a login, registration or reset runs out: say so (role=alert) and offer more time
// without leaving the page, so nothing typed is lost. The server decides how much and
// how often (idp/deadline.py); this only asks and shows the answer.
(function () {
  "use strict";
  var box = document.getElementById("deadline");
  if (!box) { return; }
  var text = document.getElementById("deadline-text");
  var button = document.getElementById("deadline-extend");
  var expires = Number(box.dataset.expires) * 1000;
  var warn = Number(box.dataset.warn) * 1000;
  var original = text.textContent;

  function tick() {
    var left = expires - Date.now();
    if (left <= 0) {
      text.textContent = "Phiên làm việc này đã hết thời gian. Vui lòng quay lại và làm lại từ đầu.";
      button.hidden = true;
      box.hidden = false;
    } else if (left <= warn && box.hidden) {
      text.textContent = original;
      box.hidden = false;
    }
  }

  button.addEventListener("click", function () {
    fetch(box.dataset.extend, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": box.dataset.csrf }
    })
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        expires = Number(answer.expires) * 1000;
        text.textContent = answer.message || answer.error;
        if (answer.error) { button.hidden = true; }
      });
  });

  tick();
  setInterval(tick, 1000);
})();
