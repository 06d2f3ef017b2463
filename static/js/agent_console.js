// BankSight agent console: the chat queue's clocks and the live console over
// /ws/staff/chat/<id>/. Everything staff see is masked ([PERSON_1] and the like).
// Without this file every form still posts and the page reloads.
(function () {
  "use strict";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function clock(seconds) {
    var sign = seconds < 0 ? "-" : "";
    var s = Math.abs(Math.round(seconds));
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var r = s % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return sign + (h ? h + ":" + pad(m) : String(m)) + ":" + pad(r);
  }

  function timeLeft(seconds) {
    return seconds < 0 ? "Overdue " + clock(-seconds) : clock(seconds);
  }

  // --- The queue page ------------------------------------------------------------------

  function queuePage(root) {
    var started = Date.now();
    var clocks = root.querySelectorAll("[data-clock]");
    window.setInterval(function () {
      var elapsed = Math.floor((Date.now() - started) / 1000);
      clocks.forEach(function (node) {
        var base = parseInt(node.getAttribute("data-seconds"), 10) || 0;
        if (node.getAttribute("data-clock") === "up") {
          node.textContent = clock(base + elapsed);
        } else {
          var left = base - elapsed;
          node.textContent = timeLeft(left);
          node.classList.toggle("text-danger", left < 0);
        }
      });
    }, 1000);
    // New arrivals: reload now and then, unless the agent is editing their availability.
    var form = document.getElementById("presence-form");
    var editing = false;
    if (form) {
      form.addEventListener("input", function () { editing = true; });
      form.addEventListener("change", function () { editing = true; });
    }
    var every = parseInt(root.getAttribute("data-refresh-seconds"), 10) || 15;
    // Marked as an automatic load: it does not count as the agent's activity, so an
    // unattended queue still signs out after the idle timeout.
    window.setInterval(function () {
      if (editing || document.hidden) return;
      var url = new URL(window.location.href);
      url.searchParams.set("auto_refresh", "1");
      window.location.replace(url.toString());
    }, every * 1000);
  }

  // --- The console ---------------------------------------------------------------------

  function consolePage(root) {
    var log = document.getElementById("console-log");
    var form = document.getElementById("console-form");
    var input = document.getElementById("console-text");
    var sendButton = document.getElementById("console-send");
    var suggestButton = document.getElementById("console-suggest");
    var cannedGroup = document.getElementById("console-canned-group");
    var canned = document.getElementById("console-canned");
    var cannedInsert = document.getElementById("console-canned-insert");
    var hint = document.getElementById("console-hint");
    var errorBox = document.getElementById("console-error");
    var badge = document.getElementById("console-connection");
    var statusBadge = document.getElementById("console-status");
    var waitBox = document.getElementById("console-wait");
    var summary = document.getElementById("console-summary");
    var gone = document.getElementById("console-gone");
    var notes = document.getElementById("console-notes");
    var claimForm = document.getElementById("console-claim-form");
    var me = root.getAttribute("data-me");
    var supervisor = root.getAttribute("data-supervisor") === "1";
    var state = {
      status: root.getAttribute("data-status"),
      assigned: root.getAttribute("data-assigned") || null,
      waited: null,
      waitedAt: 0,
      target: null,
      reason: "",
      summary: null
    };
    var socket = null;
    var retryDelay = 500;
    var finished = false; // handed back, transferred or taken: this page stops listening
    var lastCommand = "";
    var outbox = [];
    // The worker drafts the summary after the escalation and again after a takeover; the
    // socket does not push it, so the console asks for a fresh snapshot for a while.
    var summaryChecks = 0;
    var summaryTimer = null;
    var summaryWatched = false;
    var suggestPending = false; // asked again after a reconnect: a draft has no side effects

    suggestButton.classList.remove("d-none");
    cannedGroup.classList.remove("d-none");

    function holds() {
      return state.status === "with_agent" && state.assigned === me;
    }

    function setBadge(text, style) {
      badge.textContent = text;
      badge.className = "badge ms-auto text-bg-" + style;
    }

    function showError(text) {
      errorBox.textContent = text || "";
    }

    function statusText() {
      if (state.status === "escalated") return "Waiting for a person";
      if (state.status === "with_agent") {
        return state.assigned === me ? "With you" : "With " + (state.assigned || "another agent");
      }
      if (state.status === "active") return "With the assistant";
      if (state.status === "closed") return "Closed";
      return state.status;
    }

    function renderWait() {
      if (state.status !== "escalated" || state.waited === null || !state.target) {
        waitBox.textContent = (state.reason ? state.reason + " · " : "") +
          (state.target ? "first response target " + clock(state.target) : "");
        waitBox.classList.remove("text-danger");
        return;
      }
      var waited = state.waited + Math.floor((Date.now() - state.waitedAt) / 1000);
      var left = state.target - waited;
      waitBox.textContent = (state.reason ? state.reason + " · " : "") + "waiting " + clock(waited) +
        " · target " + clock(state.target) + " · " + timeLeft(left) + (left < 0 ? "" : " left");
      waitBox.classList.toggle("text-danger", left < 0);
    }

    function applyState() {
      var mine = holds() && !finished;
      var canManage = mine || (supervisor && state.status === "with_agent");
      statusBadge.textContent = statusText();
      if (claimForm) claimForm.classList.toggle("d-none", state.status !== "escalated" || finished);
      input.disabled = !mine;
      input.placeholder = mine ? "Write to the customer"
        : finished || state.status === "closed" ? "You can no longer reply here"
          : "Take the conversation over to reply";
      sendButton.disabled = !mine;
      suggestButton.disabled = !mine || suggestButton.getAttribute("data-busy") === "1";
      cannedInsert.disabled = !mine || !canned.value;
      document.getElementById("console-hand-back").disabled = !mine;
      ["console-transfer-to", "console-transfer-note", "console-transfer",
        "console-resolution", "console-close"].forEach(function (id) {
        document.getElementById(id).disabled = !canManage || finished;
      });
      renderWait();
    }

    function finish(text, status) {
      finished = true;
      gone.textContent = "";
      gone.appendChild(document.createTextNode(text + " "));
      var link = el("a", "alert-link", "Back to the queue");
      link.href = root.getAttribute("data-queue-url");
      gone.appendChild(link);
      gone.classList.remove("d-none");
      setBadge("Not connected", "secondary");
      applyState();
      if (status) statusBadge.textContent = status;
    }

    // Messages -------------------------------------------------------------------------

    function whoLabel(message) {
      if (message.role === "customer") return "Customer";
      if (message.role === "assistant") return "Assistant";
      if (message.role === "agent") return message.author || "Agent";
      return "System";
    }

    var BUBBLE = {
      agent: " bg-success-subtle",
      system: " bg-info-subtle small",
      customer: " bg-primary-subtle",
      assistant: ""
    };

    function findMessage(id) {
      return log.querySelector('.console-message[data-id="' + id + '"]');
    }

    function placeFor(id) {
      // Messages stay in id order; ones still waiting for their id stay last.
      var nodes = log.querySelectorAll(".console-message");
      for (var i = 0; i < nodes.length; i++) {
        var other = parseInt(nodes[i].getAttribute("data-id"), 10);
        if (!other || other > id) return nodes[i];
      }
      return null;
    }

    function messageShell(role) {
      var node = el("div", "");
      node.appendChild(el("div", "small text-body-secondary mb-1 console-who"));
      var bubble = el("div", "chat-bubble text-start" + (BUBBLE[role] || ""));
      bubble.appendChild(el("span", "console-text"));
      node.appendChild(bubble);
      return node;
    }

    function renderMessage(message) {
      var empty = document.getElementById("console-empty");
      if (empty) empty.remove();
      var node = findMessage(message.id);
      if (!node && message.client_id) {
        node = log.querySelector('.console-message[data-client-id="' + message.client_id + '"]');
      }
      if (!node) {
        node = messageShell(message.role);
        log.insertBefore(node, placeFor(message.id));
      }
      node.className = "console-message console-" + message.role + " mb-3" +
        (message.role === "agent" ? " text-end" : "");
      node.setAttribute("data-id", message.id);
      node.setAttribute("data-status", message.status);
      if (message.client_id) node.setAttribute("data-client-id", message.client_id);
      var who = node.querySelector(".console-who");
      who.textContent = whoLabel(message);
      if (["refused", "failed", "stopped"].indexOf(message.status) >= 0) {
        who.appendChild(document.createTextNode(" "));
        who.appendChild(el("span", "badge text-bg-warning console-mark", message.status));
      }
      var text = node.querySelector(".console-text");
      if (message.status === "pending") {
        text.textContent = "…";
      } else if (message.status !== "streaming" || message.text) {
        text.textContent = message.text;
      }
      node.scrollIntoView({ block: "end" });
    }

    function appendToken(event) {
      var node = findMessage(event.message_id);
      if (!node) {
        renderMessage({ id: event.message_id, role: "assistant", status: "streaming", text: "" });
        node = findMessage(event.message_id);
      }
      var text = node.querySelector(".console-text");
      if (node.getAttribute("data-status") !== "streaming") {
        node.setAttribute("data-status", "streaming");
        text.textContent = "";
      }
      text.textContent += event.text;
      node.scrollIntoView({ block: "end" });
    }

    function lastId() {
      var after = 0;
      log.querySelectorAll(".console-message[data-id]").forEach(function (node) {
        after = Math.max(after, parseInt(node.getAttribute("data-id"), 10) || 0);
      });
      return after;
    }

    // Notes ----------------------------------------------------------------------------

    function renderNote(note) {
      if (notes.querySelector('.console-note[data-id="' + note.id + '"]')) return;
      var item = el("li", "console-note border-start border-3 border-warning ps-2 mb-2");
      item.setAttribute("data-id", note.id);
      var when = note.created_at ? new Date(note.created_at) : null;
      var time = when ? when.toTimeString().slice(0, 5) : "";
      item.appendChild(el("div", "text-body-secondary", note.author + (time ? " · " + time : "")));
      item.appendChild(el("div", "console-note-text", note.text));
      notes.appendChild(item);
    }

    // The conversation -----------------------------------------------------------------

    function renderSummary(text) {
      if (text) {
        summary.textContent = text;
        summary.classList.remove("text-body-secondary", "fst-italic");
      }
    }

    function checkSummarySoon() {
      if (summaryTimer || summaryChecks <= 0 || finished) return;
      summaryChecks -= 1;
      summaryTimer = window.setTimeout(function () {
        summaryTimer = null;
        send({ type: "resume", after: lastId() });
      }, 3000);
    }

    function applySnapshot(event) {
      var c = event.conversation;
      state.status = c.status;
      state.assigned = c.assigned_agent;
      state.waited = c.waited_seconds;
      state.waitedAt = Date.now();
      state.target = c.target_seconds;
      state.reason = c.escalation_reason || "";
      var text = c.handoff_summary || "";
      if (state.summary !== null && text !== state.summary) summaryChecks = 0; // it arrived
      state.summary = text;
      renderSummary(text);
      (event.messages || []).forEach(renderMessage);
      (event.notes || []).forEach(renderNote);
      applyState();
      if (!text && !summaryWatched) {
        summaryWatched = true;
        summaryChecks = 20;
      }
      checkSummarySoon();
    }

    // The socket -----------------------------------------------------------------------

    function send(payload) {
      if (socket && socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify(payload));
        return true;
      }
      return false;
    }

    function handle(event) {
      if (event.type === "snapshot") {
        applySnapshot(event);
      } else if (event.type === "message") {
        renderMessage(event.message);
        if (event.message.client_id) {
          outbox = outbox.filter(function (p) { return p.client_id !== event.message.client_id; });
        }
      } else if (event.type === "token") {
        appendToken(event);
      } else if (event.type === "done") {
        var node = findMessage(event.message_id);
        if (node) node.setAttribute("data-status", event.status);
      } else if (event.type === "conversation") {
        var wasWaiting = state.status === "escalated";
        var wasMine = holds();
        state.status = event.status;
        state.assigned = event.assigned_agent || null;
        if (holds() && !wasMine) {
          summaryChecks = 10;
          checkSummarySoon();
        }
        if (event.status === "escalated" && !wasWaiting) {
          state.waited = 0;
          state.waitedAt = Date.now();
        }
        applyState();
      } else if (event.type === "note") {
        renderNote(event.note);
      } else if (event.type === "ack") {
        outbox = outbox.filter(function (p) { return p.client_id !== event.client_id; });
        var pending = log.querySelector('.console-message[data-client-id="' + event.client_id + '"]');
        if (pending && !pending.getAttribute("data-id")) {
          pending.setAttribute("data-id", event.id);
          pending.setAttribute("data-status", "complete");
        }
      } else if (event.type === "suggestion") {
        suggestPending = false;
        suggestButton.removeAttribute("data-busy");
        suggestButton.textContent = "Suggest a reply";
        input.value = event.text || "";
        hint.textContent = event.text
          ? "Suggested reply: edit it if needed, then press Send. Nothing is sent until you do."
          : "No suggestion this time.";
        applyState();
        input.focus();
      } else if (event.type === "error") {
        handleError(event);
      }
    }

    function handleError(event) {
      if (event.for === "suggest") {
        suggestPending = false;
        suggestButton.removeAttribute("data-busy");
        suggestButton.textContent = "Suggest a reply";
        applyState();
      }
      if (event.code === "not_found" && !event.for) {
        // The server stopped sending: the conversation is no longer ours to read.
        if (lastCommand === "hand_back") {
          finish("You handed this conversation back to the assistant.", "With the assistant");
        } else if (lastCommand === "transfer") {
          finish("You transferred this conversation.", "Transferred");
        } else {
          finish("This conversation is no longer yours to read (handed back, transferred or taken by someone else).", "Not yours");
        }
        return;
      }
      var fields = event.fields || {};
      var detail = Object.keys(fields).map(function (k) { return fields[k].join(" "); }).join(" ");
      showError(detail || event.message);
      if (event.client_id) {
        outbox = outbox.filter(function (p) { return p.client_id !== event.client_id; });
        var failed = log.querySelector('.console-message[data-client-id="' + event.client_id + '"]');
        if (failed && !failed.getAttribute("data-id")) {
          failed.remove();
          if (!input.value) input.value = failed.querySelector(".console-text").textContent;
        }
      }
    }

    function connect() {
      if (finished) return;
      var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      socket = new WebSocket(scheme + window.location.host + root.getAttribute("data-socket"));
      socket.addEventListener("open", function () {
        retryDelay = 500;
        setBadge("Connected", "success");
        outbox.forEach(function (payload) { socket.send(JSON.stringify(payload)); });
        if (suggestPending) socket.send(JSON.stringify({ type: "suggest" }));
      });
      socket.addEventListener("close", function () {
        if (finished) return;
        setBadge("Reconnecting…", "warning");
        window.setTimeout(connect, retryDelay);
        retryDelay = Math.min(retryDelay * 2, 10000);
      });
      socket.addEventListener("message", function (raw) {
        handle(JSON.parse(raw.data));
      });
    }

    function newClientId() {
      if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
      return "a" + Date.now().toString(36) + Math.random().toString(36).slice(2);
    }

    // What the agent does --------------------------------------------------------------

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      showError("");
      var text = input.value.trim();
      if (!text) {
        showError("Write a message.");
        input.focus();
        return;
      }
      var payload = { type: "message", client_id: newClientId(), text: text };
      var node = messageShell("agent");
      node.className = "console-message console-agent mb-3 text-end";
      node.setAttribute("data-client-id", payload.client_id);
      node.setAttribute("data-status", "sending");
      node.querySelector(".console-who").textContent = "You";
      node.querySelector(".console-text").textContent = text;
      log.appendChild(node);
      node.scrollIntoView({ block: "end" });
      outbox.push(payload);
      lastCommand = "message";
      send(payload);
      input.value = "";
      hint.textContent = "";
      input.focus();
    });

    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        if (!sendButton.disabled) sendButton.click();
      }
    });

    suggestButton.addEventListener("click", function () {
      showError("");
      if (send({ type: "suggest" })) {
        suggestPending = true;
        lastCommand = "suggest";
        suggestButton.setAttribute("data-busy", "1");
        suggestButton.textContent = "Drafting…";
        hint.textContent = "";
        applyState();
      }
    });

    canned.addEventListener("change", applyState);
    cannedInsert.addEventListener("click", function () {
      var option = canned.options[canned.selectedIndex];
      var text = option ? option.getAttribute("data-text") : "";
      if (!text) return;
      input.value = input.value.trim() ? input.value.replace(/\s+$/, "") + " " + text : text;
      hint.textContent = "Canned response inserted: edit it if needed, then press Send.";
      input.focus();
    });

    // Command forms: over the socket when it is open, else the form posts as usual.
    function command(formId, build) {
      var commandForm = document.getElementById(formId);
      commandForm.addEventListener("submit", function (event) {
        var payload = build(commandForm);
        if (payload === null) {
          event.preventDefault();
          return;
        }
        if (send(payload)) {
          event.preventDefault();
          lastCommand = payload.type;
          showError("");
        }
      });
    }

    if (claimForm) command("console-claim-form", function () { return { type: "claim" }; });
    command("console-hand-back-form", function () { return { type: "hand_back" }; });
    command("console-transfer-form", function (f) {
      var to = f.querySelector("[name=to]").value;
      if (!to) {
        showError("Choose the agent to transfer to.");
        return null;
      }
      return { type: "transfer", to: to, note: f.querySelector("[name=note]").value };
    });
    command("console-close-form", function (f) {
      var resolution = f.querySelector("[name=resolution]").value;
      if (!resolution) {
        showError("Choose how the conversation was resolved.");
        return null;
      }
      return { type: "close", resolution: resolution };
    });
    command("console-note-form", function (f) {
      var area = f.querySelector("[name=text]");
      var text = area.value.trim();
      if (!text) {
        showError("Write a note.");
        return null;
      }
      window.setTimeout(function () { area.value = ""; }, 0);
      return { type: "note", text: text };
    });

    window.setInterval(renderWait, 1000);
    applyState();
    connect();
  }

  var queue = document.getElementById("handoff-queue");
  if (queue) queuePage(queue);
  var consoleRoot = document.getElementById("console");
  if (consoleRoot) consolePage(consoleRoot);
})();
