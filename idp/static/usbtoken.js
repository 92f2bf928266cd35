// Signing with a USB token through the local signing agent (idp-signing-agent) on this
// computer. The page only carries the provider's one-time challenge to the agent and the
// certificate and signature back; the PIN is typed in the agent and never reaches the page.
(function () {
  "use strict";
  var box = document.getElementById("usb-signer");
  if (!box) { return; }
  var status = document.getElementById("usb-status");
  var select = document.getElementById("usb-certificate");
  var button = document.getElementById("usb-sign");
  var form = document.getElementById("usb-form");
  var agent = box.dataset.agent;
  var NO_AGENT = "Không kết nối được phần mềm ký số trên máy tính của bạn. Vui lòng cài đặt "
    + "và mở phần mềm ký số (idp-signing-agent), cắm USB ký số rồi tải lại trang.";
  var FAILED = "Không ký số được. Vui lòng tải lại trang và thử lại.";

  function show(text, isError) {
    status.textContent = text;
    status.className = "alert " + (isError ? "alert-error" : "alert-info");
  }

  // Parse a JSON answer; a refusal carries a Vietnamese `message` to show as is.
  function answer(response) {
    return response.json().catch(function () { return {}; }).then(function (data) {
      if (!response.ok) { throw new Error(data.message || FAILED); }
      return data;
    });
  }

  function callAgent(path, body) {
    var options = { method: body ? "POST" : "GET", mode: "cors", credentials: "omit",
                    cache: "no-store" };
    if (body) {
      options.headers = { "Content-Type": "application/json" };
      options.body = JSON.stringify(body);
    }
    return fetch(agent + path, options).then(answer, function () { throw new Error(NO_AGENT); });
  }

  function listCertificates() {
    callAgent("/certificates").then(function (data) {
      select.textContent = "";
      data.certificates.forEach(function (certificate) {
        var option = document.createElement("option");
        option.value = certificate.id;
        option.textContent = certificate.subject + " — " + certificate.issuer
          + " (hết hạn " + certificate.not_after + ")";
        select.appendChild(option);
      });
      if (!data.certificates.length) {
        show("Không tìm thấy chứng thư số nào. Vui lòng cắm USB ký số rồi tải lại trang.", true);
        return;
      }
      select.disabled = false;
      button.disabled = false;
      show("Chọn chứng thư số rồi bấm nút bên dưới; nhập mã PIN trên phần mềm ký số khi "
        + "được hỏi.", false);
    }).catch(function (error) { show(error.message, true); });
  }

  function sign() {
    button.disabled = true;
    show("Đang chờ bạn nhập mã PIN trên phần mềm ký số…", false);
    var request = new URLSearchParams({ flow: box.dataset.flow, ref: box.dataset.ref });
    fetch(box.dataset.challengeUrl, {
      method: "POST", credentials: "same-origin", body: request,
      headers: { "X-CSRFToken": form.elements.csrf_token.value }
    }).then(answer).then(function (issued) {
      return callAgent("/sign", { origin: issued.origin, challenge: issued.challenge,
                                  certificate_id: select.value })
        .then(function (signed) {
          form.elements.challenge.value = issued.challenge;
          form.elements.certificate.value = signed.certificate;
          form.elements.signature.value = signed.signature;
          form.elements.algorithm.value = signed.algorithm;
          show("Đã ký số, đang kiểm tra…", false);
          form.submit();
        });
    }).catch(function (error) {
      show(error.message, true);
      button.disabled = false;
    });
  }

  button.addEventListener("click", sign);
  listCertificates();
})();
