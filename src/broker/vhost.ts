/**
 * A virtual host: its exchanges, queues and bindings, and every topology change
 * (declare, delete, bind, unbind, purge) as one method each. Changes arrive through
 * Broker.apply (a TopologyCommand, src/broker/commands.ts); each durable change is
 * reported back as the command that redoes it (VHostEvents.definitionChanged), which
 * is what the definitions log stores — cascades included (a queue's bindings going
 * with it, an auto-delete exchange losing its last binding, a queue expiring).
 * Permission checks are the caller's job (they depend on the user); existence,
 * equivalence, exclusivity and reserved-name rules are enforced here with
 * RabbitMQ's reply codes and texts.
 */
import type { FieldTable } from "../amqp/field-table.js";
import { AmqpError, COMMAND_INVALID, accessRefused, notFound, preconditionFailed, resourceLocked } from "../amqp/errors.js";
import type { MessageStore } from "../store/types.js";
import { argsInequivalence } from "./args.js";
import type { Exchange, Binding, Destination, ExchangeOptions } from "./exchanges/exchange.js";
import { DirectExchange } from "./exchanges/direct.js";
import { FanoutExchange } from "./exchanges/fanout.js";
import { TopicExchange } from "./exchanges/topic.js";
import { HeadersExchange } from "./exchanges/headers.js";
import { Queue, type DeadLetterReason, type QueueOptions, type QueueOwner } from "./queue.js";
import { parseQueueArgs, equivalenceArgs } from "./queue-args.js";

/** rabbit_exchange:assert_args_equivalence: the only exchange argument that must match on redeclare */
const EXCHANGE_EQUIVALENCE_ARGS = ["alternate-exchange"];
import type { QueueEntry } from "./message.js";
import { Router } from "./router.js";
import { deadLetterMessage } from "./dead-letter.js";
import type { AppliedPolicy } from "./policy.js";
import { checkQueueLimit } from "./limits.js";
import { command, type TopologyCommand } from "./commands.js";

export const EXCHANGE_TYPES = ["direct", "fanout", "topic", "headers"] as const;

/** Hooks the vhost calls out to: persistence of definitions, consumer cancellation. */
export interface VHostEvents {
  /** a durable definition changed (called after the change, with the command that redoes it) */
  definitionChanged(cmd: TopologyCommand): void;
  /**
   * A cluster member shares every definition, transient and exclusive ones too (other nodes
   * route to and list them); a single node reports durable ones only, for its definitions log.
   */
  readonly shareAll: boolean;
  /** queue deleted: cancel its consumers (server notifies clients) */
  queueDeleted(q: Queue): void;
  /** the policy in effect for a new queue or exchange */
  policyFor(vhost: string, kind: "queue" | "exchange", name: string, queueType?: string): AppliedPolicy | undefined;
  /** the vhost's max-queues limit, if one is set (limits.ts) */
  queueLimit(vhost: string): number | undefined;
}

export class VHost implements QueueOwner {
  readonly exchanges = new Map<string, Exchange>();
  readonly queues = new Map<string, Queue>();
  /** exclusive queues by owner (a connection): closing one never walks every queue of the vhost */
  private readonly exclusiveByOwner = new Map<object, Set<Queue>>();
  readonly router: Router;
  /** per-vhost message counters (management API) */
  stats = { publish: 0, deliver: 0, ack: 0, confirm: 0, returnUnroutable: 0, dropUnroutable: 0 };

  constructor(
    readonly name: string,
    private readonly store: MessageStore | null,
    private readonly events: VHostEvents,
    readonly meta: { description: string; tags: string[]; defaultQueueType?: string } = { description: "", tags: [] },
  ) {
    this.router = new Router(this);
    const sys = (n: string, t: string, internal = false) => this.exchanges.set(n, makeExchange(t, name, n, { durable: true, autoDelete: false, internal, arguments: {} }));
    sys("", "direct");
    sys("amq.direct", "direct");
    sys("amq.fanout", "fanout");
    sys("amq.topic", "topic");
    sys("amq.headers", "headers");
    sys("amq.match", "headers");
    sys("amq.rabbitmq.trace", "topic", true);
  }

  storeFor(): MessageStore | null {
    return this.store;
  }

  // ---- exchanges ---------------------------------------------------------

