/**
 * The RabbitMQ release whose behaviour warren follows: advertised as the AMQP server `version`
 * and as the management API's `rabbitmq_version`/`management_version`, so tools that branch on
 * it take their RabbitMQ 3.10 code paths.
 */
export const RABBITMQ_COMPAT_VERSION = "3.10.8";
