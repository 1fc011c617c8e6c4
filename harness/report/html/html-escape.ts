/**
 * Escaping for the self-contained report: text into HTML, JSON into a <script> element, and a
 * script library inlined into a <script> element. What must stay true: nothing taken from a run
 * (error messages, names, URLs) can end an element or open markup in the report.
 */

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text or an attribute value, escaped for HTML. null/undefined are the empty string. */
export function escapeHtml(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '';
  return String(v).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/**
 * JSON for a `<script type="application/json">` element. `<`, `>` and `&` become `\u003c`,
 * `\u003e`, `\u0026` (so `</script>` and `<!--` cannot appear), and U+2028/U+2029 are escaped too;
 * JSON.parse reads the result back unchanged.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/**
 * JavaScript source for an inline `<script>`: `</script` (any case) and `<!--` are written so that
 * the HTML parser cannot end the element early. In a minified library these only ever occur in
 * strings or regular expressions, where `<\/` and `\x3C!--` mean the same.
 */
export function scriptForInline(source: string): string {
  return source.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '\\x3C!--');
}
