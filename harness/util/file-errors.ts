/** Why a file could not be read, in the words every "file ... <why>" message uses. */
export function whyUnreadable(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT') return 'does not exist';
  if (e.code === 'EISDIR') return 'is a directory';
  return `cannot be read (${e.message})`;
}
