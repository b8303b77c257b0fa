/* Dashboard writes: forms with data-api="ingest" or data-api="attest" are sent with fetch and
   the bearer token typed into the form (kept for this tab only, in sessionStorage). Answers
   are shown as text, never as markup. */
(function () {
  "use strict";
  var KEY = "tripwire-token";

  function show(form, ok, text) {
    var out = form.querySelector(".result");
    out.textContent = text;
    out.className = "result notice " + (ok ? "good" : "bad");
  }

  function payload(form) {
    var body = {};
    var fields = form.querySelectorAll("input[name], select[name], textarea[name]");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.name === "token" || f.type === "file") { continue; }
      if (f.value !== "") { body[f.name] = f.value; }
    }
    return body;
  }

  function submit(ev) {
    var form = ev.target;
    if (!form.getAttribute || !form.getAttribute("data-api")) { return; }
    ev.preventDefault();
    var tokenField = form.querySelector("input[name=token]");
    var token = tokenField ? tokenField.value : "";
    if (token) { try { sessionStorage.setItem(KEY, token); } catch (e) { /* private mode */ } }
    var kind = form.getAttribute("data-api");
    var request;
    if (kind === "ingest") {
      var file = form.querySelector("input[type=file]").files[0];
      if (!file) { show(form, false, "choose a file first"); return; }
      request = fetch("/api/ingest?filename=" + encodeURIComponent(file.name), {
        method: "POST", body: file, credentials: "same-origin",
        headers: {"Authorization": "Bearer " + token, "Content-Type": "application/octet-stream"}
      });
    } else {
      request = fetch("/api/" + kind, {
        method: "POST", body: JSON.stringify(payload(form)), credentials: "same-origin",
        headers: {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
      });
    }
    show(form, true, "sending…");
    request.then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (data) {
        if (!resp.ok) {
          var why = data.error || (data.detail && JSON.stringify(data.detail)) || resp.statusText;
          show(form, false, "refused (" + resp.status + "): " + why);
          return;
        }
        var text = kind === "ingest"
          ? data.path + ": " + data.status + " (" + data.models + " models, " + data.results +
            " results, " + data.loss_points + " loss points)"
          : "attested " + data.attestation.safeguard + " for " +
            (data.attestation.model || "all models");
        if (data.warnings && data.warnings.length) { text += " · " + data.warnings.join("; "); }
        show(form, true, text);
        if (form.getAttribute("data-reload")) { setTimeout(function () { location.reload(); }, 900); }
      });
    }).catch(function (err) { show(form, false, "could not reach the server: " + err); });
  }

  function start() {
    var saved = null;
    try { saved = sessionStorage.getItem(KEY); } catch (e) { saved = null; }
    if (saved) {
      var fields = document.querySelectorAll("form[data-api] input[name=token]");
      for (var i = 0; i < fields.length; i++) { fields[i].value = saved; }
    }
    document.addEventListener("submit", submit);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
