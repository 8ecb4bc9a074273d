// Passkeys (WebAuthn) for authd's pages: the only script they load.
//
// A passkey form is marked `data-passkey="create"` or `data-passkey="get"`
// and `hidden` until this script finds WebAuthn in the browser, so that a
// page without script shows only what works without it. On submit, the
// form's fields (its CSRF token, a passkey's name) are posted to the URL
// in `data-options`, which answers the ceremony's options (JSON) and
// keeps its state in a cookie; the browser asks the authenticator; its
// answer goes into the form's `credential` field and the form is posted
// as usual, so the server's answer is an ordinary page.
"use strict";

(function () {
  function toBytes(b64url) {
    var b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(b64 + "===".slice((b64.length + 3) % 4));
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes.buffer;
  }

  function toText(buffer) {
    if (!buffer) return null;
    var bytes = new Uint8Array(buffer), raw = "";
    for (var i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function ids(list) {
    return (list || []).map(function (c) {
      return Object.assign({}, c, { id: toBytes(c.id) });
    });
  }

  function creationOptions(options) {
    var o = options.publicKey;
    o.challenge = toBytes(o.challenge);
    o.user.id = toBytes(o.user.id);
    o.excludeCredentials = ids(o.excludeCredentials);
    return { publicKey: o };
  }

  function requestOptions(options) {
    var o = options.publicKey;
    o.challenge = toBytes(o.challenge);
    o.allowCredentials = ids(o.allowCredentials);
    return { publicKey: o };
  }

  function answer(credential) {
    var r = credential.response, out = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      extensions: credential.getClientExtensionResults(),
      response: { clientDataJSON: toText(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = toText(r.attestationObject);
    } else {
      out.response.authenticatorData = toText(r.authenticatorData);
      out.response.signature = toText(r.signature);
      out.response.userHandle = toText(r.userHandle);
    }
    return JSON.stringify(out);
  }

  function say(form, text) {
    var status = form.querySelector("[data-passkey-status]");
    if (status) {
      status.textContent = text;
      status.hidden = !text;
    }
  }

  function run(form, event) {
    event.preventDefault();
    var button = form.querySelector("button");
    if (button) button.disabled = true;
    say(form, "");
    var create = form.getAttribute("data-passkey") === "create";
    fetch(form.getAttribute("data-options"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(new FormData(form)).toString()
    })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.error || "The server refused.");
          return body;
        });
      })
      .then(function (options) {
        return create
          ? navigator.credentials.create(creationOptions(options))
          : navigator.credentials.get(requestOptions(options));
      })
      .then(function (credential) {
        form.querySelector("input[name=credential]").value = answer(credential);
        form.submit();
      })
      .catch(function (error) {
        if (button) button.disabled = false;
        var cancelled = error && error.name === "NotAllowedError";
        say(form, cancelled ? "The passkey was not used." : (error && error.message) || "That did not work.");
      });
  }

  if (!window.PublicKeyCredential || !navigator.credentials) return;
  var forms = document.querySelectorAll("form[data-passkey]");
  for (var i = 0; i < forms.length; i++) {
    (function (form) {
      form.hidden = false;
      form.addEventListener("submit", function (event) { run(form, event); });
    })(forms[i]);
  }
  var notes = document.querySelectorAll("[data-passkey-unsupported]");
  for (var j = 0; j < notes.length; j++) notes[j].hidden = true;
})();
