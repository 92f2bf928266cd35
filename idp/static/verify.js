// The clerk's page: take the picture of a QR code with the computer's own camera, where it
// has one. Without a camera (or this script), the file field still takes a photo or a file.
(function () {
  "use strict";
  var box = document.getElementById("camera");
  if (!box || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.DataTransfer) {
    return;
  }
  var start = document.getElementById("camera-start");
  var view = document.getElementById("camera-view");
  var take = document.getElementById("camera-take");
  var problem = document.getElementById("camera-error");
  var input = document.getElementById("image");
  var form = document.getElementById("verify-form");
  var stream = null;
  box.hidden = false;

  start.addEventListener("click", function () {
    navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}}).then(function (opened) {
      stream = opened;
      view.srcObject = opened;
      view.hidden = false;
      take.hidden = false;
      start.hidden = true;
      view.play();
      take.focus();
    }).catch(function () {
      problem.textContent = "Không mở được camera. Hãy chụp hoặc chọn tệp ảnh ở ô phía trên.";
      problem.hidden = false;
    });
  });

  take.addEventListener("click", function () {
    var canvas = document.createElement("canvas");
    canvas.width = view.videoWidth;
    canvas.height = view.videoHeight;
    canvas.getContext("2d").drawImage(view, 0, 0);
    canvas.toBlob(function (blob) {
      var files = new DataTransfer();
      files.items.add(new File([blob], "camera.png", {type: "image/png"}));
      input.files = files.files;
      stream.getTracks().forEach(function (track) { track.stop(); });
      form.submit();
    }, "image/png");
  });
})();
