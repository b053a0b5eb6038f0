// The dashboard's "Preview" panels (rules page, Thresholds page): sends the draft in the page's form to
// the hub, which replays the stored reports in a worker, polls the job, shows progress, then the page's
// own rendering of the result (rule-preview.js, threshold-preview.js register it with moatPreview.panel).
// Everything from the reports is attacker-chosen text (paths, user agents), so it is only ever set as
// textContent, never as HTML.
(function () {
  'use strict';

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }
  function number(n) { return Number(n).toLocaleString('en-US'); }
  function time(ts) { return new Date(ts * 1000).toISOString().slice(0, 19).replace('T', ' '); }

  /** A titled table of text cells, marked data-preview-table="<title>"; "none" when there are no rows. */
  function table(title, head, rows) {
    var t = el('table', null, 'data');
    t.setAttribute('data-preview-table', title);
    var tr = el('tr');
    head.forEach(function (h) { tr.appendChild(el('th', h)); });
    var thead = el('thead'); thead.appendChild(tr); t.appendChild(thead);
    var body = el('tbody');
    if (rows.length === 0) {
      var empty = el('tr'); var td = el('td', 'none', 'empty'); td.colSpan = head.length; empty.appendChild(td); body.appendChild(empty);
    }
    rows.forEach(function (cells) {
      var row = el('tr');
      cells.forEach(function (c) { row.appendChild(el('td', c)); });
      body.appendChild(row);
    });
    t.appendChild(body);
    var wrap = el('div', null, 'table-wrap');
    wrap.appendChild(el('h3', title));
    wrap.appendChild(t);
    return wrap;
  }

  /** The hub's message, with the fields its validation refused (`windowSeconds: …`). */
  function messageOf(body, fallback) {
    var message = body.message || fallback;
    if (Array.isArray(body.issues) && body.issues.length > 0) {
      message += ': ' + body.issues.map(function (i) { return (i.path ? i.path + ': ' : '') + i.message; }).join('; ');
    }
    return message;
  }

  function answerOf(response) {
    return response.json().then(function (body) { return { ok: response.ok, body: body }; });
  }

  /**
   * Wires the page's Preview button (the element with `attribute`, whose value is the preview API's URL)
   * to the panel `panelId`; `renderResult(job)` gives the nodes that show a finished job.
   */
  function panel(attribute, panelId, renderResult) {
    var button = document.querySelector('[' + attribute + ']');
    var target = document.getElementById(panelId);
    if (!button || !target) return;
    var form = button.form;
    var url = button.getAttribute(attribute);
    // The latest click's number: answers to an earlier click are dropped.
    var current = 0;

    function show(nodes) {
      target.replaceChildren.apply(target, nodes);
      target.hidden = false;
    }
    function renderProgress(job) {
      var bar = el('progress');
      bar.max = 1;
      bar.value = job.progress;
      bar.setAttribute('data-preview-progress', '');
      show([el('p', 'Replaying the stored reports of the last ' + job.range + '… ' + number(job.scanned) + ' read so far.'), bar]);
    }
    function renderError(message) {
      var p = el('p', message, 'field-error');
      p.setAttribute('data-preview-error', '');
      show([p]);
    }
    function follow(job, run) {
      if (job.state === 'running') { renderProgress(job); setTimeout(function () { poll(job.id, run); }, 300); }
      else if (job.state === 'done') show(renderResult(job));
      else renderError('The preview ' + job.state + (job.error ? ': ' + job.error : '') + '.');
    }
    function poll(id, run) {
      fetch(url + '/' + id, { headers: { accept: 'application/json' }, credentials: 'same-origin' })
        .then(answerOf)
        .then(function (answer) {
          if (run !== current) return;
          if (!answer.ok) return renderError(messageOf(answer.body, 'The preview failed.'));
          follow(answer.body.job, run);
        })
        .catch(function () { if (run === current) renderError('The hub did not answer.'); });
    }

    button.addEventListener('click', function () {
      var run = ++current;
      var fields = {};
      new FormData(form).forEach(function (value, name) {
        if (name !== '_csrf' && name !== 'preview_range' && typeof value === 'string') fields[name] = value;
      });
      var range = form.querySelector('[data-preview-range]');
      var csrf = form.querySelector('input[name="_csrf"]');
      show([el('p', 'Starting the preview…')]);
      fetch(url, {
        method: 'POST', credentials: 'same-origin',
        headers: { 'content-type': 'application/json', accept: 'application/json', 'x-csrf-token': csrf ? csrf.value : '' },
        body: JSON.stringify({ form: fields, range: range ? range.value : '24h' }),
      })
        .then(answerOf)
        .then(function (answer) {
          if (run !== current) return;
          if (!answer.ok) return renderError(messageOf(answer.body, 'The preview was refused.'));
          var job = answer.body.job;
          if (job.state !== 'running') return follow(job, run);
          renderProgress(job);
          setTimeout(function () { poll(job.id, run); }, 200);
        })
        .catch(function () { if (run === current) renderError('The hub did not answer.'); });
    });
  }

  window.moatPreview = { panel: panel, el: el, number: number, time: time, table: table };
})();
