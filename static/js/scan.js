// Counter: scan the QR code on a member's portal card with the device camera.
// The browser's own BarcodeDetector where it reads QR codes; otherwise the ZXing ponyfill, served
// from this site (static/vendor/barcode-detector). A hit fills the search box and submits it.
(function () {
  "use strict";
  var open = document.getElementById("scan-open");
  var box = document.getElementById("scan");
  var video = document.getElementById("scan-video");
  var status = document.getElementById("scan-status");
  var close = document.getElementById("scan-close");
  var input = document.getElementById("counter-q");
  if (!open || !box || !video || !input) return;
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return; // no camera API
  open.hidden = false;

  var base = document.currentScript ? document.currentScript.src.replace(/js\/scan\.js.*$/, "") : "/static/";
  var stream = null;
  var timer = null;

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = src;
      s.onload = resolve;
      s.onerror = reject;
      document.head.appendChild(s);
    });
  }

  async function detector() {
    if ("BarcodeDetector" in window) {
      try {
        var formats = await window.BarcodeDetector.getSupportedFormats();
        if (formats.indexOf("qr_code") >= 0) return new window.BarcodeDetector({ formats: ["qr_code"] });
      } catch (e) { /* fall through to the ponyfill */ }
    }
    if (!window.BarcodeDetectionAPI) await loadScript(base + "vendor/barcode-detector/ponyfill.js");
    var api = window.BarcodeDetectionAPI;
    api.prepareZXingModule({
      overrides: {
        locateFile: function (path, prefix) {
          return path.endsWith(".wasm") ? base + "vendor/barcode-detector/" + path : prefix + path;
        },
      },
    });
    return new api.BarcodeDetector({ formats: ["qr_code"] });
  }

  function stop() {
    if (timer) clearTimeout(timer);
    timer = null;
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
    box.hidden = true;
  }

  async function start() {
    box.hidden = false;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (e) {
      status.textContent = open.dataset.noCamera || status.dataset.noCamera || "Camera unavailable";
      return;
    }
    video.srcObject = stream;
    await video.play();
    var reader = await detector();
    async function tick() {
      if (!stream) return;
      try {
        var codes = await reader.detect(video);
        var hit = codes.find(function (c) { return /^M[0-9A-Z]{4,11}$/.test(c.rawValue.trim().toUpperCase()); });
        if (hit) {
          stop();
          input.value = hit.rawValue.trim().toUpperCase();
          input.form.requestSubmit();
          return;
        }
      } catch (e) { /* a frame that could not be read: try the next */ }
      timer = setTimeout(tick, 250);
    }
    tick();
  }

  open.addEventListener("click", function () { if (stream) stop(); else start(); });
  if (close) close.addEventListener("click", stop);
  window.addEventListener("pagehide", stop);
})();
