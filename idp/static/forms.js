// The error summary of a refused form takes the focus, so a screen reader reads what went
// wrong first; its links move the focus to the field itself (not only scroll to it).
(function () {
  "use strict";
  var summary = document.getElementById("error-summary") ||
    document.querySelector("[data-refusal]");
  if (!summary) { return; }
  summary.focus();
  summary.addEventListener("click", function (event) {
    var link = event.target.closest("a[href^='#']");
    var field = link && document.getElementById(link.getAttribute("href").slice(1));
    if (!field) { return; }
    event.preventDefault();
    var label = document.querySelector("label[for='" + field.id + "']");
    (label || field).scrollIntoView();
    field.focus();
  });
})();
