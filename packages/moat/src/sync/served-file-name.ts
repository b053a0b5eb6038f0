// The name the hub gives a file (Content-Disposition), sent back as `client_db` so it can answer 304.
// It is only ever echoed to the hub, never used as a path, but is still bounded and cleaned.

const FILENAME = /filename\*?=(?:UTF-8'')?(?:"([^"]*)"|([^;]*))/i;

/** The filename of a Content-Disposition header, or null. */
export function servedFileName(header: string | null): string | null {
  if (header === null) return null;
  const match = FILENAME.exec(header);
  if (match === null) return null;
  let name = (match[1] ?? match[2] ?? '').trim();
  try {
    name = decodeURIComponent(name);
  } catch {
    // Not percent-encoded: keep as is.
  }
  name = name.replace(/^.*[\\/]/, '').replace(/[^\w.\-+]/g, '_').slice(0, 200);
  return name === '' ? null : name;
}
