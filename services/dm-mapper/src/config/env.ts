import { z } from 'zod';

import { parseBrokers } from '@mfsim/messaging';

export const SERVICE_NAME = 'dm-mapper';
const DEFAULT_HTTP_PORT = 7103;

/** The service's runtime configuration (docs/conventions.md, "Runtime configuration"). */
const envSchema = z.object({
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
  HTTP_PORT: z.coerce.number().int().min(1).max(65535).default(DEFAULT_HTTP_PORT),
});

export type Env = z.infer<typeof envSchema>;

/**
 * Parses the environment; on a bad setting prints one line naming every bad variable and exits 1
 * (a stack trace would only hide the one fact an operator needs).
 */
export function loadEnvOrExit(source: NodeJS.ProcessEnv = process.env): Env {
  const parsed = envSchema.safeParse(source);
  if (parsed.success) {
    return parsed.data;
  }
  const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  console.error(`${SERVICE_NAME}: invalid configuration: ${problems.join('; ')}`);
  process.exit(1);
}
