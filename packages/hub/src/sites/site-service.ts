import type { Actor } from '../audit/actor.js';
import type { AuditLog } from '../audit/audit-log.js';
import { generateApiKey } from '../auth/secrets.js';
import type { RulesBuilder } from '../distribution/rules-builder.js';
import { HttpError } from '../server/http-error.js';
import type { ApiKeyInfo, HubStore, Site } from '../store/store.js';

/**
 * Sites and their API keys; each change is written to the audit log with its actor. A key's plain text
 * exists only in the return value of createKey (the log records its id and prefix).
 */
export class SiteService {
  constructor(
    private readonly store: HubStore,
    private readonly builder: RulesBuilder,
    private readonly now: () => number,
    private readonly audit: AuditLog,
  ) {}

  async createSite(name: string, actor: Actor): Promise<Site> {
    const site = await this.store.createSite(name);
    await this.audit.record(actor, 'site.create', { siteId: site.id, target: String(site.id), after: { name } });
    // Compile the (empty) rule files now so the first downsync is served at once.
    await this.builder.rebuild(site.id);
    return site;
  }

  async requireSite(siteId: number): Promise<Site> {
    const site = await this.store.getSite(siteId);
    if (!site) throw new HttpError(404, 'no such site', 'not_found');
    return site;
  }

  async createKey(siteId: number, label: string, actor: Actor): Promise<{ key: string; info: ApiKeyInfo }> {
    await this.requireSite(siteId);
    const { key, hash, shownPrefix } = generateApiKey();
    const info = await this.store.createApiKey(siteId, label, hash, shownPrefix);
    await this.audit.record(actor, 'key.create', { siteId, target: String(info.id), after: { label, prefix: info.prefix } });
    return { key, info };
  }

  async revokeKey(siteId: number, keyId: number, actor: Actor): Promise<void> {
    if (!(await this.store.revokeApiKey(siteId, keyId, Math.floor(this.now() / 1000)))) {
      throw new HttpError(404, 'no such active key', 'not_found');
    }
    await this.audit.record(actor, 'key.revoke', { siteId, target: String(keyId) });
  }
}
