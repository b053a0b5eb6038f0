import { open } from 'node:fs/promises';
import type { FastifyReply } from 'fastify';
import type { FileSignatures } from './file-signatures.js';

/**
 * Streams a rules or data file. It is opened first and sized and signed through that descriptor, so
 * length, signature and body all describe one file even while a rebuild renames a newer one over the
 * name. Nothing is read into memory on the request's behalf (signing big files runs in a worker).
 */
export async function sendFile(reply: FastifyReply, path: string, fileName: string, signatures: FileSignatures | null): Promise<FastifyReply> {
  const handle = await open(path, 'r');
  try {
    const stat = await handle.stat({ bigint: true });
    const size = Number(stat.size);
    if (signatures) {
      const signed = await signatures.forOpenFile(handle, stat);
      reply.header('X-Moat-Signature', signed.signature).header('X-Moat-Digest-Signature', signed.digestSignature);
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
