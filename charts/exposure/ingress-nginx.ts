/** ingress-nginx annotations the feed's WebSockets need (ingress-nginx passes the Upgrade headers itself). */
const PREFIX = 'nginx.ingress.kubernetes.io';

/** Annotation keys used on the Ingress. */
export const IngressAnnotations = Object.freeze({
  PROXY_READ_TIMEOUT: `${PREFIX}/proxy-read-timeout`,
  PROXY_SEND_TIMEOUT: `${PREFIX}/proxy-send-timeout`,
  PROXY_BUFFERING: `${PREFIX}/proxy-buffering`,
  CERT_MANAGER_CLUSTER_ISSUER: 'cert-manager.io/cluster-issuer',
} as const);

/**
 * Timeouts of hours so a quiet socket is not cut between the app's pings, and no response
 * buffering so frames reach the browser when written, not when a buffer fills.
 */
export function streamingAnnotations(timeoutSeconds: number): Record<string, string> {
  return {
    [IngressAnnotations.PROXY_READ_TIMEOUT]: String(timeoutSeconds),
    [IngressAnnotations.PROXY_SEND_TIMEOUT]: String(timeoutSeconds),
    [IngressAnnotations.PROXY_BUFFERING]: 'off',
  };
}