  getExchange(name: string): Exchange {
    const ex = this.exchanges.get(name);
    if (!ex) throw notFound(`no exchange '${name}' in vhost '${this.name}'`);
    return ex;
  }

  /** exchange.declare passive=true: a lookup, not a change */
  findExchangePassive(name: string): Exchange {
    name = stripCrLf(name);
    if (name === "") throw accessRefused(`operation not permitted on the default exchange`);
    return this.getExchange(name);
  }

  /** Reached through Broker.apply (exchange.declare). */
  declareExchange(name: string, type: string, opts: ExchangeOptions): Exchange {
    name = stripCrLf(name);
    const existing = this.exchanges.get(name);
    if (!(EXCHANGE_TYPES as readonly string[]).includes(type)) {
      // RabbitMQ treats an unknown type as a connection error
      throw new AmqpError(COMMAND_INVALID, `invalid exchange type '${type}'`, 0, 0, true);
    }
    if (name === "") throw accessRefused(`operation not permitted on the default exchange`);
    // for exchanges the rule applies to new names only (redeclaring amq.direct is fine)
    if (!existing) checkReservedName("exchange", name);
    if (existing) {
      const eq = (what: string, got: unknown, cur: unknown) => {
        if (got !== cur) throw preconditionFailed(`inequivalent arg '${what}' for exchange '${name}' in vhost '${this.name}': received '${String(got)}' but current is '${String(cur)}'`);
      };
      eq("type", type, existing.type);
      eq("durable", opts.durable, existing.durable);
      eq("auto_delete", opts.autoDelete, existing.autoDelete);
      eq("internal", opts.internal, existing.internal);
      // rabbit_exchange:assert_args_equivalence compares alternate-exchange only
      const diff = argsInequivalence(`exchange '${name}' in vhost '${this.name}'`, existing.options.arguments, opts.arguments, EXCHANGE_EQUIVALENCE_ARGS);
      if (diff) throw preconditionFailed(diff);
      return existing;
    }
    const ex = makeExchange(type, this.name, name, opts);
    this.applyExchangePolicy(ex);
    this.exchanges.set(name, ex);
    if (opts.durable || this.events.shareAll)
      this.events.definitionChanged(
        command("exchange.declare", { vhost: this.name, name, type, durable: opts.durable, autoDelete: opts.autoDelete, internal: opts.internal, arguments: opts.arguments }),
      );
    return ex;
  }

  deleteExchange(name: string, ifUnused: boolean): void {
    name = stripCrLf(name);
    if (name === "") throw accessRefused(`operation not permitted on the default exchange`);
    const ex = this.exchanges.get(name);
    if (!ex) return; // RabbitMQ: deleting a missing exchange succeeds
    if (name.startsWith("amq.")) throw accessRefused(`deletion of system exchange '${name}' in vhost '${this.name}' not allowed`);
    // "in use" means bindings with this exchange as the source (rabbit_binding:has_for_source)
    if (ifUnused && ex.bindings.size > 0) {
      throw preconditionFailed(`exchange '${name}' in vhost '${this.name}' in use`);
    }
    this.removeExchange(ex);
  }

  private removeExchange(ex: Exchange): void {
    for (const b of [...ex.bindings.values()]) this.removeBinding(b);
    for (const b of [...ex.incoming]) this.removeBinding(b);
    this.exchanges.delete(ex.name);
    if (ex.durable || this.events.shareAll) this.events.definitionChanged(command("exchange.delete", { vhost: this.name, name: ex.name }));
  }

  /** alternate-exchange from the exchange's arguments, else from its policy */
  applyExchangePolicy(ex: Exchange): void {
    const own = ex.options.arguments["alternate-exchange"];
    const p = this.events.policyFor(this.name, "exchange", ex.name);
    const fromPolicy = p?.definition["alternate-exchange"];
    ex.alternateExchange = typeof own === "string" ? own : typeof fromPolicy === "string" ? fromPolicy : undefined;
    ex.policy = p?.name;
  }

  /** Re-evaluate policies for everything in the vhost (a policy was set or cleared). */
  reapplyPolicies(): void {
    for (const q of this.queues.values()) q.applyPolicy(this.events.policyFor(this.name, "queue", q.name, q.settings.queueType));
    for (const ex of this.exchanges.values()) if (ex.name !== "" && !ex.name.startsWith("amq.")) this.applyExchangePolicy(ex);
  }

  // ---- queues ------------------------------------------------------------

