import { open, type FileHandle } from 'node:fs/promises';
import type { FastifyReply } from 'fastify';
import type { FileSignatures } from './file-signatures.js';
import {
  FRESHNESS_HEADER, FRESHNESS_SIGNATURE_HEADER, freshnessStatement, type FreshnessCategory,
} from '../signing/freshness-statement.js';

/** Who a downsync answer is for: the freshness statement names them (signing/freshness-statement.ts). */
export interface AnswerFor {
  site: string;
  category: FreshnessCategory;
  /** The hub's clock (Unix ms): the statement's `issued`. */
  now: () => number;
}

/**
 * Streams a rules or data file. It is opened first and sized and signed through that descriptor, so
 * length, signature and body all describe one file even while a rebuild renames a newer one over the
 * name. Nothing is read into memory on the request's behalf (signing big files runs in a worker).
 */
export async function sendFile(
  reply: FastifyReply, path: string, fileName: string, signatures: FileSignatures | null, answerFor: AnswerFor | null = null,
): Promise<FastifyReply> {
  const handle = await open(path, 'r');
  try {
    const stat = await handle.stat({ bigint: true });
    const size = Number(stat.size);
    if (signatures) {
      const signed = await signatures.forOpenFile(handle, stat);
      reply.header('X-Moat-Signature', signed.signature).header('X-Moat-Digest-Signature', signed.digestSignature);
      if (answerFor) setFreshness(reply, signatures, answerFor, signed.sha256);
    }
    reply.header('Content-Type', 'application/vnd.sqlite3').header('Content-Length', String(size));
    // File names are [A-Za-z0-9_.-] only, so the unquoted form every client parses is safe.
    reply.header('Content-Disposition', `attachment; filename=${fileName}`);
    if (size === 0) {
      await handle.close();
      return reply.send(Buffer.alloc(0));
    }
    // `end` keeps the body at the signed length even if someone appends to the file meanwhile.
    return reply.send(handle.createReadStream({ start: 0, end: size - 1, autoClose: true }));
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
}

/**
 * A 304, with a statement naming the bytes of the file current now: the client learns that its file is
 * still current as of now, or, when its bytes differ (a rebuild of equal rules), asks for the file. The
 * hash comes from the signature cache (computed once per file). A file gone meanwhile (a rebuild's
 * cleanup) leaves the 304 without a statement; a client that requires one asks again later.
 */
export async function sendNotModified(
  reply: FastifyReply, path: string, signatures: FileSignatures | null, answerFor: AnswerFor | null,
): Promise<FastifyReply> {
  if (signatures && answerFor) {
    let handle: FileHandle | undefined;
    try {
      handle = await open(path, 'r');
      const signed = await signatures.forOpenFile(handle, await handle.stat({ bigint: true }));
      setFreshness(reply, signatures, answerFor, signed.sha256);
    } catch (error) {
      reply.log.warn({ err: error }, 'could not sign the freshness statement of a 304; sent without one');
    } finally {
      await handle?.close().catch(() => undefined);
    }
  }
  return reply.code(304).send();
}

/** Issued as the answer leaves (after any long-poll hold), so the client's freshness is the answer's. */
function setFreshness(reply: FastifyReply, signatures: FileSignatures, answerFor: AnswerFor, sha256: string): void {
  const statement = freshnessStatement(answerFor.site, answerFor.category, sha256, answerFor.now());
  reply.header(FRESHNESS_HEADER, statement).header(FRESHNESS_SIGNATURE_HEADER, signatures.signStatement(statement));
}
