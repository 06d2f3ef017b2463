// BankSight chat: streams the assistant's answers over the conversation's websocket.
// Without this file the page still works: the form posts, a reload shows the answer.
(function () {
  "use strict";

  var log = document.getElementById("chat-log");
  if (!log) return;
  var form = document.getElementById("chat-form");
  var input = document.getElementById("chat-text");
  var sendButton = document.getElementById("chat-send");
  var stopButton = document.getElementById("chat-stop");
  var escalateButton = document.getElementById("chat-escalate");
  var escalateForm = document.getElementById("chat-escalate-form");
  var badge = document.getElementById("chat-connection");
  var statusBox = document.getElementById("chat-status");
  var errorBox = document.getElementById("chat-error");
  var survey = document.getElementById("chat-survey");
  var surveyThanks = document.getElementById("chat-survey-thanks");
  var agentName = log.getAttribute("data-agent") || "";
  var surveyDone = log.getAttribute("data-survey-done") === "1";
  var surveyPending = null; // sent again after a reconnect until it is saved (it is idempotent)
  var FINAL = { complete: 1, stopped: 1, refused: 1, failed: 1, received: 1 };
  var socket = null;
  var retryDelay = 500;
  var outbox = []; // messages written while offline; resent with the same client id
  var streaming = {};

  function roleLabel(message) {
    if (message.role === "customer") return "You";
    if (message.role === "assistant") return "Assistant";
    if (message.role === "agent") return message.author || "BankSight team";
    return "BankSight";
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // The id after which a reconnect asks for everything again: the last message before
  // the first one that is not finished yet.
  function resumeAfter() {
    var after = 0;
    var nodes = log.querySelectorAll(".chat-message[data-id]");
    for (var i = 0; i < nodes.length; i++) {
      var id = parseInt(nodes[i].getAttribute("data-id"), 10);
      if (!id) continue;
      if (!FINAL[nodes[i].getAttribute("data-status")]) break;
      after = Math.max(after, id);
    }
    return after;
  }

  function findMessage(id) {
    return log.querySelector('.chat-message[data-id="' + id + '"]');
  }

  function emptyHint() {
    var hint = document.getElementById("chat-empty");
    if (hint) hint.remove();
  }

  function messageNode(message) {
    var node = findMessage(message.id);
    if (!node && message.client_id) {
      node = log.querySelector('.chat-message[data-client-id="' + message.client_id + '"]');
    }
    if (!node) {
      emptyHint();
      node = el("div", "chat-message mb-3");
      node.appendChild(el("div", "small text-body-secondary mb-1 chat-who"));
      var bubble = el("div", "chat-bubble");
      bubble.appendChild(el("span", "chat-text"));
      node.appendChild(bubble);
      log.appendChild(node);
    }
    return node;
  }

  function renderCitations(node, citations) {
    var old = node.querySelector(".chat-citations");
    if (old) old.remove();
    if (!citations || !citations.length) return;
    var list = el("ul", "chat-citations list-inline small mt-1 mb-0");
    citations.forEach(function (citation) {
      var item = el("li", "list-inline-item");
      var link = el("a", "", citation.type === "article" ? "Source: " + citation.title : citation.label);
      link.href = citation.url;
      item.appendChild(link);
      list.appendChild(item);
    });
    node.appendChild(list);
  }

  function renderActions(node, actions) {
    node.querySelectorAll(".chat-action").forEach(function (card) { card.remove(); });
    (actions || []).forEach(function (action) {
      var card = el("div", "card chat-action mt-2");
      card.setAttribute("data-action", action.id);
      card.setAttribute("data-status", action.status);
      var body = el("div", "card-body py-2");
      body.appendChild(el("p", "mb-1 fw-semibold", action.summary));
      if (action.status === "proposed") {
        body.appendChild(el("p", "small text-body-secondary mb-2", "Nothing happens until you confirm."));
        var row = el("div", "d-flex flex-wrap gap-2 align-items-center");
        var secret = null;
        if (action.needs_step_up) {
          secret = el("input", "form-control form-control-sm w-auto");
          secret.type = "password";
          secret.autocomplete = "current-password";
          secret.placeholder = "Authenticator code (password if you have none)";
          secret.setAttribute("aria-label", "The code from your authenticator app (or your password if you have not set one up), to confirm the transfer");
          row.appendChild(secret);
        }
        var confirm = el("button", "btn btn-primary btn-sm", "Confirm");
        confirm.type = "button";
        confirm.addEventListener("click", function () {
          send({ type: "action.confirm", id: action.id, step_up: secret ? secret.value : "" });
        });
        var decline = el("button", "btn btn-outline-secondary btn-sm", "No, thanks");
        decline.type = "button";
        decline.addEventListener("click", function () {
          send({ type: "action.decline", id: action.id });
        });
        row.appendChild(confirm);
        row.appendChild(decline);
        body.appendChild(row);
      } else {
        var text = { executed: "Done.", declined: "You declined this.", failed: "This could not be done." }[action.status] || action.status;
        if (action.result && action.result.message) text += " " + action.result.message;
        body.appendChild(el("p", "small mb-0 chat-action-status", text));
      }
      card.appendChild(body);
      node.appendChild(card);
    });
  }

  function renderFeedback(node, message) {
    var old = node.querySelector(".chat-feedback");
    if (old) old.remove();
    if (message.role !== "assistant" || (message.status !== "complete" && message.status !== "stopped")) return;
    var box = el("div", "chat-feedback small mt-1 d-flex gap-1 align-items-center");
    var rating = message.feedback ? message.feedback.rating : "";
    box.appendChild(el("span", "text-body-secondary me-1", rating ? "Thanks for your feedback." : "Was this helpful?"));
    [["up", "Yes"], ["down", "No"]].forEach(function (choice) {
      var button = el("button", "btn btn-sm py-0 " + (rating === choice[0] ? "btn-secondary" : "btn-outline-secondary"), choice[1]);
      button.type = "button";
      button.setAttribute("aria-pressed", rating === choice[0] ? "true" : "false");
      button.addEventListener("click", function () {
        var comment = "";
        if (choice[0] === "down") comment = window.prompt("What was wrong with this answer? (optional)") || "";
        send({ type: "feedback", message_id: message.id, rating: choice[0], comment: comment });
      });
      box.appendChild(button);
    });
    node.appendChild(box);
  }

  function renderMessage(message) {
    var node = messageNode(message);
    node.className = "chat-message chat-" + message.role + " mb-3";
    node.setAttribute("data-id", message.id);
    node.setAttribute("data-status", message.status);
    if (message.client_id) node.setAttribute("data-client-id", message.client_id);
    node.querySelector(".chat-who, .small").textContent = roleLabel(message);
    var text = node.querySelector(".chat-text");
    if (message.status === "pending") {
      text.textContent = "…";
    } else if (message.status !== "streaming" || message.text) {
      text.textContent = message.text;
    }
    var mark = node.querySelector(".chat-mark");
    if (mark) mark.remove();
    if (message.status === "stopped") {
      node.querySelector(".chat-bubble").appendChild(el("span", "badge text-bg-light ms-1 chat-mark", "stopped"));
    }
    renderCitations(node, message.citations);
    renderActions(node, message.actions);
    renderFeedback(node, message);
    if (message.status === "pending" || message.status === "streaming") {
      streaming[message.id] = true;
    } else {
      delete streaming[message.id];
    }
    updateStop();
    node.scrollIntoView({ block: "end" });
  }

  function appendToken(event) {
    var node = findMessage(event.message_id);
    if (!node) {
      renderMessage({ id: event.message_id, role: "assistant", status: "streaming", text: "" });
      node = findMessage(event.message_id);
    }
    var text = node.querySelector(".chat-text");
    if (node.getAttribute("data-status") !== "streaming") {
      node.setAttribute("data-status", "streaming");
      text.textContent = "";
    }
    text.textContent += event.text;
    streaming[event.message_id] = true;
    updateStop();
    node.scrollIntoView({ block: "end" });
  }

  function updateStop() {
    stopButton.classList.toggle("d-none", Object.keys(streaming).length === 0);
  }

  var STATUS_TEXT = {
    escalated: "We've asked a person from our team to join. You can keep writing; they will see everything.",
    active: "You're talking to the BankSight assistant again. You can ask for a person at any time.",
    closed: "This conversation is closed. Start a new one to keep chatting."
  };

  // escalated → with_agent (a named person answers) → active (the assistant again) or
  // closed (the composer locks and the one-question survey appears).
  function setConversationStatus(status, agent) {
    if (agent) agentName = agent;
    if (!STATUS_TEXT[status] && status !== "with_agent") return;
    statusBox.classList.remove("d-none");
    statusBox.textContent = status === "with_agent"
      ? "You're talking to " + (agentName || "a person") + " from BankSight. Answers now come from them, not the assistant."
      : STATUS_TEXT[status];
    escalateButton.disabled = status !== "active";
    var closed = status === "closed";
    input.disabled = closed;
    sendButton.disabled = closed;
    input.placeholder = closed ? "This conversation is closed" : "Write a message";
    if (closed) {
      survey.classList.toggle("d-none", surveyDone);
      surveyThanks.classList.toggle("d-none", !surveyDone);
    }
  }

  function setBadge(text, style) {
    badge.textContent = text;
    badge.className = "badge text-bg-" + style;
  }

  function send(payload) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(payload));
      return true;
    }
    return false;
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + log.getAttribute("data-socket") + "?after=" + resumeAfter());
    socket.addEventListener("open", function () {
      retryDelay = 500;
      setBadge("Connected", "success");
      outbox.forEach(function (payload) { socket.send(JSON.stringify(payload)); });
      if (surveyPending) socket.send(JSON.stringify(surveyPending));
    });
    socket.addEventListener("close", function () {
      setBadge("Reconnecting…", "warning");
      window.setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 10000);
    });
    socket.addEventListener("message", function (raw) {
      var event = JSON.parse(raw.data);
      if (event.type === "message") {
        renderMessage(event.message);
        if (event.message.role === "customer") {
          outbox = outbox.filter(function (p) { return p.client_id !== event.message.client_id; });
        }
      } else if (event.type === "token") {
        appendToken(event);
      } else if (event.type === "done") {
        delete streaming[event.message_id];
        updateStop();
      } else if (event.type === "ack") {
        outbox = outbox.filter(function (p) { return p.client_id !== event.client_id; });
        var pending = log.querySelector('.chat-message[data-client-id="' + event.client_id + '"]');
        if (pending && !pending.getAttribute("data-id")) {
          pending.setAttribute("data-id", event.id);
          pending.setAttribute("data-status", "received");
        }
      } else if (event.type === "conversation") {
        setConversationStatus(event.status, event.agent);
      } else if (event.type === "survey.saved") {
        surveyPending = null;
        surveyDone = true;
        survey.classList.add("d-none");
        surveyThanks.classList.remove("d-none");
        surveyThanks.focus();
      } else if (event.type === "error") {
        errorBox.textContent = event.fields && Object.keys(event.fields).length
          ? Object.keys(event.fields).map(function (k) { return event.fields[k].join(" "); }).join(" ")
          : event.message;
        if (event.for === "survey") surveyPending = null;
        if (event.client_id) {
          outbox = outbox.filter(function (p) { return p.client_id !== event.client_id; });
          var failed = log.querySelector('.chat-message[data-client-id="' + event.client_id + '"]');
          if (failed && !failed.getAttribute("data-id")) failed.remove();
        }
      }
    });
  }

  function newClientId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return "c" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    errorBox.textContent = "";
    var text = input.value.trim();
    if (!text) {
      errorBox.textContent = "Write a message.";
      input.focus();
      return;
    }
    var payload = { type: "message", client_id: newClientId(), text: text };
    emptyHint();
    var node = el("div", "chat-message chat-customer mb-3");
    node.setAttribute("data-client-id", payload.client_id);
    node.setAttribute("data-status", "sending");
    node.appendChild(el("div", "small text-body-secondary mb-1 chat-who", "You"));
    var bubble = el("div", "chat-bubble");
    bubble.appendChild(el("span", "chat-text", text));
    node.appendChild(bubble);
    log.appendChild(node);
    node.scrollIntoView({ block: "end" });
    outbox.push(payload);
    send(payload);
    input.value = "";
    input.focus();
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      sendButton.click();
    }
  });

  stopButton.addEventListener("click", function () { send({ type: "stop" }); });

  escalateForm.addEventListener("submit", function (event) {
    if (send({ type: "escalate" })) {
      event.preventDefault();
      escalateButton.disabled = true;
    }
  });

  survey.addEventListener("submit", function (event) {
    event.preventDefault();
    errorBox.textContent = "";
    var picked = survey.querySelector("input[name=rating]:checked");
    if (!picked) {
      errorBox.textContent = "Choose a rating from 1 to 5.";
      return;
    }
    var comment = document.getElementById("chat-survey-comment").value.trim();
    surveyPending = { type: "survey", rating: parseInt(picked.value, 10), comment: comment };
    send(surveyPending);
  });

  if (log.getAttribute("data-status") === "closed") setConversationStatus("closed");

  connect();
})();
