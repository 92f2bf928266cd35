// Shows the password rules the server applies while the user types. The server
// checks again on submit; this only saves a round trip through an error page.
(function () {
  "use strict";
  var form = document.getElementById("password-form");
  if (!form) { return; }
  var input = document.getElementById("password");
  var confirm = document.getElementById("confirm");
  var list = document.getElementById("problems");
  var timer = null;
  function show(problems) {
    list.textContent = "";
    problems.forEach(function (text) {
      var item = document.createElement("li");
      item.textContent = text;
      list.appendChild(item);
    });
    if (!problems.length && input.value) {
      var ok = document.createElement("li");
      ok.className = "ok";
      ok.textContent = "Mật khẩu đạt yêu cầu.";
      list.appendChild(ok);
    }
  }
  function check() {
    var body = new URLSearchParams();
    body.set("password", input.value);
    body.set("r", form.elements.r.value);
    body.set("csrf_token", form.elements.csrf_token.value);
    fetch(form.dataset.check, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : { problems: [] }; })
      .then(function (data) {
        var problems = data.problems.slice();
        if (confirm.value && confirm.value !== input.value) {
          problems.push("Mật khẩu nhập lại không khớp.");
        }
        show(problems);
      });
  }
  function later() {
    clearTimeout(timer);
    timer = setTimeout(check, 300);
  }
  input.addEventListener("input", later);
  confirm.addEventListener("input", later);
  // On a slow connection the user may type before this script arrives.
  if (input.value || confirm.value) { later(); }
})();
