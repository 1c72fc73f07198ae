/**
 * Imported first by main.ts, so it runs before the toolkit's modules: fast-web-utilities probes :focus-visible
 * at module load with a <style> element and gives it the nonce of <meta property="csp-nonce">. The host puts the
 * page nonce on <body data-nonce>; without this meta the probe would be a (harmless) CSP violation report.
 */
const nonce = typeof document !== 'undefined' ? document.body?.dataset.nonce ?? document.currentScript?.getAttribute('nonce') : null;
if (nonce && !document.querySelector('meta[property="csp-nonce"]')) {
  const meta = document.createElement('meta');
  meta.setAttribute('property', 'csp-nonce');
  meta.setAttribute('content', nonce);
  document.head.append(meta);
}
export {};
