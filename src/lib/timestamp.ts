/** RabbitMQ's management-API timestamps (idle_since): ISO 8601 with milliseconds and an explicit +00:00 offset. */
export function rabbitTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace("Z", "+00:00");
}
