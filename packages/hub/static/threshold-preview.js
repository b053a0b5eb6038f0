// The Thresholds page's "Preview": sends the draft in the threshold-rule form to the hub, which replays
// the stored reports through the hub's own counting and ban policy in a worker, and shows progress, then
// whom the rule would have banned. Report fields are attacker-chosen text: only ever set as textContent.
(function () {
  'use strict';

  var button = document.querySelector('[data-threshold-preview]');
  var panel = document.getElementById('threshold-preview');
  if (!button || !panel) return;
  var form = button.form;
  var url = button.getAttribute('data-threshold-preview');
  var current = 0;

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }
  function number(n) { return Number(n).toLocaleString('en-US'); }
  function time(ts) { return new Date(ts * 1000).toISOString().slice(0, 19).replace('T', ' '); }

  function show(nodes) {
    panel.replaceChildren.apply(panel, nodes);
    panel.hidden = false;
  }

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

  function renderResult(job) {
    var r = job.result;
    var enforce = job.rule.mode === 'enforce';
    var bans = el('strong', number(r.bans));
    bans.setAttribute('data-preview-bans', '');
    var headline = el('p');
    headline.appendChild(el('span', enforce ? 'Bans it would have made: ' : 'Would-be bans (monitor): '));
    headline.appendChild(bans);
    headline.appendChild(el('span', ' of ' + number(r.bannedKeys) + ' keys.'));
    var nodes = [el('h3', 'Preview: "' + job.rule.name + '" over the last ' + job.range), headline];
    var summary = el('p', 'Of ' + number(r.requests) + ' requests, ' + number(r.matched) + ' matched its condition; keys reached the threshold '
      + number(r.crossings) + ' times. Not banned: ' + number(r.refused.allowListed) + ' covered by allow rules, ' + number(r.refused.cap)
      + ' over the cap on standing bans, ' + number(r.refused.rate) + ' over the rule\u2019s bans per minute.', 'preview-summary');
    summary.setAttribute('data-preview-summary', '');
    nodes.push(summary);
    if (enforce) {
      var blocked = el('p', 'Requests from banned keys while banned: ' + number(r.blockedAfterBan) + ', of which ' + number(r.newlyBlocked)
        + ' were passed or allowed and would now be blocked.');
      blocked.setAttribute('data-preview-blocked', '');
      nodes.push(blocked);
    }
    if (job.rule.condition.status !== null) nodes.push(el('p', 'Only reports that carry a response status can match the status condition: reports from Wafris clients, counted Passed requests and reports stored before this hub version have none.', 'hint'));
    if (!r.keysStored && job.rule.key !== 'ip' && job.rule.key !== 'ip64') {
      nodes.push(el('p', 'The stored reports carry no hashed keys, so every report was counted by its IP.', 'hint'));
    }
    nodes.push(el('p', 'Scanned ' + number(job.scanned) + ' reports in ' + (job.elapsedMs / 1000).toFixed(1) + ' s.', 'hint'));
    nodes.push(table('Top banned keys', enforce ? ['Key', 'First ban (UTC)', 'Bans', 'Blocked while banned'] : ['Key', 'First ban (UTC)', 'Bans'],
      r.topKeys.map(function (k) {
        var row = [k.key, time(k.firstBanAt), number(k.bans)];
        if (enforce) row.push(number(k.blocked));
        return row;
      })));
    nodes.push(table('Reports that crossed the threshold', ['Time (UTC)', 'IP', 'Method', 'Path', 'User agent', 'Recorded', 'Banned key'], r.examples.map(function (e) {
      return [time(e.ts), e.ip, e.method, e.path, e.userAgent, e.recorded, e.key];
    })));
    show(nodes);
  }

  function renderProgress(job) {
    var bar = el('progress');
    bar.max = 1;
    bar.value = job.progress;
    bar.setAttribute('data-preview-progress', '');
    show([el('p', 'Replaying the stored reports of the last ' + job.range + '… ' + number(job.scanned) + ' read so far.'), bar]);
  }

  /** The hub's message, with the fields its validation refused (`windowSeconds: …`). */
  function messageOf(body, fallback) {
    var message = body.message || fallback;
    if (Array.isArray(body.issues) && body.issues.length > 0) {
      message += ': ' + body.issues.map(function (i) { return (i.path ? i.path + ': ' : '') + i.message; }).join('; ');
    }
    return message;
  }

  function renderError(message) {
    var p = el('p', message, 'field-error');
    p.setAttribute('data-preview-error', '');
    show([p]);
  }

  function poll(id, run) {
    fetch(url + '/' + id, { headers: { accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (response) { return response.json().then(function (body) { return { ok: response.ok, body: body }; }); })
      .then(function (answer) {
        if (run !== current) return;
        if (!answer.ok) return renderError(messageOf(answer.body, 'The preview failed.'));
        var job = answer.body.job;
        if (job.state === 'running') { renderProgress(job); setTimeout(function () { poll(id, run); }, 300); }
        else if (job.state === 'done') renderResult(job);
        else renderError('The preview ' + job.state + (job.error ? ': ' + job.error : '') + '.');
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
      .then(function (response) { return response.json().then(function (body) { return { ok: response.ok, body: body }; }); })
      .then(function (answer) {
        if (run !== current) return;
        if (!answer.ok) return renderError(messageOf(answer.body, 'The preview was refused.'));
        var job = answer.body.job;
        if (job.state !== 'running') return renderError('The preview ' + job.state + (job.error ? ': ' + job.error : '') + '.');
        renderProgress(job);
        setTimeout(function () { poll(job.id, run); }, 200);
      })
      .catch(function () { if (run === current) renderError('The hub did not answer.'); });
  });
})();
