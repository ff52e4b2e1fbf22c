/** Bearer token verification: HS256 with a shared secret, or keys from a JWKS URL; `exp` and `sub` required. */
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { ID_PATTERN } from '../config.js';

/** Who a valid token belongs to. */
export interface Principal {
  readonly userId: string;
  /** Expiry, milliseconds since the epoch. */
  readonly expiresAt: number;
}

/** A token was missing or not acceptable; `reason` is safe to show the client. */
export class AuthError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'AuthError';
  }
}

export type TokenVerifier = (token: string) => Promise<Principal>;

/** Creates a verifier from the HS256 secret or, without one, the JWKS URL. */
export function createTokenVerifier(opts: { readonly jwtSecret?: string; readonly jwksUrl?: string }): TokenVerifier {
  let verify: (token: string) => Promise<{ payload: JWTPayload }>;
  if (opts.jwtSecret !== undefined) {
    const key = new TextEncoder().encode(opts.jwtSecret);
    verify = (t) => jwtVerify(t, key, { algorithms: ['HS256'], requiredClaims: ['exp', 'sub'] });
  } else if (opts.jwksUrl !== undefined) {
    const jwks: JWTVerifyGetKey = createRemoteJWKSet(new URL(opts.jwksUrl));
    verify = (t) => jwtVerify(t, jwks, { requiredClaims: ['exp', 'sub'] });
  } else {
    throw new Error('createTokenVerifier: give jwtSecret or jwksUrl');
  }
  return async (token) => {
    let payload;
    try {
      ({ payload } = await verify(token));
    } catch (e) {
      if (e instanceof errors.JWTExpired) throw new AuthError('token expired');
      if (e instanceof errors.JWSSignatureVerificationFailed) throw new AuthError('bad token signature');
      if (e instanceof errors.JWTClaimValidationFailed) throw new AuthError(`token claim ${e.claim}: ${e.message}`);
      throw new AuthError('malformed or unverifiable token');
    }
    const sub = payload.sub;
    if (typeof sub !== 'string' || !ID_PATTERN.test(sub)) throw new AuthError('token sub is not a valid user id');
    return { userId: sub, expiresAt: (payload.exp as number) * 1000 };
  };
}

/** The token of a request: `Authorization: Bearer <jwt>` first, else `?token=`. */
export function tokenFromRequest(authorization: string | undefined, url: URL): string | undefined {
  if (authorization !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return m?.[1];
  }
  const q = url.searchParams.get('token');
  return q === null || q === '' ? undefined : q;
}

/** Mints an HS256 token for `userId` that expires in `ttlSeconds` (dev helper, tests, chaos workload). */
export async function signToken(secret: string, userId: string, ttlSeconds: number): Promise<string> {
  const { SignJWT } = await import('jose');
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({}).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject(userId).setIssuedAt(now).setExpirationTime(now + ttlSeconds).sign(new TextEncoder().encode(secret));
}
