import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { formatIp, tryParseIp } from 'moat-waf/ip';
import { actorOf } from '../../audit/actor.js';
import { visibleSites } from '../../auth/access-policy.js';
import { sessionGuard } from '../../auth/guards.js';
import { safeNextPath } from '../../auth/login-routes.js';
import type { CountryLookup } from '../../distribution/country-lookup.js';
import type { HubContext } from '../../server/context.js';
import { HttpError } from '../../server/http-error.js';
import { siteIdOf, stringParam } from '../../server/params.js';
import type { SiteService } from '../../sites/site-service.js';
import type { ValueHour } from '../../store/store.js';
import { ipDetailPage, type IpFacts } from '../pages/ip-detail-page.js';
import { coverageLookup, ruleCoverage, rulesForIp } from '../rule-coverage.js';

/** The timeline covers this many days, hourly: one index seek per hour (168), never a scan. */
const TIMELINE_DAYS = 7;
/** Recent requests shown; the request log walks back hour by hour on a time budget. */
const RECENT_LIMIT = 50;

const NOTICES: Record<string, string> = {
  'rule-created': 'Rule created; clients get it on their next download.',
  'rule-exists': 'That rule already exists; its mode was set as asked.',
  'rule-deleted': 'Rule deleted; clients drop it on their next download.',
};

const undoSchema = z.object({ back: z.string().max(2048).optional() });

/**
 * The IP page (what an operator opens during an incident) and the undo of a one-click rule, which
 * sends the operator back to the list they clicked in rather than to the Rules page.
 */
export async function ipDetailRoutes(app: FastifyInstance, ctx: HubContext, sites: SiteService): Promise<void> {
  await app.register(async (ui) => {
    ui.addHook('preHandler', sessionGuard(ctx, 'html'));
    const send = (reply: FastifyReply, page: string, status = 200) =>
      reply.code(status).type('text/html; charset=utf-8').header('Cache-Control', 'no-store').send(page);

    ui.get('/sites/:siteId/ips/:ip', { config: { access: 'signed-in' } }, async (request: FastifyRequest, reply) => {
      const site = await sites.requireSite(siteIdOf(request));
      // The reported text, as stored (the log and rollups key on it); it must still be one address.
      const ip = stringParam(request, 'ip', 64);
      const address = /^[0-9A-Fa-f:.]+$/.test(ip) ? tryParseIp(ip) : null;
      if (!address) throw new HttpError(404, 'not an IP address', 'not_found');
      const nowMs = ctx.now();
      const now = Math.floor(nowMs / 1000);
      const from = now - (now % 3600) + 3600 - TIMELINE_DAYS * 86_400;
      const [all, hours, recent] = await Promise.all([
        visibleSites(ctx.store, request.hubSession!),
        ctx.store.valueHours(site.id, 'ip', ip, from, now + 1),
        ctx.store.queryReports(site.id, { ip }, { limit: RECENT_LIMIT }),
      ]);
      const facts = ipFacts(ctx, formatIp(address), recent.rows.find((r) => r.country)?.country ?? null);
      // Only the rules that may apply to this address: its ranges, and its country, network and lists.
      const lookup = coverageLookup([{ kind: 'ip', value: ip }, { kind: 'ip', value: formatIp(address) }]);
      const rules = await ctx.store.rulesFor(site.id, {
        ...lookup, countries: facts.country === null ? [] : [facts.country], asns: facts.asn === null ? [] : [facts.asn], lists: facts.lists,
      });
      const q = request.query as { done?: string };
      return send(reply, ipDetailPage({
        user: { email: request.hubSession!.email, csrfToken: request.hubSession!.csrfToken, role: request.hubSession!.role },
        site, sites: all, ip, facts,
        rulesNow: rulesForIp(rules, formatIp(address), facts, nowMs),
        coverage: ruleCoverage(rules, nowMs),
        timeline: timelineWindow(from, from + TIMELINE_DAYS * 86_400, hours),
        recent: recent.rows, recentPartial: recent.partial === true,
        notice: q.done ? NOTICES[q.done] : undefined,
      }));
    });

    // Undo of a rule shown beside a value: deletes it (through the rule service, so it is audited and
    // recompiled) and returns to the page it was clicked on. Admins only (the access policy's default).
    ui.post('/sites/:siteId/rules/:ruleId/undo', async (request, reply) => {
      const siteId = siteIdOf(request);
      const parsed = undoSchema.safeParse(request.body ?? {});
      const back = safeNextPath(parsed.success ? parsed.data.back : undefined);
      const backPath = back.startsWith(`/sites/${siteId}`) ? back.replace(/[?&]done=[^&]*/g, '') : `/sites/${siteId}`;
      await ctx.rules.remove(siteId, stringParam(request, 'ruleId', 64), actorOf(request));
      return reply.redirect(`${backPath}${backPath.includes('?') ? '&' : '?'}done=rule-deleted`, 303);
    });
  });
}

/** Country, network and lists from the hub's data file; the country falls back to what reports said. */
function ipFacts(ctx: HubContext, ip: string, reportedCountry: string | null): IpFacts {
  const lookup = ctx.countryOf as CountryLookup;
  const label = lookup.labelOf?.(ip) ?? null;
  const country = label?.country ?? (lookup.labelOf ? null : ctx.countryOf(ip));
  return {
    country: country ?? reportedCountry,
    countrySource: country ? 'data file' : reportedCountry ? 'reports' : null,
    asn: label?.asn ?? null,
    lists: label?.lists ?? [],
    hasAsnData: lookup.hasAsnData === true,
    hasListData: lookup.hasListData === true,
  };
}

/** The last 24 hours when the IP was seen only in them (a new attacker), else the whole week. */
function timelineWindow(from: number, to: number, hours: readonly ValueHour[]): { from: number; to: number; hours: readonly ValueHour[] } {
  const lastDay = to - 86_400;
  return hours.every((h) => h.hour >= lastDay) ? { from: lastDay, to, hours } : { from, to, hours };
}