  getQueue(name: string): Queue {
    const q = this.queues.get(name);
    if (!q) throw notFound(`no queue '${name}' in vhost '${this.name}'`);
    return q;
  }

  /** Exclusive queues are visible only to their owner connection. */
  checkExclusive(q: Queue, owner: object | null): void {
    if (q.exclusive && q.exclusiveOwner !== owner) throw this.locked(q);
  }

  private locked(q: Queue): AmqpError {
    return resourceLocked(
      `cannot obtain exclusive access to locked queue '${q.name}' in vhost '${this.name}'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.`,
    );
  }

  /** queue.declare passive=true: a lookup (it counts as use for x-expires), not a change */
  findQueuePassive(name: string, owner: object | null): Queue {
    const q = this.getQueue(stripCrLf(name));
    this.checkExclusive(q, owner);
    q.touch();
    return q;
  }

  /**
   * queue.declare, reached through Broker.apply. `reserved` is how the 'amq.*' name rule applies: "always" for AMQP clients
   * (rabbit_channel:check_name: a non-passive declare may not name an 'amq.*' queue, existing
   * or not), "new" for the management API, "never" for boot replay and definitions import
   * (durable server-named amq.gen-… queues come back). Server-named queues are exempt.
   * "never" also skips the queue-type argument check (a queue an older warren accepted is
   * replayed, not dropped).
   */
  declareQueue(name: string, opts: QueueOptions, owner: object | null, serverNamed: boolean, reserved: "always" | "new" | "never"): Queue {
    name = stripCrLf(name);
    if (reserved === "always" && !serverNamed) checkReservedName("queue", name);
    const existing = this.queues.get(name);
    if (existing) {
      // rabbit_amqqueue:check_exclusivity: the declared exclusive flag must match too
      // (an exclusive redeclare of a shared queue is refused like another owner's)
      if (existing.exclusive !== opts.exclusive) throw this.locked(existing);
      this.checkExclusive(existing, owner);
      this.checkQueueEquivalence(existing, opts);
      existing.touch();
      return existing;
    }
    if (reserved === "new" && !serverNamed) checkReservedName("queue", name);
    // boot replay and definitions import recreate what exists already: never refused by a limit
    if (reserved !== "never") checkQueueLimit(this.events.queueLimit(this.name), this.queues.size, this.name, name);
    // arguments, then the flags a quorum (or stream) queue refuses, as rabbit_amqqueue:declare checks them
    const settings = parseQueueArgs(opts.arguments, name, this.name, reserved !== "never", opts);
    const q = new Queue(this.name, name, opts, settings, this, this.store);
    if (opts.exclusive) {
      q.exclusiveOwner = owner;
      if (owner) {
        let set = this.exclusiveByOwner.get(owner);
        if (!set) this.exclusiveByOwner.set(owner, (set = new Set()));
        set.add(q);
      }
    }
    const policy = this.events.policyFor(this.name, "queue", name, settings.queueType);
    if (policy) q.applyPolicy(policy);
    this.queues.set(name, q);
    if (opts.durable && !opts.exclusive) {
      this.events.definitionChanged(command("queue.declare", { vhost: this.name, name, durable: true, autoDelete: opts.autoDelete, arguments: opts.arguments }));
    } else if (this.events.shareAll) {
      this.events.definitionChanged(command("queue.declare", { vhost: this.name, name, durable: opts.durable, exclusive: opts.exclusive, autoDelete: opts.autoDelete, arguments: opts.arguments }));
    }
    return q;
  }

  private checkQueueEquivalence(q: Queue, opts: QueueOptions): void {
    const fail = (what: string, got: unknown, cur: unknown) => {
      throw preconditionFailed(`inequivalent arg '${what}' for queue '${q.name}' in vhost '${this.name}': received '${String(got)}' but current is '${String(cur)}'`);
    };
    if (opts.durable !== q.durable) fail("durable", opts.durable, q.durable);
    if (opts.autoDelete !== q.autoDelete) fail("auto_delete", opts.autoDelete, q.autoDelete);
    // the queue type's own arguments are compared, x-queue-type among them (a quorum queue
    // redeclared without it is refused); only a classic queue's missing x-queue-type equals 'classic'
    // (rabbit_misc:assert_field_equivalence)
    let received = opts.arguments;
    const curType = q.arguments["x-queue-type"];
    const gotType = received["x-queue-type"];
    if (q.settings.queueType === "classic" && (curType === undefined) !== (gotType === undefined) && (curType ?? gotType) === "classic") {
      received = { ...received };
      if (curType === undefined) delete received["x-queue-type"];
      else received["x-queue-type"] = curType;
    }
    const diff = argsInequivalence(`queue '${q.name}' in vhost '${this.name}'`, q.arguments, received, equivalenceArgs(q.settings.queueType));
    if (diff) throw preconditionFailed(diff);
  }

