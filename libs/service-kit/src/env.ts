import { z } from 'zod';

import { parseBrokers } from '@mfsim/messaging';

import { ServiceIdentity } from './service';

/** A service's runtime configuration (docs/conventions.md, "Runtime configuration"). */
export function serviceEnvSchema(defaultHttpPort: number) {
  return z.object({
    KAFKA_BROKERS: z
      .string()
      .default('127.0.0.1:19092')
      .transform(parseBrokers)
      .pipe(z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port')).min(1, 'expected host:port[,host:port]')),
    DATABASE_URL: z
      .url({ protocol: /^postgres(ql)?$/, error: 'expected a postgresql:// URL' })
      .default('postgresql://postgres@127.0.0.1:5432/mfsim'),
    REDIS_URL: z.url({ protocol: /^rediss?$/, error: 'expected a redis:// URL' }).default('redis://127.0.0.1:6379'),
    MFSIM_TOPIC_PREFIX: z
      .string()
      .max(100)
      .regex(/^[A-Za-z0-9._-]*$/, 'Kafka names allow only letters, digits, ".", "_" and "-"')
      .default(''),
    MFSIM_REDIS_PREFIX: z.string().max(100).default('mfsim:'),
    HTTP_PORT: z.coerce.number().int().min(1).max(65535).default(defaultHttpPort),
    /** The address the HTTP server binds: loopback unless a deployment opens it (compose: 0.0.0.0). */
    HTTP_HOST: z.string().trim().min(1, 'expected an IP address or host name').default('127.0.0.1'),
    /** When set, state-changing HTTP requests need `Authorization: Bearer <it>` (AdminTokenGuard). Empty: none. */
    MFSIM_ADMIN_TOKEN: z
      .string()
      .trim()
      .optional()
      .transform((t) => (t ? t : undefined))
      .pipe(z.string().min(8, 'expected at least 8 characters (or leave it empty for no token)').max(512).optional()),
    /** OpenTelemetry metrics and GET /metrics (Prometheus): on unless turned off. */
    MFSIM_METRICS: z.enum(['on', 'off'], { error: 'expected on or off' }).default('on'),
  });
}

/** Services listen on the loopback interface only, unless HTTP_HOST says otherwise. */
export const DEFAULT_HTTP_HOST = '127.0.0.1';

export type ServiceEnv = z.infer<ReturnType<typeof serviceEnvSchema>>;

export type ServiceEnvResult = { success: true; env: ServiceEnv } | { success: false; message: string };

/**
 * Parses the environment. A bad setting gives one line naming every bad variable:
 * `<service>: invalid configuration: <VAR>: <problem>; <VAR>: <problem>`.
 */
export function parseServiceEnv(identity: ServiceIdentity, source: NodeJS.ProcessEnv = process.env): ServiceEnvResult {
  const parsed = serviceEnvSchema(identity.defaultHttpPort).safeParse(source);
  if (parsed.success) {
    return { success: true, env: parsed.data };
  }
  const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  return { success: false, message: `${identity.service}: invalid configuration: ${problems.join('; ')}` };
}

/**
 * Parses the environment; on a bad setting prints the one line of parseServiceEnv and exits 1
 * (a stack trace would only hide the one fact an operator needs).
 */
export function loadServiceEnvOrExit(identity: ServiceIdentity, source: NodeJS.ProcessEnv = process.env): ServiceEnv {
  const result = parseServiceEnv(identity, source);
  if (result.success) {
    return result.env;
  }
  console.error(result.message);
  process.exit(1);
}
