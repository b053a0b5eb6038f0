// The Thresholds page's "Preview" result: whom the draft threshold rule would have banned, counted by the
// hub's own counting and ban policy over the stored reports. The panel itself (draft, job, progress) is
// preview-panel.js.
(function () {
  'use strict';

  var ui = window.moatPreview;
  if (!ui) return;
  var el = ui.el;
  var number = ui.number;

  ui.panel('data-threshold-preview', 'threshold-preview', function (job) {
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
    nodes.push(ui.table('Top banned keys', enforce ? ['Key', 'First ban (UTC)', 'Bans', 'Blocked while banned'] : ['Key', 'First ban (UTC)', 'Bans'],
      r.topKeys.map(function (k) {
        var row = [k.key, ui.time(k.firstBanAt), number(k.bans)];
        if (enforce) row.push(number(k.blocked));
        return row;
      })));
    nodes.push(ui.table('Reports that crossed the threshold', ['Time (UTC)', 'IP', 'Method', 'Path', 'User agent', 'Recorded', 'Banned key'], r.examples.map(function (e) {
      return [ui.time(e.ts), e.ip, e.method, e.path, e.userAgent, e.recorded, e.key];
    })));
    return nodes;
  });
})();
