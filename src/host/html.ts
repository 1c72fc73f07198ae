/**
 * The panel's HTML: a strict Content Security Policy (nothing remote, scripts only with this page's nonce,
 * styles and images only from the extension's own folders), the bundled webview script and stylesheet.
 * The webview UI toolkit styles its elements with constructable stylesheets (adoptedStyleSheets), which
 * style-src does not govern, so no 'unsafe-inline' is needed.
 */
import { randomBytes } from 'node:crypto';

export function makeNonce(): string {
  return randomBytes(18).toString('base64').replace(/[^A-Za-z0-9]/g, '').padEnd(16, '0');
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** For attribute values that may contain single quotes (the CSP): only what could end the attribute is escaped. */
function escapeAttr(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
}

export interface HtmlParts {
  cspSource: string;
  scriptUri: string;
  styleUri: string;
  nonce: string;
  imagePath: string;
  title: string;
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `img-src ${cspSource} data: blob:`,
    `font-src ${cspSource}`,
  ].join('; ');
}

export function panelHtml(p: HtmlParts): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeAttr(contentSecurityPolicy(p.cspSource, p.nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" nonce="${p.nonce}" href="${escapeHtml(p.styleUri)}">
<title>${escapeHtml(p.title)}</title>
</head>
<body data-image-path="${escapeHtml(p.imagePath)}" data-nonce="${p.nonce}">
<div id="app" data-state="loading"><p class="loading">Loading ${escapeHtml(p.title)}…</p></div>
<script nonce="${p.nonce}" src="${escapeHtml(p.scriptUri)}"></script>
</body>
</html>`;
}
