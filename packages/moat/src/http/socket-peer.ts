// Why a request's socket has no peer address. Node reports none for a Unix socket (no IP at all), and
// also for a TCP connection that was reset before anyone asked: a client can send a request and close
// at once, hoping an app whose firewall runs after an async middleware judges it without its address.
// The two are told apart here; only the rare peerless request pays for it.

import type { Socket } from 'node:net';

export type PeerlessSocket = 'unix' | 'closed' | 'unknown';

/** `socket` is a request's socket whose `remoteAddress` was undefined. */
export function peerlessSocketKind(socket: Socket | undefined | null): PeerlessSocket {
  // A server listening on a Unix socket reports its address as the socket's path (a string).
  const server = (socket as { server?: { address?: () => unknown } } | undefined | null)?.server;
  if (server !== undefined && typeof server.address === 'function' && typeof server.address() === 'string') return 'unix';
  if (socket?.destroyed === true) return 'closed';
  // A stand-in socket (a test double, a serverless bridge) without an address.
  return 'unknown';
}
