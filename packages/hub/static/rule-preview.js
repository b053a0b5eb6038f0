// The rules page's "Preview": sends the draft in the add-rule form to the hub, which replays it against
// the stored reports in a worker, and shows progress, then the result. Everything from the reports is
// attacker-chosen text (paths, user agents), so it is only ever set as textContent, never as HTML.
(function () {
  'use strict';

  var button = document.querySelector('[data-rule-preview]');
  var panel = document.getElementById('rule-preview');
  if (!button || !panel) return;
  var form = button.form;
  var url = button.getAttribute('data-rule-preview');
  var current = 0;

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }
  function number(n) { return Number(n).toLocaleString('en-US'); }

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
    var m = r.matched;
    var allow = job.rule.action === 'allow';
    var summary = el('p', null, 'preview-summary');
    summary.setAttribute('data-preview-summary', '');
    summary.textContent = 'Of ' + number(r.requests) + ' requests, it would have matched ' + number(m.requests)
      + ' from ' + (m.distinctIpsAtLeast ? 'at least ' : '') + number(m.distinctIps) + ' IPs; '
      + number(r.wouldChange) + (allow ? ' of them were blocked and would now be allowed.' : ' of them were passed or allowed and would now be blocked.');
    var changed = el('strong', number(r.wouldChange));
    changed.setAttribute('data-preview-would-change', '');
    var headline = el('p');
    headline.appendChild(el('span', allow ? 'Newly allowed: ' : 'Newly blocked: '));
    headline.appendChild(changed);
    var top = function (list) { return list.entries.map(function (e) { return [e.value, number(e.count)]; }); };
    show([
      el('h3', 'Preview: ' + job.rule.kind + ' ' + job.rule.value + ' over the last ' + job.range),
      headline,
      summary,
      el('p', 'Recorded treatments of the matched requests: Passed ' + number(m.recorded.Passed) + ', Allowed ' + number(m.recorded.Allowed)
        + ', Blocked ' + number(m.recorded.Blocked) + '. Scanned ' + number(job.scanned) + ' reports in ' + (job.elapsedMs / 1000).toFixed(1) + ' s.', 'hint'),
      table('Top IPs', ['IP', 'Requests'], top(m.topIps)),
      table('Top paths', ['Path', 'Requests'], top(m.topPaths)),
      table('Top user agents', ['User agent', 'Requests'], top(m.topUserAgents)),
      table('Example requests', ['Time (UTC)', 'IP', 'Method', 'Host', 'Path', 'User agent', 'Recorded'], m.examples.map(function (e) {
        return [e.ts === null ? '' : new Date(e.ts * 1000).toISOString().slice(0, 19).replace('T', ' '), e.ip, e.method, e.host, e.path, e.userAgent, e.recorded || ''];
      })),
    ]);
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

  function poll(id, run) {
    fetch(url + '/' + id, { headers: { accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (response) { return response.json().then(function (body) { return { ok: response.ok, body: body }; }); })
      .then(function (answer) {
        if (run !== current) return;
        if (!answer.ok) return renderError(answer.body.message || 'The preview failed.');
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
        if (!answer.ok) return renderError(answer.body.message || 'The preview was refused.');
        var job = answer.body.job;
        if (job.state !== 'running') return renderError('The preview ' + job.state + (job.error ? ': ' + job.error : '') + '.');
        renderProgress(job);
        setTimeout(function () { poll(job.id, run); }, 200);
      })
      .catch(function () { if (run === current) renderError('The hub did not answer.'); });
  });
})();