  deleteQueue(name: string, ifUnused: boolean, ifEmpty: boolean, owner: object | null): number {
    name = stripCrLf(name);
    const q = this.queues.get(name);
    if (!q) return 0; // RabbitMQ: deleting a missing queue succeeds with message count 0
    this.checkExclusive(q, owner);
    if (ifUnused && q.consumers.length > 0) throw preconditionFailed(`queue '${name}' in vhost '${this.name}' in use`);
    if (ifEmpty && q.messageCount > 0) throw preconditionFailed(`queue '${name}' in vhost '${this.name}' not empty`);
    return this.removeQueue(q);
  }

  /** The exclusive queues `owner` declared that still exist. */
  exclusiveQueuesOf(owner: object): Queue[] {
    const set = this.exclusiveByOwner.get(owner);
    return set ? [...set] : [];
  }

  /** Delete without checks (exclusive owner gone, auto-delete, x-expires, vhost deletion). */
  removeQueue(q: Queue): number {
    if (q.deleted) return 0;
    for (const b of [...q.incoming]) this.removeBinding(b);
    this.queues.delete(q.name);
    if (q.exclusiveOwner) {
      const set = this.exclusiveByOwner.get(q.exclusiveOwner);
      if (set?.delete(q) && set.size === 0) this.exclusiveByOwner.delete(q.exclusiveOwner);
    }
    const n = q.destroy();
    this.events.queueDeleted(q);
    if ((q.durable && !q.exclusive) || this.events.shareAll) this.events.definitionChanged(command("queue.delete", { vhost: this.name, name: q.name }));
    return n;
  }

  autoDeleteQueue(q: Queue, _reason: string): void {
    this.removeQueue(q);
  }

  purgeQueue(name: string, owner: object | null): number {
    const q = this.getQueue(name);
    this.checkExclusive(q, owner);
    return q.purge();
  }

  // ---- bindings ----------------------------------------------------------

  private destination(kind: "queue" | "exchange", name: string): Destination {
    return kind === "queue" ? this.getQueue(name) : this.getExchange(name);
  }

  bind(kind: "queue" | "exchange", destName: string, source: string, routingKey: string, args: FieldTable, owner: object | null): void {
    destName = stripCrLf(destName);
    source = stripCrLf(source);
    checkNotDefaultExchange(kind, destName, source);
    const dest = this.destination(kind, destName);
    if (dest instanceof Queue) this.checkExclusive(dest, owner);
    const ex = this.getExchange(source);
    if (ex.type === "headers") validateXMatch(args);
    if (ex.bind(dest, routingKey, args) && this.isDurableBinding(ex, dest)) {
      this.events.definitionChanged(command("bind", { vhost: this.name, source, destination: destName, destinationType: kind, routingKey, arguments: args }));
    }
  }

  unbind(kind: "queue" | "exchange", destName: string, source: string, routingKey: string, args: FieldTable, owner: object | null): void {
    destName = stripCrLf(destName);
    source = stripCrLf(source);
    checkNotDefaultExchange(kind, destName, source);
    // RabbitMQ 3.10 answers unbind-ok when the binding, the destination or the source is missing
    const dest = kind === "queue" ? this.queues.get(destName) : this.exchanges.get(destName);
    if (dest === undefined) return;
    if (dest instanceof Queue) this.checkExclusive(dest, owner);
    const ex = this.exchanges.get(source);
    if (ex === undefined) return;
    const existed = ex.unbind(dest, routingKey, args);
    if (existed) {
      if (this.isDurableBinding(ex, dest)) this.events.definitionChanged(command("unbind", { vhost: this.name, source, destination: destName, destinationType: kind, routingKey, arguments: args }));
      this.maybeAutoDeleteExchange(ex);
    }
  }

