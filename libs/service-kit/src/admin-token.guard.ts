import { createHash, timingSafeEqual } from 'node:crypto';

import { CanActivate, ExecutionContext, Inject, Injectable, Logger, UnauthorizedException } from '@nestjs/common';

import { ServiceEnv } from './env';
import { ENV } from './infrastructure.module';

/** Methods that only read: always open (GET /health, GET /runs/…/state, GET /chaos/flags). */
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Whether `header` is exactly `Bearer <token>` (compared in constant time, on digests). */
export function bearerTokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? '');
  if (!m) return false;
  return timingSafeEqual(createHash('sha256').update(m[1] as string).digest(), createHash('sha256').update(token).digest());
}

/**
 * The admin surface (issue 9, item 7): when MFSIM_ADMIN_TOKEN is set, every request that changes
 * state (POST, PUT, PATCH, DELETE: set-up and drop of a run, the chaos flags, …) needs
 * `Authorization: Bearer <token>`. A missing or wrong token is refused with 401 and one JSON line,
 * and logged (method, path, reason, peer; never a token). Reads stay open.
 */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly logger = new Logger('admin');

  constructor(@Inject(ENV) private readonly env: ServiceEnv) {}

  canActivate(context: ExecutionContext): boolean {
    const token = this.env.MFSIM_ADMIN_TOKEN;
    if (token === undefined || context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<{ method: string; originalUrl?: string; url: string; headers: Record<string, string | undefined>; ip?: string }>();
    if (READ_METHODS.has(req.method)) return true;
    const header = req.headers['authorization'];
    if (bearerTokenMatches(header, token)) return true;
    const reason = header === undefined ? 'missing token' : 'wrong token';
    const path = (req.originalUrl ?? req.url).split('?')[0];
    this.logger.warn(`admin.refused method=${req.method} path=${path} reason=${reason} peer=${req.ip ?? '?'}`);
    throw new UnauthorizedException(`${req.method} ${path} needs "Authorization: Bearer <admin token>" (${reason}; the token is MFSIM_ADMIN_TOKEN or in .mfsim/stack/state.json)`);
  }
}
