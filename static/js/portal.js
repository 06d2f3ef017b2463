// BankSight portal: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";

  // Payment form: show only the fields of the destination chosen under "Pay to".
  function setUpTransferForm(form) {
    var radios = form.querySelectorAll('input[name="destination"]');
    var groups = form.querySelectorAll("[data-destination]");
    function update() {
      var chosen = form.querySelector('input[name="destination"]:checked');
      var value = chosen ? chosen.value : "";
      groups.forEach(function (group) {
        group.hidden = group.getAttribute("data-destination") !== value;
      });
    }
    radios.forEach(function (radio) {
      radio.addEventListener("change", update);
    });
    update();
  }

  // Forms that destroy something ask first.
  function setUpConfirm(form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  }

  // A second click while the first submission is on its way does nothing.
  // (The server never pays twice anyway; this only spares a wasted request.)
  function setUpSubmitOnce(form) {
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("data-submitting")) {
        event.preventDefault();
        return;
      }
      form.setAttribute("data-submitting", "true");
      form.setAttribute("aria-busy", "true");
    });
  }

  document.querySelectorAll("[data-transfer-form]").forEach(setUpTransferForm);
  document.querySelectorAll("form[data-confirm]").forEach(setUpConfirm);
  document.querySelectorAll("form[data-submit-once]").forEach(setUpSubmitOnce);
})();