  private removeBinding(b: Binding): void {
    b.source.removeBinding(b);
    if (this.isDurableBinding(b.source, b.destination)) {
      this.events.definitionChanged(
        command("unbind", { vhost: this.name, source: b.source.name, destination: b.destination.name, destinationType: b.destination.kind, routingKey: b.routingKey, arguments: b.arguments }),
      );
    }
    this.maybeAutoDeleteExchange(b.source);
  }

  private isDurableBinding(ex: Exchange, dest: Destination): boolean {
    if (this.events.shareAll) return true;
    if (!ex.durable) return false;
    if (dest instanceof Queue) return dest.durable && !dest.exclusive;
    return (dest as Exchange).durable;
  }

  private maybeAutoDeleteExchange(ex: Exchange): void {
    if (ex.autoDelete && ex.bindings.size === 0 && this.exchanges.get(ex.name) === ex) this.removeExchange(ex);
  }

  /** All bindings, including the default exchange's implicit ones (for listings). */
  *allBindings(): Generator<{ source: string; destination: string; destinationType: "queue" | "exchange"; routingKey: string; arguments: FieldTable }> {
    for (const q of this.queues.values()) yield { source: "", destination: q.name, destinationType: "queue", routingKey: q.name, arguments: {} };
    for (const ex of this.exchanges.values()) {
      for (const b of ex.bindings.values()) yield { source: ex.name, destination: b.destination.name, destinationType: b.destination.kind, routingKey: b.routingKey, arguments: b.arguments };
    }
  }

  // ---- dead-lettering ------------------------------------------------------

  deadLetter(q: Queue, entries: QueueEntry[], reason: DeadLetterReason): void {
    const dlx = q.settings.deadLetterExchange;
    if (dlx === undefined) return;
    const ex = this.exchanges.get(dlx);
    if (!ex) return; // RabbitMQ drops silently when the DLX does not exist
    for (const e of entries) {
      if (e.msg.body === null && e.msg.storeId !== 0 && this.store) e.msg.body = this.store.readBody(e.msg.storeId);
      const msg = deadLetterMessage(e.msg, q, reason, dlx);
      // a dead-lettered message cycling back into a queue without a rejection on the way is dropped (cycle detection)
      this.router.publish(ex, msg, msg.routingKey, reason);
    }
  }

  /** Drop everything (vhost deletion). */
  destroy(): void {
    for (const q of [...this.queues.values()]) this.removeQueue(q);
  }
}

/**
 * RabbitMQ strips CR and LF from queue and exchange names in declare, delete, bind
 * and unbind ("e\nxc\rhange" is "exchange"); publish, consume, get and purge use
 * names as sent.
 */
export function stripCrLf(name: string): string {
  return name.includes("\n") || name.includes("\r") ? name.replace(/[\r\n]/g, "") : name;
}

/** rabbit_channel:check_name: clients may not create (or, for queues, redeclare) 'amq.*' names. */
export function checkReservedName(kind: "queue" | "exchange", name: string): void {
  if (name.startsWith("amq.")) throw accessRefused(`${kind} name '${name}' contains reserved prefix 'amq.*'`);
}

/**
 * rabbit_channel:binding_action checks source and destination against the default
 * exchange before anything else (so before existence: 403, not 404).
 */
function checkNotDefaultExchange(kind: "queue" | "exchange", destName: string, source: string): void {
  if (source === "" || (kind === "exchange" && destName === "")) {
    throw accessRefused(`operation not permitted on the default exchange`);
  }
}

function validateXMatch(args: FieldTable): void {
  const m = args["x-match"];
  if (m === undefined) return;
  if (typeof m !== "string" || !["all", "any", "all-with-x", "any-with-x"].includes(m)) {
    throw preconditionFailed(`Invalid x-match field value ${JSON.stringify(String(m))}; expected all, any, all-with-x, or any-with-x`);
  }
}

export function makeExchange(type: string, vhost: string, name: string, opts: ExchangeOptions): Exchange {
  switch (type) {
    case "direct":
      return new DirectExchange(vhost, name, opts);
    case "fanout":
      return new FanoutExchange(vhost, name, opts);
    case "topic":
      return new TopicExchange(vhost, name, opts);
    case "headers":
      return new HeadersExchange(vhost, name, opts);
    default:
      throw new AmqpError(COMMAND_INVALID, `invalid exchange type '${type}'`, 0, 0, true);
  }
}
