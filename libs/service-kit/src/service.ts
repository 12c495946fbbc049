/** Names one service: its folder name (also its Kafka client id and consumer group) and HTTP port. */
export interface ServiceIdentity {
  /** The service folder name, e.g. `pmem-driver`. */
  service: string;
  /** `HTTP_PORT` when unset (docs/conventions.md, "Runtime configuration"). */
  defaultHttpPort: number;
}
